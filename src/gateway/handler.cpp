// Routing and the built-in endpoints: GET /health (liveness), GET /ready (503 while draining),
// GET /v1/models, the proxied POST endpoints, and an OpenAI-shaped 404 for everything else.
// Every answer written here or by the proxy carries the request's x-request-id.
#include "handler.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include <ringgate/json/padded.hpp>
#include <ringgate/runtime/clock.hpp>

#include "access.hpp"
#include "admin.hpp"
#include "govern.hpp"
#include "proxy.hpp"

namespace rg::gateway {
namespace {

bool valid_request_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > 128) return false;
  for (char ch : id) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.' || ch == ':';
    if (!ok) return false;
  }
  return true;
}

// The header lines of an answer: "x-request-id: …\r\n", then `extra` (complete lines).
struct answer_lines {
  explicit answer_lines(const exchange_note& n, std::string_view extra = {}) noexcept {
    char* p = buf;
    for (std::string_view piece : {std::string_view("x-request-id: "), n.request_id_view(),
                                   std::string_view("\r\n"), extra}) {
      if (piece.size() > size_t(buf + sizeof buf - p)) return;  // ids ≤ 128, extras are short
      p = std::copy(piece.begin(), piece.end(), p);
    }
    text = std::string_view(buf, size_t(p - buf));
  }
  char buf[256];
  std::string_view text;
};

void health(httpd::exchange& ex, std::string_view path, const exchange_note& n) {
  const auto& head = ex.head();
  if (head.meth != http::method::get && head.meth != http::method::head) {
    ex.error(405, "method not allowed", "method_not_allowed",
             answer_lines(n, "allow: GET, HEAD\r\n").text);
    return;
  }
  answer_lines lines(n);
  if (path == "/health") {
    ex.json(200, R"({"status":"ok"})", lines.text);
  } else if (ex.draining()) {
    ex.json(503, R"({"status":"draining"})", lines.text);
  } else {
    ex.json(200, R"({"status":"ready"})", lines.text);
  }
}

constexpr size_t upstream_block_bytes = 64 * 1024;  // an upstream response head + slack

}  // namespace

shard_handler::shard_handler(runtime::shard& s, const config::config& cfg,
                             const route_table& routes, gateway_metrics* metrics,
                             std::unique_ptr<admin_handler> admin, governance::governance& gov,
                             uint32_t shard_count)
    : _shard(s),
      _cfg(cfg),
      _routes(routes),
      _metrics(metrics),
      _admin(std::move(admin)),
      _upstream_blocks(upstream_block_bytes, 256),
      _body_blocks(64 * 1024, 256),
      _wrr(routes.wrr_slots(), 0),
      _rng(runtime::monotonic_ns() ^ (uint64_t(s.id() + 1) * 0x9e3779b97f4a7c15ull)),
      _queues(std::make_unique<shard_queue[]>(routes.providers().size())),
      _health(*this, shard_count),
      _governor(gov, s.id()),
      _id_salt(runtime::monotonic_ns() ^ (uint64_t(s.id()) << 56)) {
  // Size this shard's JSON parser for typical requests now, not on the first request.
  json::reserve_thread_parser(64 * 1024);
  for (const auto& e : routes.endpoints()) {
    const provider_route& p = routes.providers()[e.provider];
    _pools.push_back(std::make_unique<upstream::pool>(s, _upstream_blocks, *e.ep, p.tls.get()));
    if (_metrics && p.tls) _pools.back()->observe_tls(_metrics, e.provider);
  }
  if (_metrics && !_pools.empty()) {
    _pool_timer.set_callback(&shard_handler::on_pool_timer, this);
    _shard.timers().arm(_pool_timer, _shard.now_ns() + runtime::ms_to_ns(pool_publish_ms));
  }
  _access_timer.set_callback(&shard_handler::on_access_timer, this);
  for (size_t i = 0; i < routes.providers().size(); ++i) {
    routes.providers()[i].gate->attach(s.id(), s, &_queues[i]);
  }
  _health.start();
}

shard_handler::~shard_handler() {
  for (const auto& p : _routes.providers()) p.gate->detach(_shard.id());
}

void shard_handler::drain() noexcept {
  _access.flush();
  _health.drain();
  for (auto& p : _pools) p->close_idle();
  if (_metrics) {
    for (uint32_t i = 0; i < _routes.providers().size(); ++i) publish_pool(i);
  }
}

// The provider's figures are the sum of its endpoints' pools on this shard.
void shard_handler::publish_pool(uint32_t provider) noexcept {
  uint32_t idle = 0, active = 0;
  uint64_t connects = 0;
  for (const endpoint_route& e : _routes.endpoints_of(_routes.providers()[provider])) {
    const upstream::pool& p = pool_for(e);
    idle += p.idle();
    active += p.leased();
    connects += p.counters().connects;
  }
  _metrics->pool_state(_shard.id(), provider, idle, active, connects);
}

void shard_handler::on_access_timer(runtime::timer&, void* self) noexcept {
  static_cast<shard_handler*>(self)->_access.flush();
}

