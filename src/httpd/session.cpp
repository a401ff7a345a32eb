// The HTTP/1.1 session on one client connection: read a head under the header deadline, buffer
// the body under the body deadline, call the handler, keep the connection alive while allowed.
// Any framing error is answered (status + OpenAI-shaped body + Connection: close) and closes the
// connection, since the byte stream can no longer be trusted.
#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <ringgate/http/request.hpp>
#include <ringgate/http/response.hpp>
#include <ringgate/httpd/body_buffer.hpp>
#include <ringgate/httpd/listener.hpp>
#include <ringgate/runtime/clock.hpp>
#include <ringgate/runtime/log.hpp>

#include "request_state.hpp"

namespace rg::httpd {
namespace {

using net::read_status;
using runtime::ms_to_ns;

constexpr uint64_t no_deadline = UINT64_MAX;

void count_limit(shard_listener& l, uint16_t status) noexcept {
  auto& c = l.counters();
  switch (status) {
    case 408: listener_counters::bump(c.limit_408); break;
    case 413: listener_counters::bump(c.limit_413); break;
    case 414: listener_counters::bump(c.limit_414); break;
    case 431: listener_counters::bump(c.limit_431); break;
    default: listener_counters::bump(c.bad_requests); break;
  }
}

// Reads the whole body into `body`. Returns 0, the HTTP status to fail with (400/413 framing,
// 408 deadline), or -1 when the connection is gone.
runtime::task<int> read_body(shard_listener& l, connection& conn, const http::request_head& head,
                             body_buffer& body) {
  http::body_decoder dec;
  dec.start(head.body, head.content_length, l.limits().body_bytes_max);
  if (head.body == http::body_kind::content_length && !body.reserve(head.content_length)) {
    co_return 413;
  }
  uint64_t deadline = l.shard().now_ns() + ms_to_ns(l.cfg().timeouts.body_read_ms);
  while (!dec.done()) {
    std::string_view in = conn.io.input();
    while (!in.empty() && !dec.done()) {
      http::body_step st = dec.step(in);
      if (st.error.status != 0) co_return st.error.status;
      if (!st.data.empty() && !body.append(st.data)) co_return 413;
      conn.io.consume(st.consumed);
      in = conn.io.input();
      if (st.consumed == 0) break;
    }
    if (dec.done()) break;
    read_status rs = co_await conn.io.read_more(deadline);
    if (rs == read_status::timeout) co_return 408;
    if (rs == read_status::full) co_return 413;
    if (rs != read_status::data) co_return -1;
  }
  co_return 0;
}

// After an error answer the client may still be sending (an unread body, more pipelined
// requests). Closing now would make the kernel reset the connection, which can destroy the
// answer before the client reads it, so half-close and discard input for a bounded time first.
runtime::task<void> linger_close(shard_listener& l, connection& conn) {
  constexpr uint64_t linger_ns = 2'000'000'000;  // nginx's lingering_timeout is 5 s
  constexpr size_t linger_bytes_max = 1 << 20;
  co_await conn.io.shutdown_write();
  uint64_t deadline = l.shard().now_ns() + linger_ns;
  size_t discarded = 0;
  while (discarded < linger_bytes_max) {
    discarded += conn.io.input().size();
    conn.io.consume(conn.io.input().size());
    read_status rs = co_await conn.io.read_more(deadline);
    if (rs != read_status::data) break;
  }
}

enum class wait_result : uint8_t { ready, closed };

// Waits for the first byte of the next request with no per-request state held, until
// `deadline_ns` (the connection's head deadline for the first request, else the idle timeout).
runtime::task<wait_result> wait_for_request(shard_listener& l, connection& conn,
                                            uint64_t deadline_ns) {
  while (conn.io.input().empty()) {
    conn.idle = true;
    if (l.draining()) co_return wait_result::closed;
    conn.io.release_input_if_empty();
    read_status rs = co_await conn.io.read_more(deadline_ns);
    conn.idle = false;
    if (rs != read_status::data) co_return wait_result::closed;
  }
  conn.idle = false;
  co_return wait_result::ready;
}

enum class step : uint8_t { next, close, close_lingering };

// One request: head (complete by `head_deadline`), body, handler. Leaves any answer in rs.out
// for the caller to flush.
runtime::task<step> serve_one(shard_listener& l, connection& conn,
                              shard_listener::request_state& rs, uint32_t served,
                              uint64_t head_deadline) {
  rs.parser.reset();
  http::head_result hr;
  for (;;) {
    hr = rs.parser.parse(conn.io.input(), rs.head);
    if (hr.status != http::parse_status::incomplete) break;
    read_status st = co_await conn.io.read_more(head_deadline);
    if (st == read_status::data) continue;
    if (st == read_status::timeout) {
      count_limit(l, 408);
      rs.out.error(408, "timed out reading the request head", "request_timeout", close_mode::close);
    } else if (st == read_status::full) {
      count_limit(l, 431);
      rs.out.error(431, "request head too large", "request_header_fields_too_large",
                   close_mode::close);
    }
    co_return step::close;
  }
  const http::request_head& head = rs.head;
  if (hr.status == http::parse_status::error) {
    count_limit(l, hr.error.status);
    rs.out.error(hr.error.status, hr.error.message, hr.error.code, close_mode::close);
    co_return step::close_lingering;
  }
  // The head's views point into the connection's input block, which reading the body may compact
  // or overwrite. When a body follows, keep a copy of the head and point the views at it: the
  // parser keeps offsets, and a completed parser only refills the views from the buffer it is
  // given (parsing the head twice was a tenth of a small request's instructions, callgrind).
  body_buffer head_copy(l.body_blocks());
  if (head.body != http::body_kind::none) {
    if (!head_copy.append(conn.io.input().substr(0, hr.head_bytes))) co_return step::close;
    hr = rs.parser.parse(head_copy.view(), rs.head);
  }
  conn.io.consume(hr.head_bytes);
  listener_counters::bump(l.counters().requests);

  // The body: 100 Continue when the client waits for it, then read within the deadline.
  body_buffer body(l.body_blocks());
  if (head.body != http::body_kind::none) {
    if (head.expect_continue && conn.io.input().empty()) {
      rs.out.raw("HTTP/1.1 100 Continue\r\n\r\n");
      uint64_t deadline = l.shard().now_ns() + ms_to_ns(l.cfg().timeouts.send_ms);
      int rc = co_await rs.out.flush(conn.io, deadline);
      if (rc != 0) co_return step::close;
    }
    int rc = co_await read_body(l, conn, head, body);
    if (rc < 0) co_return step::close;
    if (rc > 0) {
      count_limit(l, uint16_t(rc));
      rs.out.error(uint16_t(rc),
                   rc == 408   ? "timed out reading the request body"
                   : rc == 413 ? "request body too large"
                               : "malformed request body",
                   rc == 408 ? "request_timeout" : rc == 413 ? "payload_too_large" : "invalid_request",
                   close_mode::close);
      co_return step::close_lingering;
    }
  }

  const uint32_t requests_max = l.cfg().limits.requests_per_connection_max;
  bool keep = head.keep_alive && !l.draining() && (requests_max == 0 || served + 1 < requests_max);
  exchange ex(l, conn, head, body.view(), rs.out, keep ? close_mode::keep_alive : close_mode::close);
  co_await l.app().handle(ex);
  co_return ex.mode() == close_mode::keep_alive && !conn.io.aborted() ? step::next : step::close;
}

// Inbound TLS: the handshake must complete by `deadline` (the first head's). False: close.
runtime::task<bool> accept_tls(shard_listener& l, connection& conn, uint64_t deadline) {
  auto s = tls::session::server(*l.tls());
  if (!s) co_return false;
  const tls::session& session = *s;
  conn.io.set_transform(std::move(s));
  int rc = co_await conn.io.handshake(deadline);
  if (rc != 0) {
    tls::failure why = session.failure_for(rc);
    listener_counters::bump(l.counters().tls_failures);
    listener_counters::bump(l.counters().tls_failures_by[size_t(why)]);
    log::debug("inbound TLS handshake failed", {{"error", tls::label(why)},
                                                {"mbedtls_error", session.mbedtls_error()}});
    co_return false;
  }
  listener_counters::bump(l.counters().tls_handshakes);
  if (session.resumed()) listener_counters::bump(l.counters().tls_resumed);
  co_return true;
}

}  // namespace

runtime::task<void> serve_connection(shard_listener& l, connection& conn) {
  const auto& t = l.cfg().timeouts;
  // Like nginx's client_header_timeout: one deadline from accept for the TLS handshake, the first
  // byte and the whole first head, so a slowloris cannot spend header_read_ms waiting to start
  // and then header_read_ms again dribbling. Later requests get header_read_ms from their first
  // byte, after at most keepalive_idle_ms of idling.
  const uint64_t first_head_deadline = l.shard().now_ns() + ms_to_ns(t.header_read_ms);
  if (l.tls()) {
    bool ok = co_await accept_tls(l, conn, first_head_deadline);
    if (!ok) {
      co_await conn.io.close();
      l.release(conn);
      co_return;
    }
  }
  shard_listener::request_state* rs = nullptr;
  uint32_t served = 0;
  bool linger = false;
  for (;;) {
    if (conn.io.input().empty()) {
      // Flush pipelined answers and give the request state back before waiting idle.
      if (rs && !rs->out.empty()) {
        uint64_t deadline = l.shard().now_ns() + ms_to_ns(t.send_ms);
        int rc = co_await rs->out.flush(conn.io, deadline);
        if (rc != 0) break;
      }
      if (rs) {
        l.release_request(rs);
        rs = nullptr;
      }
      uint64_t idle_deadline =
          served == 0 ? first_head_deadline : l.shard().now_ns() + ms_to_ns(t.keepalive_idle_ms);
      wait_result w = co_await wait_for_request(l, conn, idle_deadline);
      if (w != wait_result::ready) break;
    }
    if (!rs && !(rs = l.acquire_request())) break;
    uint64_t head_deadline =
        served == 0 ? first_head_deadline : l.shard().now_ns() + ms_to_ns(t.header_read_ms);
    step s = co_await serve_one(l, conn, *rs, served, head_deadline);
    ++served;
    if (s != step::next) {
      linger = s == step::close_lingering;
      break;
    }
    if (rs->out.nearly_full()) {
      uint64_t deadline = l.shard().now_ns() + ms_to_ns(t.send_ms);
      int rc = co_await rs->out.flush(conn.io, deadline);
      if (rc != 0) break;
    }
  }
  if (rs) {
    if (!rs->out.empty() && !conn.io.aborted()) {
      uint64_t deadline = l.shard().now_ns() + ms_to_ns(t.send_ms);
      int rc = co_await rs->out.flush(conn.io, deadline);
      if (rc == 0 && linger) co_await linger_close(l, conn);
    }
    l.release_request(rs);
  }
  co_await conn.io.close();
  l.release(conn);
}

}  // namespace rg::httpd
