// Building and querying the routing table (see routes.hpp).
#include "routes.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <numeric>

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

constexpr uint64_t ms_ns(uint32_t ms) {
  return uint64_t(ms) * 1'000'000;
}

resilience::circuit_options circuit_of(const config::circuit_config& c) {
  resilience::circuit_options o;
  o.failures = c.failures;
  o.rate_percent = c.failure_rate_percent;
  o.min_requests = c.min_requests;
  o.window_ns = ms_ns(c.window_ms);
  o.cooldown_ns = ms_ns(c.cooldown_ms);
  o.probes = c.half_open_probes;
  return o;
}

resilience::retry_policy retry_of(const config::retry_config& r) {
  resilience::retry_policy p;
  p.attempts = std::max<uint32_t>(r.attempts, 1);
  p.backoff_base_ns = ms_ns(r.backoff_base_ms);
  p.backoff_max_ns = ms_ns(r.backoff_max_ms);
  p.max_retry_after_ns = ms_ns(r.max_retry_after_ms);
  p.budget_ns = ms_ns(r.budget_ms);
  p.on_timeout = r.on_timeout;
  for (uint32_t s : r.statuses) {
    if (s < p.statuses.size()) p.statuses.set(s);
  }
  return p;
}

resilience::balancer_kind balancer_of(std::string_view name) {
  if (name == "least_outstanding") return resilience::balancer_kind::least_outstanding;
  if (name == "p2c_ewma") return resilience::balancer_kind::p2c_ewma;
  return resilience::balancer_kind::weighted;
}

}  // namespace

