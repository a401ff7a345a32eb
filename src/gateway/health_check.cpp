// Active health checks (see health_check.hpp). A check passes on a 2xx answer to GET <path>
// within timeout_ms, connect included, on a fresh connection (so a stale pooled one never fails
// it); the provider's headers (its key) go with it, to its own endpoint only.
#include "health_check.hpp"

#include <cstdio>

#include <ringgate/http/response_parser.hpp>
#include <ringgate/runtime/clock.hpp>
#include <ringgate/runtime/log.hpp>

#include "handler.hpp"
#include "routes.hpp"

namespace rg::gateway {

using net::read_status;

health_checker::probe::probe(shard_handler& h, const endpoint_route& e,
                             const resilience::health_options& o)
    : endpoint(e), tracker(o), alarm(h.shard()) {
  connect_deadline.set_callback(&health_checker::on_connect_deadline, this);
}

void health_checker::on_connect_deadline(runtime::timer&, void* ctx) noexcept {
  auto* p = static_cast<probe*>(ctx);
  p->cut_while_queued = p->cancel.waiting != nullptr;
  p->cancel.cancel();
}

health_checker::health_checker(shard_handler& h, uint32_t shard_count)
    : _h(h), _shard_count(shard_count ? shard_count : 1) {}

health_checker::~health_checker() {
  for (const auto& p : _probes) {
    if (p->running)
      log::error("health check still running at shutdown", {{"endpoint", p->endpoint.label}});
  }
}

runtime::task<void> check_loop(health_checker& hc, health_checker::probe& p) {
  const provider_route& prov = hc._h.routes().providers()[p.endpoint.provider];
  while (!hc._stopping) {
    std::optional<bool> passed = co_await hc.check_once(p);
    if (hc._stopping) break;
    if (passed) hc.publish(p, *passed);
    co_await p.alarm.wait_until(hc._h.shard().now_ns() +
                                runtime::ms_to_ns(prov.health.interval_ms));
  }
  p.running = false;
}

void health_checker::start() {
  const route_table& routes = _h.routes();
  for (size_t i = 0; i < routes.endpoints().size(); ++i) {
    const endpoint_route& e = routes.endpoints()[i];
    const provider_route& prov = routes.providers()[e.provider];
    if (prov.health.path.empty() || i % _shard_count != _h.shard().id()) continue;
    _probes.push_back(std::make_unique<probe>(_h, e, prov.health_thresholds));
  }
  for (auto& p : _probes) {
    p->running = true;
    runtime::spawn(check_loop(*this, *p));
  }
}

void health_checker::drain() noexcept {
  _stopping = true;
  for (auto& p : _probes) {
    p->cancel.cancel();
    if (p->conn) p->conn->io.abort();
    p->alarm.wake();
  }
}

runtime::task<std::optional<bool>> health_checker::check_once(probe& p) {
  const auto& opts = p.endpoint.ep->options();
  const provider_route& prov = _h.routes().providers()[p.endpoint.provider];
  char req[4096];
  int n = snprintf(req, sizeof(req),
                   "GET %s HTTP/1.1\r\nhost: %s\r\n%suser-agent: ringgate-health-check\r\n"
                   "accept: */*\r\n\r\n",
                   prov.health.path.c_str(), opts.host_header.c_str(), prov.header_lines.c_str());
  if (n <= 0 || size_t(n) >= sizeof(req)) co_return false;
  upstream::pool& pool = _h.pool_for(p.endpoint);
  uint64_t deadline = _h.shard().now_ns() + runtime::ms_to_ns(prov.health.timeout_ms);
  p.cancel = {};
  p.cut_while_queued = false;
  _h.shard().timers().arm(p.connect_deadline, deadline);
  auto conn = co_await pool.acquire(true, &p.cancel);
  _h.shard().timers().cancel(p.connect_deadline);
  if (!conn) {
    bool local = conn.error().kind == error_kind::limit || p.cut_while_queued;
    if (local || _stopping) co_return std::nullopt;
    co_return false;
  }
  p.conn = *conn;
  net::stream& io = p.conn->io;
  bool passed = false;
  bool reusable = false;
  if (co_await io.send_all(std::string_view(req, size_t(n)), deadline) == 0) {
    http::response_parser parser{http::response_limits{}};
    http::response_head resp;
    for (;;) {
      http::head_result hr = parser.parse(io.input(), resp, http::request_kind::normal);
      if (hr.status == http::parse_status::complete && resp.interim()) {
        io.consume(hr.head_bytes);
        parser.reset();
        continue;
      }
      if (hr.status == http::parse_status::complete) {
        io.consume(hr.head_bytes);
        passed = resp.status >= 200 && resp.status < 300;
        bool whole =
            resp.body == http::body_kind::none || (resp.body == http::body_kind::content_length &&
                                                   io.input().size() >= resp.content_length);
        if (whole && resp.body == http::body_kind::content_length) io.consume(resp.content_length);
        reusable = whole && resp.keep_alive && io.input().empty();
        break;
      }
      if (hr.status == http::parse_status::error) break;
      if (co_await io.read_more(deadline) != read_status::data) break;
    }
  }
  pool.release(p.conn, reusable && !_stopping ? upstream::reuse::keep : upstream::reuse::close);
  p.conn = nullptr;
  co_return passed;
}

void health_checker::publish(probe& p, bool passed) {
  uint32_t index = uint32_t(&p.endpoint - _h.routes().endpoints().data());
  if (auto* m = _h.metrics()) {
    m->resilience().health_check(m->block(_h.shard().id()), index, passed);
  }
  if (!p.tracker.on_check(passed)) return;
  p.endpoint.state->healthy.store(p.tracker.healthy(), std::memory_order_relaxed);
  const provider_route& prov = _h.routes().providers()[p.endpoint.provider];
  if (p.tracker.healthy()) {
    log::info("endpoint healthy again", {{"provider", prov.name}, {"endpoint", p.endpoint.label}});
  } else {
    log::warn(
        "endpoint unhealthy: failing its health checks",
        {{"provider", prov.name}, {"endpoint", p.endpoint.label}, {"path", prov.health.path}});
  }
}

}  // namespace rg::gateway
