// The admin endpoints: /metrics, /admin/config (secrets redacted) and /admin/providers (each
// endpoint's shared state: circuit, health, requests in flight).
#include "admin.hpp"

#include <sys/uio.h>

#include <vector>

#include <ringgate/json/writer.hpp>
#include <ringgate/net/socket.hpp>
#include <ringgate/runtime/clock.hpp>

#include "metrics.hpp"
#include "routes.hpp"

namespace rg::gateway {
namespace {

constexpr std::string_view redacted = "[redacted]";

// Sends `body` with its head; large bodies go straight to the socket, not through the buffer.
runtime::task<void> answer(httpd::exchange& ex, uint16_t status, std::string_view content_type,
                           const std::string& body, std::string_view extra_headers) {
  bool head_only = ex.head().meth == http::method::head;
  if (!ex.out().head(status, content_type, uint64_t(body.size()), ex.mode(), ex.head().ver,
                     extra_headers)) {
    ex.error(500, "response head too large", "internal_error");
    co_return;
  }
  if (head_only || body.empty()) co_return;
  iovec iov{const_cast<char*>(body.data()), body.size()};
  int rc = co_await ex.send(std::span<iovec>(&iov, 1));
  if (rc < 0) ex.force_close();
}

constexpr std::string_view circuit_names[] = {"closed", "half_open", "open"};

// Each provider with its limits and pools, and each of its endpoints with the shared state every
// shard sees: circuit, health, requests in flight, latency.
std::string providers_json(const route_table& routes, const gateway_metrics* metrics) {
  std::vector<char> buf(64 * 1024 + routes.providers().size() * 1024 +
                        routes.endpoints().size() * 1024);
  json::json_writer w(buf);
  uint64_t now = runtime::monotonic_ns();
  w.begin_object().key("providers").begin_array();
  for (uint32_t i = 0; i < routes.providers().size(); ++i) {
    const provider_route& p = routes.providers()[i];
    w.begin_object();
    w.key("name").string(p.name);
    w.key("kind").string(p.kind);
    w.key("in_flight").unsigned_integer(p.gate->slots().used());
    w.key("max_concurrent").unsigned_integer(p.gate->slots().max());
    w.key("queued").unsigned_integer(p.gate->waiting());
    w.key("endpoints").begin_array();
    for (const auto& e : routes.endpoints_of(p)) {
      const auto& o = e.ep->options();
      const auto& st = *e.state;
      w.begin_object();
      w.key("base_url").string(e.label);
      w.key("host").string(o.host);
      w.key("port").unsigned_integer(o.port);
      w.key("tls").boolean(o.tls);
      net::address a;
      if (e.ep->address(a)) {
        w.key("address").string(net::format_address(a.sa()));
      } else {
        w.key("address").null();
      }
      w.key("circuit").string(circuit_names[size_t(st.breaker.state(now))]);
      w.key("consecutive_failures").unsigned_integer(st.breaker.consecutive_failures());
      w.key("healthy").boolean(st.healthy.load(std::memory_order_relaxed));
      w.key("in_flight").unsigned_integer(st.in_flight.used());
      w.key("ttfb_ewma_ms").number(double(st.ttfb.current(now)) / 1e6);
      w.end_object();
    }
    w.end_array();
    // Every shard's pools for the provider's endpoints, summed from the figures each shard
    // mirrors into its metric block.
    w.key("pool");
    if (metrics) {
      gateway_metrics::pool_figures f = metrics->pool_totals(i);
      w.begin_object();
      w.key("idle").unsigned_integer(f.idle);
      w.key("active").unsigned_integer(f.active);
      w.key("connects").unsigned_integer(f.connects);
      w.end_object();
    } else {
      w.null();
    }
    w.end_object();
  }
  w.end_array().end_object();
  return std::string(w.view());
}

}  // namespace

std::string redacted_config_json(const config::config& c) {
  size_t est =
      64 * 1024 + c.providers.size() * 4096 + c.models.size() * 2048 + c.keys.size() * 1024;
  std::vector<char> buf(est);
  json::json_writer w(buf);
  w.begin_object();
  w.key("source").string(c.source);
  w.key("server").begin_object();
  w.key("listen").string(c.server.listen);
  w.key("shards").unsigned_integer(c.server.shards);
  w.key("drain_timeout_ms").unsigned_integer(c.server.drain_timeout_ms);
  w.key("tls_cert").string(c.server.tls_cert);
  w.key("tls_key").string(c.server.tls_key.empty() ? std::string_view{} : redacted);
  w.end_object();
  w.key("admin").begin_object();
  w.key("listen").string(c.admin.listen);
  w.key("expose_on_data").boolean(c.admin.expose_on_data);
  w.key("metrics").boolean(c.admin.metrics);
  w.end_object();
  w.key("log").begin_object();
  w.key("access_log").boolean(c.log.access_log);
  w.key("access_file").string(c.log.access_file);
  w.end_object();
  w.key("providers").begin_array();
  for (const auto& p : c.providers) {
    w.begin_object();
    w.key("name").string(p.name);
    w.key("kind").string(p.kind);
    w.key("base_url").string(p.base_url);
    w.key("base_urls").begin_array();
    for (const auto& u : p.base_urls) w.string(u);
    w.end_array();
    w.key("api_key").string(p.api_key.empty() ? std::string_view{} : redacted);
    w.key("headers").begin_object();
    for (const auto& [name, value] : p.headers) w.key(name).string(redacted);
    w.end_object();
    w.key("forward_headers").begin_array();
    for (const auto& f : p.forward_headers) w.string(f);
    w.end_array();
    w.key("tls").begin_object();
    w.key("ca_file").string(p.tls.ca_file);
    w.key("insecure_skip_verify").boolean(p.tls.insecure_skip_verify);
    w.end_object();
    w.key("max_concurrent").unsigned_integer(p.max_concurrent);
    w.key("max_concurrent_per_endpoint").unsigned_integer(p.max_concurrent_per_endpoint);
    w.key("queue_max").unsigned_integer(p.queue_max);
    w.key("queue_timeout_ms").unsigned_integer(p.queue_timeout_ms);
    w.key("on_full").string(p.on_full);
    w.key("circuit").begin_object();
    w.key("failures").unsigned_integer(p.circuit.failures);
    w.key("failure_rate_percent").unsigned_integer(p.circuit.failure_rate_percent);
    w.key("min_requests").unsigned_integer(p.circuit.min_requests);
    w.key("window_ms").unsigned_integer(p.circuit.window_ms);
    w.key("cooldown_ms").unsigned_integer(p.circuit.cooldown_ms);
    w.key("half_open_probes").unsigned_integer(p.circuit.half_open_probes);
    w.end_object();
    w.key("health_check").begin_object();
    w.key("path").string(p.health_check.path);
    w.key("interval_ms").unsigned_integer(p.health_check.interval_ms);
    w.key("timeout_ms").unsigned_integer(p.health_check.timeout_ms);
    w.key("unhealthy_after").unsigned_integer(p.health_check.unhealthy_after);
    w.key("healthy_after").unsigned_integer(p.health_check.healthy_after);
    w.end_object();
    w.key("connect_timeout_ms").unsigned_integer(p.connect_timeout_ms);
    w.key("first_byte_timeout_ms").unsigned_integer(p.first_byte_timeout_ms);
    w.key("idle_timeout_ms").unsigned_integer(p.idle_timeout_ms);
    w.key("total_timeout_ms").unsigned_integer(p.total_timeout_ms);
    w.end_object();
  }
  w.end_array();
  w.key("models").begin_array();
  for (const auto& m : c.models) {
    w.begin_object();
    w.key("name").string(m.name);
    w.key("targets").begin_array();
    for (const auto& t : m.targets) {
      w.begin_object();
      w.key("provider").string(t.provider);
      w.key("model").string(t.model);
      w.key("weight").unsigned_integer(t.weight);
      w.end_object();
    }
    w.end_array();
    w.key("fallbacks").begin_array();
    for (const auto& f : m.fallbacks) w.string(f);
    w.end_array();
    if (m.price.present) {
      w.key("price").begin_object();
      w.key("input_per_mtok").number(m.price.input_per_mtok);
      w.key("output_per_mtok").number(m.price.output_per_mtok);
      w.key("cached_input_per_mtok").number(m.price.cached_input());
      w.end_object();
    } else {
      w.key("price").null();  // unpriced: no cost is counted, budgeted keys may not use it
    }
    w.key("balancer").string(m.balancer);
    w.key("retry").begin_object();
    w.key("attempts").unsigned_integer(m.retry.attempts);
    w.key("backoff_base_ms").unsigned_integer(m.retry.backoff_base_ms);
    w.key("backoff_max_ms").unsigned_integer(m.retry.backoff_max_ms);
    w.key("max_retry_after_ms").unsigned_integer(m.retry.max_retry_after_ms);
    w.key("budget_ms").unsigned_integer(m.retry.budget_ms);
    w.key("statuses").begin_array();
    for (uint32_t st : m.retry.statuses) w.unsigned_integer(st);
    w.end_array();
    w.key("on_timeout").boolean(m.retry.on_timeout);
    w.end_object();
    w.key("hedge_after_ms").unsigned_integer(m.hedge_after_ms);
    w.key("reserve_output_tokens").unsigned_integer(m.reserve_output_tokens);
    w.end_object();
  }
  w.end_array();
  // Governance: keys (their hashes redacted), auth and the usage ledger.
  w.key("keys").begin_array();
  for (const auto& k : c.keys) {
    w.begin_object();
    w.key("name").string(k.name);
    w.key("sha256").string(redacted);
    w.key("models").begin_array();
    for (const auto& m : k.models) w.string(m);
    w.end_array();
    w.key("rpm").unsigned_integer(k.rpm);
    w.key("tpm").unsigned_integer(k.tpm);
    w.key("max_concurrent").unsigned_integer(k.max_concurrent);
    w.key("budget_usd").number(k.budget_usd);
    w.key("budget_period").string(k.budget_period);
    w.key("tags").begin_array();
    for (const auto& t : k.tags) w.string(t);
    w.end_array();
    w.end_object();
  }
  w.end_array();
  w.key("auth").begin_object();
  w.key("required").boolean(c.auth.required);
  w.end_object();
  w.key("usage").begin_object();
  w.key("file").string(c.usage.file);
  w.key("flush_interval_ms").unsigned_integer(c.usage.flush_interval_ms);
  w.key("queue_rows").unsigned_integer(c.usage.queue_rows);
  w.end_object();
  w.end_object();
  return w.complete() ? std::string(w.view()) : std::string("{\"error\":\"config too large\"}");
}

runtime::task<void> admin_handler::serve(httpd::exchange& ex, std::string_view extra_headers) {
  std::string_view path = ex.head().path();
  bool known = path == "/metrics" || path == "/admin/config" || path == "/admin/providers";
  if (!known) {
    ex.error(404, "no route for this path", "not_found", extra_headers);
    co_return;
  }
  if (ex.head().meth != http::method::get && ex.head().meth != http::method::head) {
    std::string lines = "allow: GET, HEAD\r\n";
    lines += extra_headers;
    ex.error(405, "method not allowed", "method_not_allowed", lines);
    co_return;
  }
  if (path == "/metrics") {
    if (!_metrics) {
      ex.error(404, "metrics are off ([admin] metrics = false)", "not_found", extra_headers);
      co_return;
    }
    std::string body = _metrics->expose();
    co_await answer(ex, 200, "text/plain; version=0.0.4; charset=utf-8", body, extra_headers);
  } else if (path == "/admin/config") {
    std::string body = redacted_config_json(_cfg);
    co_await answer(ex, 200, "application/json", body, extra_headers);
  } else {
    std::string body = providers_json(_routes, _metrics);
    co_await answer(ex, 200, "application/json", body, extra_headers);
  }
}

}  // namespace rg::gateway
