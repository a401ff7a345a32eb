// The resilience metric families and their scrape-time gauges (see metrics_resilience.hpp).
#include "metrics_resilience.hpp"

#include <string>
#include <vector>

#include <ringgate/runtime/clock.hpp>

#include "routes.hpp"

namespace rg::gateway {
namespace {

using series_list = std::vector<std::vector<std::string>>;

constexpr std::string_view retry_reasons[] = {"stale_connection", "connect_error", "reset",
                                              "timeout", "status", "pool_exhausted"};
constexpr std::string_view hedge_events[] = {"started", "won", "cancelled"};
constexpr std::string_view queue_results[] = {"admitted", "timeout", "full"};
constexpr std::string_view refusals[] = {"no_endpoint", "saturated"};
constexpr std::string_view transitions[] = {"open", "half_open", "closed"};
constexpr std::string_view check_results[] = {"passed", "failed"};
static_assert(std::size(retry_reasons) == size_t(retry_reason::count_));
static_assert(std::size(hedge_events) == size_t(hedge_event::count_));
static_assert(std::size(queue_results) == size_t(queue_result::count_));
static_assert(std::size(refusals) == size_t(refusal::count_));

// Every series of `base` crossed with each of `values`, in that order.
template <size_t N>
series_list crossed(const series_list& base, const std::string_view (&values)[N]) {
  series_list out;
  for (const auto& s : base) {
    for (auto v : values) {
      out.push_back(s);
      out.back().emplace_back(v);
    }
  }
  return out;
}

// `{provider="p",endpoint="url"}` for an endpoint.
std::string endpoint_labels(const route_table& routes, const endpoint_route& e) {
  std::string out = "{provider=\"";
  observe::append_escaped_label_value(out, routes.providers()[e.provider].name);
  out += "\",endpoint=\"";
  observe::append_escaped_label_value(out, e.label);
  out += "\"}";
  return out;
}

// One gauge family: HELP, TYPE and a sample per label set, valued by `value(i)`.
template <class Value>
void gauges(std::string& out, std::string_view name, std::string_view help,
            const std::vector<std::string>& labels, Value&& value) {
  observe::append_help_type(out, name, help, "gauge");
  for (size_t i = 0; i < labels.size(); ++i) {
    out += name;
    out += labels[i];
    out += ' ';
    observe::append_value(out, double(value(i)));
    out += '\n';
  }
}

void expose_gauges(const route_table& routes, std::string& out) {
  uint64_t now = runtime::monotonic_ns();
  const auto& eps = routes.endpoints();
  const auto& provs = routes.providers();
  std::vector<std::string> labels, plabels;
  for (const auto& e : eps) labels.push_back(endpoint_labels(routes, e));
  for (const auto& p : provs) {
    std::string l = "{provider=\"";
    observe::append_escaped_label_value(l, p.name);
    plabels.push_back(l + "\"}");
  }
  gauges(out, "ringgate_circuit_state",
         "Circuit breaker state per endpoint: 0 closed, 1 half-open, 2 open.", labels,
         [&](size_t i) { return uint32_t(eps[i].state->breaker.state(now)); });
  gauges(out, "ringgate_endpoint_in_flight", "Requests in flight to the endpoint, across shards.",
         labels, [&](size_t i) { return eps[i].state->in_flight.used(); });
  gauges(out, "ringgate_endpoint_healthy",
         "1 when the endpoint passes its active health checks (or has none).", labels,
         [&](size_t i) { return eps[i].state->healthy.load(std::memory_order_relaxed) ? 1 : 0; });
  gauges(out, "ringgate_provider_in_flight",
         "Requests in flight to the provider (its max_concurrent bulkhead).", plabels,
         [&](size_t i) { return provs[i].gate->slots().used(); });
  gauges(out, "ringgate_bulkhead_queue_depth",
         "Requests waiting for a slot of the provider, across shards.", plabels,
         [&](size_t i) { return provs[i].gate->waiting(); });
}

}  // namespace

void resilience_metrics::add(observe::registry& reg, const route_table& routes) {
  series_list providers, models, endpoints, targets;
  for (const auto& p : routes.providers()) providers.push_back({p.name});
  for (const auto& m : routes.models()) models.push_back({m.name});
  for (const auto& e : routes.endpoints()) {
    endpoints.push_back({routes.providers()[e.provider].name, e.label});
  }
  targets = models;
  for (const auto& p : routes.providers()) targets.push_back({p.name + "/*"});

  _retries = reg.add({"ringgate_retries_total",
                      "Upstream attempts after the first, by the failed attempt's provider and "
                      "why (stale_connection: a pooled connection the server had closed, "
                      "replaced invisibly).",
                      observe::metric_type::counter,
                      {"provider", "reason"},
                      crossed(providers, retry_reasons),
                      true});
  _fallbacks = reg.add({"ringgate_fallbacks_total",
                        "Requests that went on to a fallback model, by the model asked for.",
                        observe::metric_type::counter,
                        {"model"},
                        models,
                        true});
  _transitions = reg.add({"ringgate_circuit_transitions_total",
                          "Circuit breaker transitions per endpoint, by the state entered.",
                          observe::metric_type::counter,
                          {"provider", "endpoint", "to"},
                          crossed(endpoints, transitions)});
  _hedges = reg.add({"ringgate_hedges_total",
                     "Hedged requests: second attempts started, won by the second, and losing "
                     "attempts cancelled (their connection closed).",
                     observe::metric_type::counter,
                     {"model", "event"},
                     crossed(models, hedge_events)});
  _queue = reg.add({"ringgate_bulkhead_queue_total",
                    "Requests that found their provider at max_concurrent and waited "
                    "(admitted, timeout) or found its queue full.",
                    observe::metric_type::counter,
                    {"provider", "result"},
                    crossed(providers, queue_results)});
  _queue_wait = reg.add({"ringgate_bulkhead_queue_wait_seconds",
                         "Time spent waiting in a provider's queue.",
                         observe::metric_type::histogram,
                         {"provider"},
                         providers});
  _refused = reg.add({"ringgate_requests_refused_total",
                      "Requests answered without an attempt: no_endpoint (503, every circuit "
                      "open or endpoint unhealthy) or saturated (429, at the concurrency limit).",
                      observe::metric_type::counter,
                      {"model", "reason"},
                      crossed(targets, refusals)});
  _health_checks = reg.add({"ringgate_health_checks_total",
                            "Active health checks per endpoint, by result.",
                            observe::metric_type::counter,
                            {"provider", "endpoint", "result"},
                            crossed(endpoints, check_results)});
  reg.add_hook([&routes](std::string& out) { expose_gauges(routes, out); });
}

}  // namespace rg::gateway