void shard_handler::on_pool_timer(runtime::timer& t, void* self) noexcept {
  auto* h = static_cast<shard_handler*>(self);
  for (uint32_t i = 0; i < h->_routes.providers().size(); ++i) h->publish_pool(i);
  h->_shard.timers().arm(t, h->_shard.now_ns() + runtime::ms_to_ns(pool_publish_ms));
}

void shard_handler::make_request_id(char out[32]) noexcept {
  // Two hex digits per step from a 512-byte table: every request that brings no id pays this.
  static constexpr auto pairs = [] {
    std::array<char, 512> t{};
    constexpr char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < 256; ++i) {
      t[2 * i] = hex[i >> 4];
      t[2 * i + 1] = hex[i & 0xf];
    }
    return t;
  }();
  const uint64_t a = _id_salt;
  const uint64_t b = (uint64_t(_shard.id()) << 48) ^ ++_request_seq;
  for (int i = 0; i < 8; ++i) {
    std::memcpy(out + 2 * i, &pairs[2 * ((a >> (56 - 8 * i)) & 0xff)], 2);
    std::memcpy(out + 16 + 2 * i, &pairs[2 * ((b >> (56 - 8 * i)) & 0xff)], 2);
  }
}

void shard_handler::assign_request_id(const http::request_head& head,
                                      exchange_note& note) noexcept {
  const http::header* h = head.find("x-request-id");
  if (h && valid_request_id(h->value)) {
    std::memcpy(note.request_id, h->value.data(), h->value.size());
    note.request_id_len = uint8_t(h->value.size());
    return;
  }
  make_request_id(note.request_id);
  note.request_id_len = 32;
}

runtime::task<void> shard_handler::handle(httpd::exchange& ex) {
  // With metrics and the access log both off, nothing is measured: not even the clock is read.
  // A request starts at its loop turn's time (the shard read it when the turn began; the proxy's
  // deadlines, TTFT and the ledger's latency count from it too), so a request that waited behind
  // others of the same turn is charged that wait; it ends at a clock read of its own.
  const bool observed = _metrics || _cfg.log.access_log;
  const uint64_t started_ns = _shard.now_ns();
  ex.out().forget_status();
  exchange_note note;
  assign_request_id(ex.head(), note);
  if (_metrics) _metrics->begin(_shard.id());
  co_await dispatch(ex, note);
  if (!observed) co_return;
  const uint64_t end_ns = runtime::monotonic_ns();
  const uint64_t duration_ns = end_ns - started_ns;
  const uint16_t status = ex.out().last_status();
  // Pool gauges are not refreshed here: _pool_timer does it every pool_publish_ms (a shard pays
  // nothing per request for figures only a scrape reads).
  if (_metrics) _metrics->end(_shard.id(), note, status, duration_ns);
  if (_cfg.log.access_log) {
    write_access_line(_access, ex, note, status, duration_ns, end_ns);
    if (_access.pending() && !_access_timer.armed()) {
      _shard.timers().arm(_access_timer, _shard.now_ns() + runtime::ms_to_ns(access_flush_ms));
    }
  }
}

runtime::task<void> shard_handler::dispatch(httpd::exchange& ex, exchange_note& note) {
  // Endpoints are matched on endpoint_paths, exactly (the access line relies on it).
  constexpr auto path_of = [](endpoint e) { return endpoint_paths[size_t(e)]; };
  std::string_view path = ex.head().path();
  if (path == path_of(endpoint::health) || path == path_of(endpoint::ready)) {
    note.ep = path == path_of(endpoint::health) ? endpoint::health : endpoint::ready;
    health(ex, path, note);
    co_return;
  }
  if (path == path_of(endpoint::chat) || path == path_of(endpoint::embeddings)) {
    bool chat = path == path_of(endpoint::chat);
    note.ep = chat ? endpoint::chat : endpoint::embeddings;
    if (ex.head().meth != http::method::post) {
      ex.error(405, "method not allowed", "method_not_allowed",
               answer_lines(note, "allow: POST\r\n").text);
      co_return;
    }
    co_await proxy(*this, ex, chat ? api::chat : api::embeddings, note);
    co_return;
  }
  answer_lines lines(note);
  if (_admin && (path == "/metrics" || path.starts_with("/admin/"))) {
    co_await _admin->serve(ex, lines.text);
    co_return;
  }
  if (path == path_of(endpoint::models)) {
    note.ep = endpoint::models;
    if (ex.head().meth != http::method::get && ex.head().meth != http::method::head) {
      ex.error(405, "method not allowed", "method_not_allowed",
               answer_lines(note, "allow: GET, HEAD\r\n").text);
      co_return;
    }
    // Governance: listing models needs a key like the rest of /v1 (when auth is required).
    if (auth_outcome a = check_credentials(_governor, ex.head()); !a.ok) {
      refuse_credentials(ex, protocol::openai, a, lines.text, note);
      co_return;
    }
    ex.json(200, _routes.models_json(), lines.text);
    co_return;
  }
  ex.error(404, "no route for this path", "not_found", lines.text);
}

}  // namespace rg::gateway
