// The routing table, built once from the configuration on the control thread and then read by
// every shard without locks: providers and their endpoints (resolved addresses, shared state:
// in-flight counts, circuit breakers, latency, health), and public model names mapped to pools
// of weighted targets × endpoints, with their retry policy, hedging and fallbacks.
// Invariant: the structure never changes after build(); only the atomics inside the endpoint
// states and provider gates do.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <ringgate/config/config.hpp>
#include <ringgate/resilience/balancer.hpp>
#include <ringgate/resilience/endpoint_state.hpp>
#include <ringgate/resilience/health.hpp>
#include <ringgate/resilience/retry.hpp>
#include <ringgate/governance/budget.hpp>
#include <ringgate/tls/tls.hpp>
#include <ringgate/upstream/endpoint.hpp>

#include "bulkhead.hpp"
#include "headers.hpp"

namespace rg::gateway {

// One upstream address of a provider (its base_url, or one of its base_urls).
struct endpoint_route {
  std::unique_ptr<upstream::endpoint> ep;
  std::unique_ptr<resilience::endpoint_state> state;
  uint32_t provider = 0;  // index into providers
  std::string label;      // its base_url: the "endpoint" label of metrics and /admin/providers
};

enum class full_policy : uint8_t { reject, failover };

struct provider_route {
  std::string name;
  std::string quoted_name;  // its JSON string token, for the access line
  std::string kind;
  // https base_url: the shared, read-only client configuration (CA chain, verification policy).
  std::unique_ptr<tls::client_config> tls;
  // "authorization: Bearer KEY\r\n" plus configured extra headers, ready to append. Secret:
  // never logged.
  std::string header_lines;
  // Extra client headers forwarded (lowercase names; `prefix` when configured with a trailing *).
  std::vector<forward_rule> forward;
  uint32_t first_endpoint = 0;  // its endpoints: route_table::endpoints()[first, first + count)
  uint32_t endpoint_count = 0;
  std::unique_ptr<provider_gate> gate;  // max_concurrent and its wait queue
  full_policy on_full = full_policy::reject;
  uint64_t queue_timeout_ns = 0;
  config::health_check_config health;
  resilience::health_options health_thresholds;
};

// A model's upstream model on one provider.
struct target_route {
  uint32_t provider = 0;
  std::string upstream_model;
  std::string quoted_upstream;  // JSON string token, e.g. "\"gpt-4o-mini\""
  bool rewrite = false;         // differs from the public name
};

// What a balancer chooses among: every target × its provider's endpoints. A target's weight is
// split evenly over its endpoints.
struct pool_route {
  struct slot {
    uint32_t endpoint = 0;         // index into route_table::endpoints()
    uint32_t target = UINT32_MAX;  // index into targets; none for a provider's own pool
  };
  static constexpr size_t members_max = 64;  // per pool (masks of tried members are 64-bit)
  std::vector<resilience::member> members;   // the balancer's view, parallel to slots
  std::vector<slot> slots;
  std::vector<target_route> targets;
  resilience::balancer_kind balancer = resilience::balancer_kind::weighted;
  uint32_t wrr_offset = 0;  // this pool's run of each shard's smooth-WRR weights
};

struct model_route {
  std::string name;       // public name
  std::string quoted_name;  // its JSON string token, for the access line
  uint32_t provider = 0;  // the first target's provider: the model's "provider" metric label
  config::model_price price;
  pool_route pool;
  resilience::retry_policy retry;
  uint64_t hedge_after_ns = 0;      // 0 = no hedging
  std::vector<uint32_t> fallbacks;  // indices into models, tried in order
  // Governance: the price in integer nano-dollars (meaningful only when price.present: a model
  // without a price table is unpriced, its cost unknown, not zero), and the output tokens
  // reserved at admission when a request gives no max_tokens.
  governance::price price_nano;
  const governance::price* priced() const noexcept { return price.present ? &price_nano : nullptr; }
  // Admission reserves at the worst price the request can be billed at: each component's maximum
  // over this model and its priced fallbacks (a fallback may cost more than the model asked for).
  governance::price reserve_nano;
  const governance::price* reserve_priced() const noexcept {
    return price.present ? &reserve_nano : nullptr;
  }
  uint32_t reserve_output_tokens = 4096;
};

// The outcome of resolving a request's model.
struct resolved_model {
  const provider_route* provider = nullptr;  // primary provider; null when the model is unknown
  std::string_view upstream_model;           // provider/model form: what follows the slash
  std::string_view quoted_upstream;          // provider/model form: its JSON token
  const model_route* model = nullptr;        // null for the provider/model form
  const pool_route* pool = nullptr;
};

class route_table {
 public:
  // Resolves every endpoint's host (blocking DNS: control thread only). `shards`: how many
  // shards will read it (sizes the cross-shard wait queues).
  static std::expected<std::unique_ptr<route_table>, std::string> build(const config::config& cfg,
                                                                        uint32_t shards = 1);

  // "public-name" or "provider/upstream-model". `quote_scratch` (≥ 260 bytes) holds the quoted
  // upstream model for the provider/model form. provider == nullptr when unknown.
  resolved_model resolve(std::string_view model, std::span<char> quote_scratch) const noexcept;

  const std::vector<provider_route>& providers() const noexcept { return _providers; }
  const std::vector<endpoint_route>& endpoints() const noexcept { return _endpoints; }
  const std::vector<model_route>& models() const noexcept { return _models; }
  std::span<const endpoint_route> endpoints_of(const provider_route& p) const noexcept {
    return {_endpoints.data() + p.first_endpoint, p.endpoint_count};
  }
  // Smooth-WRR running weights each shard keeps (the sum of every pool's members).
  uint32_t wrr_slots() const noexcept { return _wrr_slots; }
  // GET /v1/models body, rendered once.
  std::string_view models_json() const noexcept { return _models_json; }
  // The default policy of requests without a configured model (the provider/model form).
  const resilience::retry_policy& default_retry() const noexcept { return _default_retry; }
  // Re-resolves every endpoint host (control thread, periodically).
  void refresh_dns() const;

 private:
  std::expected<void, std::string> add_provider(const config::provider_config& p, uint32_t shards);
  std::expected<void, std::string> add_model(const config::config& cfg,
                                             const config::model_config& m);
  void add_member(pool_route& pool, uint32_t endpoint, uint32_t target, uint32_t weight);

  std::vector<provider_route> _providers;
  std::vector<endpoint_route> _endpoints;
  std::vector<model_route> _models;
  std::vector<pool_route> _provider_pools;  // per provider: its endpoints, for provider/model
  resilience::retry_policy _default_retry = resilience::retry_policy::defaults();
  uint32_t _wrr_slots = 0;
  std::string _models_json;
};

}  // namespace rg::gateway
