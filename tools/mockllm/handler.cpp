// Routing (see handler.hpp): every API request is counted and recorded before anything can fail,
// so /mock/stats shows exactly what arrived; /mock/* requests are neither counted nor recorded.
#include "handler.hpp"

#include <sys/uio.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "answer.hpp"

namespace rg::mockllm {
namespace {

route route_of(std::string_view path) noexcept {
  if (path == "/v1/chat/completions") return route::chat;
  if (path == "/v1/messages") return route::messages;
  if (path == "/v1/embeddings") return route::embeddings;
  if (path == "/v1/models") return route::models;
  return route::other;
}

// A pooled block for the life of one request.
class block_lease {
 public:
  explicit block_lease(runtime::block_pool& pool) : _pool(pool), _block(pool.get()) {}
  ~block_lease() { _pool.put(_block); }
  block_lease(const block_lease&) = delete;
  block_lease& operator=(const block_lease&) = delete;
  char* get() const noexcept { return _block; }

 private:
  runtime::block_pool& _pool;
  char* _block;
};

// A JSON answer of any size (the stats can outgrow the exchange's buffer).
runtime::task<void> send_json(httpd::exchange& ex, std::string body) {
  const auto& head = ex.head();
  if (ex.out().json(200, body, ex.mode(), head.ver)) co_return;
  char head_bytes[512];
  size_t h = render_head(head_bytes, sizeof(head_bytes), ex, 200, "application/json", framing::raw,
                         body.size());
  iovec iov[2] = {{head_bytes, h}, {body.data(), body.size()}};
  if (h == 0) {
    ex.force_close();
    co_return;
  }
  int rc = co_await ex.send(std::span<iovec>(iov, 2));
  if (rc != 0) ex.force_close();
}

}  // namespace

shard_handler::shard_handler(const options& opts, stats& st, arming& armed, uint32_t shard_index,
                             uint32_t shard_count)
    : _opts(opts),
      _stats(st),
      _armed(armed),
      _index(shard_index),
      _count(std::max<uint32_t>(shard_count, 1)),
      _blocks(block_bytes, 1024) {}

runtime::task<void> shard_handler::handle(httpd::exchange& ex) {
  std::string_view path = ex.head().path();
  if (path.starts_with("/mock/")) {
    co_await serve_control(ex, path);
  } else {
    co_await serve_api(ex, route_of(path));
  }
}

runtime::task<void> shard_handler::serve_api(httpd::exchange& ex, route r) {
  in_flight_guard guard(_stats);
  const http::request_head& head = ex.head();
  _stats.on_request(_index, r, head, ex.body(), ex.io().tls());
  if (r == route::other) {
    ex.error(404, "mockllm has no endpoint at this path", "not_found");
    co_return;
  }
  const bool want_get = r == route::models;
  const http::method expected = want_get ? http::method::get : http::method::post;
  if (head.meth != expected) {
    ex.error(405, "method not allowed", "method_not_allowed",
             want_get ? "allow: GET\r\n" : "allow: POST\r\n");
    co_return;
  }
  const wire w = r == route::messages ? wire::anthropic : wire::openai;
  plan p;
  std::string_view plan_error = read_plan(head, _opts, p);
  armed_fault armed;
  if (plan_error.empty() && _armed.remaining() && _armed.take(armed)) armed.apply(p);
  block_lease block(_blocks);
  scratch sc(block.get(), scratch_bytes);
  body_writer writer(ex, block.get() + scratch_bytes, block_bytes - scratch_bytes);
  uint64_t id = _served++ * _count + _index + 1;
  uint64_t prompt_tokens = std::max<uint64_t>(ex.body().size() / 4, 1);
  request_ctx c{ex, p, _stats, _index, writer, sc, id, prompt_tokens};
  if (!plan_error.empty()) {
    co_await answer_error(c, w, 400, plan_error);
    co_return;
  }
  if (p.status != 200) {
    co_await answer_status(c, w);
    co_return;
  }
  if (r == route::models) {
    co_await openai_models(c);
    co_return;
  }
  request_fields f;
  if (std::string_view err = _json.read(ex.body(), f); !err.empty()) {
    co_await answer_error(c, w, 400, err);
    co_return;
  }
  switch (r) {
    case route::chat:
      co_await openai_chat(c, f);
      break;
    case route::embeddings:
      co_await openai_embeddings(c, f);
      break;
    case route::messages:
      co_await anthropic_messages(c, f);
      break;
    default:
      break;
  }
  if (p.what == fault::close_after_response) {
    // The answer said keep-alive; closing now leaves the client a stale pooled connection.
    _stats.on_fault(_index);
    ex.force_close();
  }
}

// POST /mock/arm with x-mock-arm-count: N and the fault headers an API request would carry
// (x-mock-status, x-mock-fault, x-mock-retry-after[-ms], x-mock-error-body,
// x-mock-first-byte-ms): the next N API requests behave as if they carried them.
runtime::task<void> shard_handler::arm(httpd::exchange& ex) {
  plan p;
  std::string_view err = read_plan(ex.head(), _opts, p);
  uint64_t count = 0;
  const http::header* h = ex.head().find("x-mock-arm-count");
  bool counted = h && !h->value.empty() && h->value.size() <= 9;
  for (char ch : counted ? h->value : std::string_view{}) {
    counted = counted && ch >= '0' && ch <= '9';
    count = count * 10 + uint64_t(ch - '0');
  }
  if (!err.empty() || !counted) {
    ex.error(400, err.empty() ? "x-mock-arm-count: expected 0..999999999" : err, "invalid_request");
    co_return;
  }
  if (!_armed.arm(p, count)) {
    ex.error(400, "armed values too long", "invalid_request");
    co_return;
  }
  char body[64];
  int n = snprintf(body, sizeof(body), R"({"ok":true,"armed":%llu})", (unsigned long long)count);
  ex.json(200, std::string_view(body, size_t(n)));
}

runtime::task<void> shard_handler::serve_control(httpd::exchange& ex, std::string_view path) {
  const http::method m = ex.head().meth;
  if (path == "/mock/stats" && m == http::method::get) {
    co_await send_json(ex, _stats.render());
  } else if (path == "/mock/reset" && m == http::method::post) {
    _stats.reset();
    _armed.arm(plan{}, 0);
    ex.json(200, R"({"ok":true})");
  } else if (path == "/mock/arm" && m == http::method::post) {
    co_await arm(ex);
  } else if (path == "/mock/stats" || path == "/mock/reset" || path == "/mock/arm") {
    ex.error(405, "method not allowed", "method_not_allowed",
             path == "/mock/stats" ? "allow: GET\r\n" : "allow: POST\r\n");
  } else {
    ex.error(404, "mockllm has no endpoint at this path", "not_found");
  }
}

}  // namespace rg::mockllm
