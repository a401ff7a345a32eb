// Building and querying the routing table (see routes.hpp).
#include "routes.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>

#include <ringgate/json/writer.hpp>
#include <ringgate/runtime/log.hpp>

namespace rg::gateway {
namespace {

std::string quote(std::string_view s) {
  std::string out(s.size() * 6 + 16, '\0');
  json::json_writer w(std::span<char>(out.data(), out.size()));
  w.string(s);
  out.resize(w.size());
  return out;
}

}  // namespace

std::expected<std::unique_ptr<route_table>, std::string> route_table::build(
    const config::config& cfg) {
  auto t = std::make_unique<route_table>();
  for (const auto& p : cfg.providers) {
    auto opts = upstream::parse_base_url(p.base_url);
    if (!opts) return std::unexpected("providers." + p.name + ".base_url: " + opts.error());
    opts->provider = p.name;
    opts->connect_timeout_ms = p.connect_timeout_ms;
    opts->first_byte_timeout_ms = p.first_byte_timeout_ms;
    opts->idle_timeout_ms = p.idle_timeout_ms;
    opts->total_timeout_ms = p.total_timeout_ms;
    opts->pool_idle_per_shard_max = p.pool.idle_max;
    opts->pool_idle_timeout_ms = p.pool.idle_timeout_ms;
    opts->pool_connections_per_shard_max = p.pool.connections_max;
    provider_route r;
    r.name = p.name;
    r.kind = p.kind;
    r.ep = std::make_unique<upstream::endpoint>(std::move(*opts));
    if (auto ok = r.ep->resolve(); !ok) {
      return std::unexpected("providers." + p.name + ": " + ok.error());
    }
    if (r.ep->options().tls) {
      std::vector<std::string> warnings;
      auto tc = tls::client_config::build({p.tls.ca_file, p.tls.insecure_skip_verify}, warnings);
      if (!tc) return std::unexpected("providers." + p.name + ".tls: " + tc.error());
      for (const auto& w : warnings) log::warn("provider TLS", {{"provider", p.name}, {"warning", w}});
      r.tls = std::move(*tc);
    }
    if (!p.api_key.empty()) r.header_lines = "authorization: Bearer " + p.api_key + "\r\n";
    for (const auto& [name, value] : p.headers) r.header_lines += name + ": " + value + "\r\n";
    for (std::string f : p.forward_headers) {
      bool prefix = f.ends_with('*');
      if (prefix) f.pop_back();
      for (char& ch : f) ch = char(std::tolower(static_cast<unsigned char>(ch)));
      r.forward.push_back({std::move(f), prefix});
    }
    t->_providers.push_back(std::move(r));
  }
  for (const auto& m : cfg.models) {
    if (m.targets.empty()) continue;
    // Weighted pools and fallbacks arrive with the resilience work; the first target serves now.
    const auto& target = m.targets.front();
    auto it = std::find_if(t->_providers.begin(), t->_providers.end(),
                           [&](const provider_route& p) { return p.name == target.provider; });
    if (it == t->_providers.end()) {
      return std::unexpected("models." + m.name + ": unknown provider " + target.provider);
    }
    model_route r;
    r.name = m.name;
    r.provider = uint32_t(it - t->_providers.begin());
    r.upstream_model = target.model;
    r.quoted_upstream = quote(target.model);
    r.rewrite = target.model != m.name;
    r.price = m.price;
    t->_models.push_back(std::move(r));
  }
  // GET /v1/models, in OpenAI's list shape.
  std::string buf(256 + 160 * t->_models.size(), '\0');
  json::json_writer w(std::span<char>(buf.data(), buf.size()));
  w.begin_object().key("object").string("list").key("data").begin_array();
  for (const auto& m : t->_models) {
    w.begin_object()
        .key("id").string(m.name)
        .key("object").string("model")
        .key("created").integer(0)
        .key("owned_by").string(t->_providers[m.provider].name)
        .end_object();
  }
  w.end_array().end_object();
  buf.resize(w.size());
  t->_models_json = std::move(buf);
  return t;
}

resolved_model route_table::resolve(std::string_view model,
                                    std::span<char> quote_scratch) const noexcept {
  resolved_model r;
  for (const auto& m : _models) {
    if (m.name == model) {
      r.provider = &_providers[m.provider];
      r.upstream_model = m.upstream_model;
      r.quoted_upstream = m.rewrite ? std::string_view(m.quoted_upstream) : std::string_view{};
      r.model = &m;
      return r;
    }
  }
  size_t slash = model.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == model.size()) return r;
  std::string_view provider = model.substr(0, slash);
  std::string_view rest = model.substr(slash + 1);
  for (const auto& p : _providers) {
    if (p.name != provider) continue;
    json::json_writer w(quote_scratch);
    w.string(rest);
    if (!w.ok()) return r;
    r.provider = &p;
    r.upstream_model = rest;
    r.quoted_upstream = w.view();
    return r;
  }
  return r;
}

void route_table::refresh_dns() const {
  for (const auto& p : _providers) {
    if (auto ok = p.ep->resolve(); !ok) {
      log::warn("dns refresh failed; keeping the previous address",
                {{"provider", p.name}, {"error", ok.error()}});
    }
  }
}

}  // namespace rg::gateway