std::expected<void, std::string> route_table::add_provider(const config::provider_config& p,
                                                           uint32_t shards) {
  provider_route r;
  r.name = p.name;
  r.quoted_name = quote(p.name);
  r.kind = p.kind;
  r.first_endpoint = uint32_t(_endpoints.size());
  std::vector<std::string> urls = p.base_urls;
  if (urls.empty()) urls.push_back(p.base_url);
  bool any_tls = false;
  for (size_t i = 0; i < urls.size(); ++i) {
    std::string key = p.base_urls.empty() ? ".base_url" : ".base_urls[" + std::to_string(i) + "]";
    auto opts = upstream::parse_base_url(urls[i]);
    if (!opts) return std::unexpected("providers." + p.name + key + ": " + opts.error());
    opts->provider = p.name;
    opts->connect_timeout_ms = p.connect_timeout_ms;
    opts->first_byte_timeout_ms = p.first_byte_timeout_ms;
    opts->idle_timeout_ms = p.idle_timeout_ms;
    opts->total_timeout_ms = p.total_timeout_ms;
    opts->pool_idle_per_shard_max = p.pool.idle_max;
    opts->pool_idle_timeout_ms = p.pool.idle_timeout_ms;
    opts->pool_connections_per_shard_max = p.pool.connections_max;
    any_tls |= opts->tls;
    endpoint_route e;
    e.ep = std::make_unique<upstream::endpoint>(std::move(*opts));
    if (auto ok = e.ep->resolve(); !ok) {
      return std::unexpected("providers." + p.name + key + ": " + ok.error());
    }
    e.state = std::make_unique<resilience::endpoint_state>(circuit_of(p.circuit),
                                                           p.max_concurrent_per_endpoint);
    e.provider = uint32_t(_providers.size());
    e.label = urls[i];
    _endpoints.push_back(std::move(e));
  }
  r.endpoint_count = uint32_t(urls.size());
  if (any_tls) {
    std::vector<std::string> warnings;
    auto tc = tls::client_config::build({p.tls.ca_file, p.tls.insecure_skip_verify}, warnings);
    if (!tc) return std::unexpected("providers." + p.name + ".tls: " + tc.error());
    for (const auto& w : warnings)
      log::warn("provider TLS", {{"provider", p.name}, {"warning", w}});
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
  r.gate = std::make_unique<provider_gate>(p.max_concurrent, p.queue_max, shards);
  r.on_full = p.on_full == "failover" ? full_policy::failover : full_policy::reject;
  r.queue_timeout_ns = ms_ns(p.queue_timeout_ms);
  r.health = p.health_check;
  r.health_thresholds = {p.health_check.unhealthy_after, p.health_check.healthy_after};
  // The provider/model form balances over the provider's endpoints by load.
  pool_route pool;
  pool.balancer = resilience::balancer_kind::least_outstanding;
  for (uint32_t i = 0; i < r.endpoint_count; ++i)
    add_member(pool, r.first_endpoint + i, UINT32_MAX, 1);
  _provider_pools.push_back(std::move(pool));
  _providers.push_back(std::move(r));
  return {};
}

void route_table::add_member(pool_route& pool, uint32_t endpoint, uint32_t target,
                             uint32_t weight) {
  pool.members.push_back({_endpoints[endpoint].state.get(), weight});
  pool.slots.push_back({endpoint, target});
}

std::expected<void, std::string> route_table::add_model(const config::config& cfg,
                                                        const config::model_config& m) {
  model_route r;
  r.name = m.name;
  r.quoted_name = quote(m.name);
  r.price = m.price;
  r.price_nano = governance::price::from(m.price);
  r.reserve_output_tokens = m.reserve_output_tokens;
  r.retry = retry_of(m.retry);
  r.hedge_after_ns = ms_ns(m.hedge_after_ms);
  r.pool.balancer = balancer_of(m.balancer);
  // Each target's weight is split evenly over its provider's endpoints: scale every weight by
  // the least common multiple of the endpoint counts so the split stays an integer.
  uint64_t scale = 1;
  for (const auto& t : m.targets) {
    auto it = std::find_if(_providers.begin(), _providers.end(),
                           [&](const provider_route& p) { return p.name == t.provider; });
    if (it == _providers.end()) {
      return std::unexpected("models." + m.name + ": unknown provider " + t.provider);
    }
    scale = std::lcm(scale, uint64_t(it->endpoint_count));
  }
  for (const auto& t : m.targets) {
    auto it = std::find_if(_providers.begin(), _providers.end(),
                           [&](const provider_route& p) { return p.name == t.provider; });
    uint32_t provider = uint32_t(it - _providers.begin());
    if (r.pool.targets.empty()) r.provider = provider;
    uint32_t index = uint32_t(r.pool.targets.size());
    r.pool.targets.push_back({provider, t.model, quote(t.model), t.model != m.name});
    if (t.weight == 0) continue;  // listed, but takes no traffic
    uint64_t w = uint64_t(t.weight) * (scale / it->endpoint_count);
    if (w > UINT32_MAX) return std::unexpected("models." + m.name + ": target weights too large");
    for (uint32_t e = 0; e < it->endpoint_count; ++e) {
      add_member(r.pool, it->first_endpoint + e, index, uint32_t(w));
    }
  }
  if (r.pool.members.size() > pool_route::members_max) {
    return std::unexpected("models." + m.name + ": more than " +
                           std::to_string(pool_route::members_max) + " target endpoints");
  }
  for (const auto& f : m.fallbacks) {
    for (uint32_t i = 0; i < cfg.models.size(); ++i) {
      if (cfg.models[i].name == f) r.fallbacks.push_back(i);
    }
  }
  _models.push_back(std::move(r));
  return {};
}

std::expected<std::unique_ptr<route_table>, std::string> route_table::build(
    const config::config& cfg, uint32_t shards) {
  auto t = std::make_unique<route_table>();
  for (const auto& p : cfg.providers) {
    if (auto ok = t->add_provider(p, shards); !ok) return std::unexpected(ok.error());
  }
  for (const auto& p : t->_provider_pools) {
    if (p.members.size() > pool_route::members_max) {
      return std::unexpected("a provider has more than " + std::to_string(pool_route::members_max) +
                             " endpoints");
    }
  }
  // Fallback indices are into cfg.models: every model is kept (none is skipped), so they match.
  for (const auto& m : cfg.models) {
    if (m.targets.empty()) return std::unexpected("models." + m.name + ": no targets");
    if (auto ok = t->add_model(cfg, m); !ok) return std::unexpected(ok.error());
  }
  for (auto& m : t->_models) {
    m.reserve_nano = m.price_nano;
    for (uint32_t f : m.fallbacks) {
      const model_route& fb = t->_models[f];
      if (!fb.price.present) continue;  // billed at this reservation's price (govern.cpp)
      m.reserve_nano.input = std::max(m.reserve_nano.input, fb.price_nano.input);
      m.reserve_nano.output = std::max(m.reserve_nano.output, fb.price_nano.output);
      m.reserve_nano.cached_input = std::max(m.reserve_nano.cached_input, fb.price_nano.cached_input);
    }
  }
  uint32_t wrr = 0;
  for (auto& m : t->_models) {
    m.pool.wrr_offset = wrr;
    wrr += uint32_t(m.pool.members.size());
  }
  for (auto& p : t->_provider_pools) {
    p.wrr_offset = wrr;
    wrr += uint32_t(p.members.size());
  }
  t->_wrr_slots = wrr;
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
      r.model = &m;
      r.pool = &m.pool;
      return r;
    }
  }
  size_t slash = model.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == model.size()) return r;
  std::string_view provider = model.substr(0, slash);
  std::string_view rest = model.substr(slash + 1);
  for (size_t i = 0; i < _providers.size(); ++i) {
    if (_providers[i].name != provider) continue;
    json::json_writer w(quote_scratch);
    w.string(rest);
    if (!w.ok()) return r;
    r.provider = &_providers[i];
    r.upstream_model = rest;
    r.quoted_upstream = w.view();
    r.pool = &_provider_pools[i];
    return r;
  }
  return r;
}

void route_table::refresh_dns() const {
  for (const auto& e : _endpoints) {
    if (auto ok = e.ep->resolve(); !ok) {
      log::warn(
          "dns refresh failed; keeping the previous address",
          {{"provider", e.ep->options().provider}, {"endpoint", e.label}, {"error", ok.error()}});
    }
  }
}

}  // namespace rg::gateway
