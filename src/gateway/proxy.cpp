// The request side of the proxy: validation, routing, the upstream request (allowlisted headers,
// spliced body), the pooled connection with one retry when a reused connection turns out stale,
// and the buffered relay of non-streamed answers with error mapping.
#include "proxy.hpp"

#include <cerrno>
#include <cstring>

#include <ringgate/http/response.hpp>
#include <ringgate/httpd/body_buffer.hpp>
#include <ringgate/json/writer.hpp>
#include <ringgate/runtime/clock.hpp>
#include <ringgate/runtime/log.hpp>

#include "call.hpp"
#include "headers.hpp"
#include "metrics.hpp"

namespace rg::gateway {
namespace {

using net::read_status;
using runtime::ms_to_ns;

// Validates the body and resolves the model. False when an error answer was written.
bool route_request(call_state& c) {
  auto info = json::inspect_request(c.ex.body());
  if (!info) {
    fail(c, 400, json::message(info.error()), "invalid_request");
    return false;
  }
  c.info = *info;
  c.route = c.h.routes().resolve(c.info.model, std::span<char>(c.quote_scratch));
  if (!c.route.provider) {
    fail(c, 400, "unknown model: the gateway has no route for this model", "model_not_found");
    return false;
  }
  return true;
}

// The upstream request head. Returns its length, or 0 when it does not fit.
size_t build_upstream_head(call_state& c, size_t body_bytes, char* buf, size_t cap) {
  const auto& ep = c.route.provider->ep->options();
  http::response_writer w(std::span<char>(buf, cap));  // a byte appender with overflow checks
  w.raw("POST ").raw(ep.base_path).raw(c.kind == api::chat ? "/chat/completions" : "/embeddings");
  w.raw(" HTTP/1.1\r\n");
  w.header("host", ep.host_header);
  w.raw(c.route.provider->header_lines);
  w.header("content-type", "application/json");
  w.header("content-length", uint64_t(body_bytes));
  w.header("accept-encoding", "identity");
  w.header("x-request-id", c.request_id_view());
  const auto& head = c.ex.head();
  for (size_t i = 0; i < head.header_count; ++i) {
    const http::header& h = head.headers[i];
    if (forwarded_header(c.route.provider->forward, h.name)) w.header(h.name, h.value);
  }
  w.end_head();
  return w.ok() ? w.size() : 0;
}

runtime::task<void> watch_client(call_state& c) {
  c.watching = true;
  for (;;) {
    read_status rs = co_await c.ex.io().read_more(UINT64_MAX);
    if (c.stop_watch) break;
    if (rs == read_status::data) continue;  // pipelined bytes: leave them for the session
    if (rs == read_status::full) break;
    c.client_gone = true;
    proxy_counters::bump(c.h.counters().client_disconnects);
    if (c.conn) c.conn->io.abort();
    break;
  }
  c.watching = false;
}

void stop_watching(call_state& c) noexcept {
  c.stop_watch = true;
  if (c.watching) c.ex.io().interrupt_reader();
}

enum class head_outcome : uint8_t { ok, stale, failed };

void capture_meta(call_state& c) noexcept {
  auto& m = c.meta;
  m.status = c.resp.status;
  m.body = c.resp.body;
  m.content_length = c.resp.content_length;
  m.keep_alive = c.resp.keep_alive;
  std::string_view ct = "application/json";
  if (const http::header* h = c.resp.find("content-type")) ct = h->value;
  m.content_type_len = uint8_t(std::min(ct.size(), sizeof(m.content_type)));
  std::memcpy(m.content_type, ct.data(), m.content_type_len);
  m.event_stream = m.content_type_view().starts_with("text/event-stream");
  m.retry_after_len = 0;
  if (const http::header* h = c.resp.find("retry-after"); h && h->value.size() <= sizeof(m.retry_after)) {
    m.retry_after_len = uint8_t(h->value.size());
    std::memcpy(m.retry_after, h->value.data(), h->value.size());
  }
}

// Sends the request on c.conn and reads the response head (skipping 1xx).
runtime::task<head_outcome> exchange_head(call_state& c, std::span<const iovec> request) {
  iovec iov[json::splice::pieces_max + 1];
  std::memcpy(iov, request.data(), request.size() * sizeof(iovec));
  const auto& opts = c.route.provider->ep->options();
  bool reused = c.conn->uses > 1;
  c.sent_ns = runtime::monotonic_ns();
  int rc = co_await c.conn->io.send_all(std::span<iovec>(iov, request.size()), c.total_deadline_ns);
  if (rc < 0) {
    if (c.client_gone) co_return head_outcome::failed;
    if (reused) co_return head_outcome::stale;
    fail(c, 502, "upstream connection failed while sending the request", "upstream_error");
    co_return head_outcome::failed;
  }
  uint64_t first_byte_deadline =
      std::min(c.total_deadline_ns, c.h.shard().now_ns() + ms_to_ns(opts.first_byte_timeout_ms));
  c.parser.reset();
  bool interim_seen = false;
  for (;;) {
    http::head_result hr = c.parser.parse(c.conn->io.input(), c.resp, http::request_kind::normal);
    if (hr.status == http::parse_status::complete) {
      if (!c.resp.interim()) {
        c.upstream_head_ns = runtime::monotonic_ns();
        capture_meta(c);
        c.conn->io.consume(hr.head_bytes);
        co_return head_outcome::ok;
      }
      c.conn->io.consume(hr.head_bytes);
      c.parser.reset();
      interim_seen = true;
      continue;
    }
    if (hr.status == http::parse_status::error) {
      fail(c, 502, "upstream sent an invalid response", "upstream_error");
      co_return head_outcome::failed;
    }
    read_status rs = co_await c.conn->io.read_more(first_byte_deadline);
    if (rs == read_status::data) continue;
    if (c.client_gone) co_return head_outcome::failed;
    bool nothing = c.conn->io.input().empty() && !interim_seen;
    if ((rs == read_status::eof || rs == read_status::error) && nothing && reused) {
      co_return head_outcome::stale;
    }
    if (rs == read_status::timeout) {
      fail(c, 504, "upstream timed out before responding", "upstream_timeout");
    } else {
      fail(c, 502, "upstream closed the connection before responding", "upstream_error");
    }
    co_return head_outcome::failed;
  }
}

// Buffers the whole upstream body and answers with it (mapping non-OpenAI error bodies).
runtime::task<bool> relay_buffered(call_state& c) {
  httpd::body_buffer body(c.h.body_blocks());
  http::body_decoder dec;
  dec.start(c.meta.body, c.meta.content_length, http::response_limits{}.body_bytes_max);
  const auto& opts = c.route.provider->ep->options();
  while (!dec.done()) {
    std::string_view in = c.conn->io.input();
    while (!in.empty() && !dec.done()) {
      http::body_step st = dec.step(in);
      if (st.error.status != 0) {
        fail(c, 502, "upstream sent an invalid response body", "upstream_error");
        co_return false;
      }
      if (!st.data.empty() && !body.append(st.data)) {
        fail(c, 502, "upstream response too large", "upstream_error");
        co_return false;
      }
      c.conn->io.consume(st.consumed);
      in = c.conn->io.input();
      if (st.consumed == 0) break;
    }
    if (dec.done()) break;
    uint64_t deadline =
        std::min(c.total_deadline_ns, c.h.shard().now_ns() + ms_to_ns(opts.idle_timeout_ms));
    read_status rs = co_await c.conn->io.read_more(deadline);
    if (rs == read_status::data) continue;
    if (rs == read_status::eof && dec.finish_eof().done) break;
    if (c.client_gone) co_return false;
    fail(c, rs == read_status::timeout ? 504 : 502,
         rs == read_status::timeout ? "upstream timed out while sending the response"
                                    : "upstream closed the connection mid-response",
         rs == read_status::timeout ? "upstream_timeout" : "upstream_error");
    co_return false;
  }

  std::string_view payload = body.view();
  uint16_t status = c.meta.status;
  char mapped[1024];
  std::string_view content_type = c.meta.content_type_view();
  if (status >= 400 && !json::openai_error_message(payload)) {
    // Not OpenAI-shaped: wrap a bounded, escaped snippet so clients always get one error shape.
    char msg[320];
    int n = snprintf(msg, sizeof(msg), "upstream error (HTTP %u): ", unsigned(status));
    size_t snip = std::min(payload.size(), sizeof(msg) - size_t(n) - 1);
    std::memcpy(msg + n, payload.data(), snip);
    size_t len = http::openai_error_body(std::span<char>(mapped), std::string_view(msg, size_t(n) + snip),
                                         "upstream_error", "upstream_error");
    payload = std::string_view(mapped, len);
    content_type = "application/json";
  } else if (status < 300) {
    if (auto u = json::extract_usage_openai(payload)) c.usage = *u;
  }
  char extra[512];
  std::string_view retry = c.meta.retry_after_view();
  char ra_line[64] = {};
  if (!retry.empty()) {
    snprintf(ra_line, sizeof(ra_line), "retry-after: %.*s\r\n", int(retry.size()), retry.data());
  }
  std::string_view lines = response_header_lines(c, extra, sizeof(extra), ra_line);
  auto& out = c.ex.out();
  out.head(status, content_type, payload.size(), c.ex.mode(), c.ex.head().ver, lines);
  bool head_only = c.ex.head().meth == http::method::head;
  if (!head_only && !out.raw(payload)) {
    iovec iov{const_cast<char*>(payload.data()), payload.size()};
    co_await c.ex.send(std::span<iovec>(&iov, 1));
  }
  co_return dec.done() && c.meta.keep_alive;
}

}  // namespace

void fail(call_state& c, uint16_t status, std::string_view message, std::string_view code) {
  c.error_code = code;
  char extra[256];
  std::string_view lines = response_header_lines(c, extra, sizeof(extra));
  c.ex.error(status, message, code, lines);
  if (status >= 500) proxy_counters::bump(c.h.counters().upstream_errors);
}

std::string_view response_header_lines(call_state& c, char* buf, size_t cap,
                                       std::string_view extra) {
  if (c.request_id_len == 0) return {};
  int n = snprintf(buf, cap, "x-request-id: %.*s\r\n%.*s", int(c.request_id_len), c.request_id,
                   int(extra.size()), extra.data());
  return n > 0 && size_t(n) < cap ? std::string_view(buf, size_t(n)) : std::string_view{};
}

// What the access log and metrics need from a finished call.
void fill_note(const call_state& c, exchange_note& n) noexcept {
  n.model = c.info.model;
  n.stream = c.info.stream;
  if (c.route.provider) {
    n.provider = c.route.provider->name;
    n.upstream_model = c.route.upstream_model;
    if (c.route.model) n.price = &c.route.model->price;
  }
  n.usage_known = c.usage.present();
  n.tokens_in = std::max<int64_t>(c.usage.prompt_tokens, 0);
  n.tokens_out = std::max<int64_t>(c.usage.completion_tokens, 0);
  n.cached_tokens = std::max<int64_t>(c.usage.cached_tokens, 0);
  if (c.upstream_head_ns > c.sent_ns && c.sent_ns) n.upstream_ttfb_ns = c.upstream_head_ns - c.sent_ns;
  if (c.acquire_ns && c.relay_end_ns > c.acquire_ns) n.upstream_ns = c.relay_end_ns - c.acquire_ns;
  n.upstream_status = c.upstream_head_ns ? c.meta.status : 0;
  n.retries = c.retries;
  n.error = c.client_gone ? std::string_view("client_disconnected") : c.error_code;
}

runtime::task<void> proxy(shard_handler& h, httpd::exchange& ex, api kind, exchange_note& note) {
  call_state c(h, ex, kind);
  // Runs when the call ends, however it ends (locals are destroyed at co_return).
  struct note_on_exit {
    const call_state& c;
    exchange_note& n;
    ~note_on_exit() { fill_note(c, n); }
  } on_exit{c, note};
  c.started_ns = h.shard().now_ns();
  // The handler assigned the request id (the client's when valid); it goes upstream and back.
  std::memcpy(c.request_id, note.request_id, note.request_id_len);
  c.request_id_len = note.request_id_len;
  if (!route_request(c)) co_return;
  if (h.metrics()) note.model_slot = h.metrics()->model_slot(c.route);
  const auto& opts = c.route.provider->ep->options();
  c.total_deadline_ns = c.started_ns + ms_to_ns(opts.total_timeout_ms);

  json::rewrite_options rw;
  rw.quoted_model = c.route.quoted_upstream;
  if (kind == api::chat && c.info.stream && json::needs_include_usage(c.info)) {
    rw.usage = json::usage_policy::ensure_included;
    c.injected_usage = true;
  }
  json::splice body = json::rewrite_request(ex.body(), c.info, rw);
  char head[4096];
  size_t head_len = build_upstream_head(c, body.total_bytes(), head, sizeof(head));
  if (head_len == 0) {
    fail(c, 400, "request headers too large to forward", "invalid_request");
    co_return;
  }
  iovec request[json::splice::pieces_max + 1];
  request[0] = {head, head_len};
  for (size_t i = 0; i < body.count; ++i) {
    request[i + 1] = {const_cast<char*>(body.pieces[i].data()), body.pieces[i].size()};
  }
  std::span<const iovec> req(request, body.count + 1);

  proxy_counters::bump(h.counters().upstream_requests);
  upstream::pool& pool = h.pool_for(*c.route.provider);
  runtime::spawn(watch_client(c));
  head_outcome outcome = head_outcome::failed;
  c.acquire_ns = runtime::monotonic_ns();
  for (int attempt = 0; attempt < 2 && !c.client_gone; ++attempt) {
    auto conn = co_await pool.acquire(attempt > 0);
    if (!conn && conn.error().kind == error_kind::tls) {
      // The request was never sent: no byte (and no key) reached an unverified peer.
      char msg[256];
      snprintf(msg, sizeof(msg), "upstream TLS: %.*s for %s", int(conn.error().context.size()),
               conn.error().context.data(), opts.host.c_str());
      fail(c, 502, msg, "upstream_tls_error");
      break;
    }
    if (!conn && conn.error().kind == error_kind::limit) {
      // Logged (rate-limited) and counted by the pool; nothing was sent.
      fail(c, 503, "upstream connection pool exhausted", "upstream_pool_exhausted");
      break;
    }
    if (!conn) {
      bool timeout = conn.error().kind == error_kind::timeout;
      fail(c, timeout ? 504 : 502,
           timeout ? "upstream connect timed out" : "upstream connection failed",
           timeout ? "upstream_timeout" : "upstream_error");
      log::warn("upstream connect failed",
                {{"provider", c.route.provider->name}, {"error", strerror(conn.error().sys_errno)},
                 {"request_id", c.request_id_view()}});
      break;
    }
    if (c.client_gone) {
      // Gone while we waited for the connection: it carried nothing, so it goes back as it is.
      pool.release(*conn, upstream::reuse::keep);
      break;
    }
    c.conn = *conn;
    outcome = co_await exchange_head(c, req);
    if (outcome != head_outcome::stale) break;
    // A pooled connection the server had closed: never the client's problem. Retry once, fresh.
    proxy_counters::bump(h.counters().stale_retries);
    ++c.retries;
    pool.release(c.conn, upstream::reuse::close);
    c.conn = nullptr;
  }
  bool keep = false;
  if (outcome == head_outcome::ok) {
    if (c.meta.event_stream && c.meta.status == 200) {
      keep = co_await relay_stream(c) && c.meta.keep_alive;
    } else {
      keep = co_await relay_buffered(c);
    }
  }
  c.relay_end_ns = runtime::monotonic_ns();
  stop_watching(c);
  if (c.conn) pool.release(c.conn, keep && !c.client_gone ? upstream::reuse::keep : upstream::reuse::close);
  if (c.client_gone) ex.force_close();
  if (c.usage.present()) {
    proxy_counters::bump(h.counters().tokens_in, uint64_t(std::max<int64_t>(c.usage.prompt_tokens, 0)));
    proxy_counters::bump(h.counters().tokens_out,
                         uint64_t(std::max<int64_t>(c.usage.completion_tokens, 0)));
  }
}

}  // namespace rg::gateway
