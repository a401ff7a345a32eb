// The routing table, built once from the configuration on the control thread and then read by
// every shard without locks: providers (with their resolved endpoints and pre-rendered upstream
// header lines) and public model names mapped to a provider and an upstream model.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <ringgate/config/config.hpp>
#include <ringgate/tls/tls.hpp>
#include <ringgate/upstream/endpoint.hpp>

#include "headers.hpp"

namespace rg::gateway {

struct provider_route {
  std::string name;
  std::string kind;
  std::unique_ptr<upstream::endpoint> ep;
  // https base_url: the shared, read-only client configuration (CA chain, verification policy).
  std::unique_ptr<tls::client_config> tls;
  // "authorization: Bearer KEY\r\n" plus configured extra headers, ready to append. Secret:
  // never logged.
  std::string header_lines;
  // Extra client headers forwarded (lowercase names; `prefix` when configured with a trailing *).
  std::vector<forward_rule> forward;
};

struct model_route {
  std::string name;       // public name
  uint32_t provider = 0;  // index into providers
  std::string upstream_model;
  std::string quoted_upstream;  // JSON string token, e.g. "\"gpt-4o-mini\""
  bool rewrite = false;         // upstream model differs from the public name
  config::model_price price;
};

// The outcome of resolving a request's model.
struct resolved_model {
  const provider_route* provider = nullptr;
  std::string_view upstream_model;
  std::string_view quoted_upstream;    // empty: no rewrite
  const model_route* model = nullptr;  // null for the provider/model form
};

class route_table {
 public:
  // Resolves every provider's host (blocking DNS: control thread only).
  static std::expected<std::unique_ptr<route_table>, std::string> build(const config::config& cfg);

  // "public-name" or "provider/upstream-model". `quote_scratch` (≥ 260 bytes) holds the quoted
  // upstream model for the provider/model form. nullopt-like: provider == nullptr when unknown.
  resolved_model resolve(std::string_view model, std::span<char> quote_scratch) const noexcept;

  const std::vector<provider_route>& providers() const noexcept { return _providers; }
  const std::vector<model_route>& models() const noexcept { return _models; }
  // GET /v1/models body, rendered once.
  std::string_view models_json() const noexcept { return _models_json; }
  // Re-resolves every provider host (control thread, periodically).
  void refresh_dns() const;

 private:
  std::vector<provider_route> _providers;
  std::vector<model_route> _models;
  std::string _models_json;
};

}  // namespace rg::gateway
