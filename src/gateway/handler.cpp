// Routing and the built-in endpoints: GET /health (liveness), GET /ready (503 while draining),
// GET /v1/models, the proxied POST endpoints, and an OpenAI-shaped 404 for everything else.
#include "handler.hpp"

#include <ringgate/json/padded.hpp>
#include <ringgate/runtime/clock.hpp>

#include "access.hpp"
#include "proxy.hpp"

namespace rg::gateway {
namespace {

void health(httpd::exchange& ex, std::string_view path) {
  const auto& head = ex.head();
  if (head.meth != http::method::get && head.meth != http::method::head) {
    ex.error(405, "method not allowed", "method_not_allowed", "allow: GET, HEAD\r\n");
  } else if (path == "/health") {
    ex.json(200, R"({"status":"ok"})");
  } else if (ex.draining()) {
    ex.json(503, R"({"status":"draining"})");
  } else {
    ex.json(200, R"({"status":"ready"})");
  }
}

constexpr size_t upstream_block_bytes = 64 * 1024;  // an upstream response head + slack

}  // namespace

shard_handler::shard_handler(runtime::shard& s, const config::config& cfg,
                             const route_table& routes, gateway_metrics* metrics,
                             std::unique_ptr<httpd::handler> admin)
    : _shard(s),
      _cfg(cfg),
      _routes(routes),
      _metrics(metrics),
      _admin(std::move(admin)),
      _upstream_blocks(upstream_block_bytes, 256),
      _body_blocks(64 * 1024, 256),
      _id_salt(runtime::monotonic_ns() ^ (uint64_t(s.id()) << 56)) {
  // Size this shard's JSON parser for typical requests now, not on the first request.
  json::reserve_thread_parser(64 * 1024);
  for (const auto& p : routes.providers()) {
    _pools.push_back(std::make_unique<upstream::pool>(s, _upstream_blocks, *p.ep, p.tls.get()));
    if (_metrics && p.tls) _pools.back()->observe_tls(_metrics, uint32_t(_pools.size() - 1));
  }
}

shard_handler::~shard_handler() = default;

void shard_handler::drain() noexcept {
  for (auto& p : _pools) p->close_idle();
}

void shard_handler::make_request_id(char out[32]) noexcept {
  static constexpr char hex[] = "0123456789abcdef";
  uint64_t a = _id_salt;
  uint64_t b = (uint64_t(_shard.id()) << 48) ^ ++_request_seq;
  for (int i = 0; i < 16; ++i) out[i] = hex[(a >> (60 - 4 * i)) & 0xf];
  for (int i = 0; i < 16; ++i) out[16 + i] = hex[(b >> (60 - 4 * i)) & 0xf];
}

runtime::task<void> shard_handler::handle(httpd::exchange& ex) {
  const uint64_t started_ns = runtime::monotonic_ns();
  ex.out().forget_status();
  exchange_note note;
  if (_metrics) _metrics->begin(_shard.id());
  co_await dispatch(ex, note);
  const uint64_t duration_ns = runtime::monotonic_ns() - started_ns;
  const uint16_t status = ex.out().last_status();
  if (_metrics) _metrics->end(_shard.id(), note, status, duration_ns);
  if (_cfg.log.access_log) write_access_line(ex, note, status, duration_ns);
}

runtime::task<void> shard_handler::dispatch(httpd::exchange& ex, exchange_note& note) {
  std::string_view path = ex.head().path();
  if (path == "/health" || path == "/ready") {
    note.ep = path == "/health" ? endpoint::health : endpoint::ready;
    health(ex, path);
    co_return;
  }
  if (path == "/v1/chat/completions" || path == "/v1/embeddings") {
    bool chat = path == "/v1/chat/completions";
    note.ep = chat ? endpoint::chat : endpoint::embeddings;
    if (ex.head().meth != http::method::post) {
      ex.error(405, "method not allowed", "method_not_allowed", "allow: POST\r\n");
      co_return;
    }
    co_await proxy(*this, ex, chat ? api::chat : api::embeddings, note);
    co_return;
  }
  if (_admin && (path == "/metrics" || path.starts_with("/admin/"))) {
    co_await _admin->handle(ex);
    co_return;
  }
  if (path == "/v1/models") {
    note.ep = endpoint::models;
    if (ex.head().meth != http::method::get && ex.head().meth != http::method::head) {
      ex.error(405, "method not allowed", "method_not_allowed", "allow: GET, HEAD\r\n");
      co_return;
    }
    ex.json(200, _routes.models_json());
    co_return;
  }
  ex.error(404, "no route for this path", "not_found");
}

}  // namespace rg::gateway
