// The HTTP/1.1 session on one client connection: read a head under the header deadline, read the
// body under the body deadline, route, answer, and keep the connection alive while allowed.
// Any framing error is answered (status + OpenAI-shaped body + Connection: close) and closes the
// connection, since the byte stream can no longer be trusted.
#include <cerrno>
#include <cstring>

#include <sys/socket.h>

#include <ringgate/http/request.hpp>
#include <ringgate/http/response.hpp>
#include <ringgate/runtime/clock.hpp>
#include <ringgate/runtime/log.hpp>

#include "endpoints.hpp"
#include "shard_server.hpp"

namespace rg::gateway {
namespace {

using net::read_status;
using runtime::ms_to_ns;

constexpr uint64_t no_deadline = UINT64_MAX;

void count_limit(shard_server& srv, uint16_t status) noexcept {
  auto& c = srv.counters();
  switch (status) {
    case 408: c.bump(c.limit_408); break;
    case 413: c.bump(c.limit_413); break;
    case 414: c.bump(c.limit_414); break;
    case 431: c.bump(c.limit_431); break;
    default: c.bump(c.bad_requests); break;
  }
}

// Reads (and for now discards) the request body. Returns 0, or the HTTP status to fail with
// (400/413 framing, 408 deadline), or -1 when the connection is gone.
runtime::task<int> read_body(shard_server& srv, connection& conn, const http::request_head& head,
                             uint64_t& body_bytes) {
  http::body_decoder dec;
  dec.start(head.body, head.content_length, srv.limits().body_bytes_max);
  uint64_t deadline =
      srv.shard().now_ns() + ms_to_ns(srv.cfg().server.timeouts.body_read_ms);
  while (!dec.done()) {
    std::string_view in = conn.io.input();
    while (!in.empty() && !dec.done()) {
      http::body_step st = dec.step(in);
      if (st.error.status != 0) co_return st.error.status;
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
  body_bytes = dec.decoded_bytes();
  co_return 0;
}

// After an error answer, the client may still be sending (an unread body, more pipelined
// requests). Closing now would make the kernel reset the connection and could destroy the answer
// before the client reads it, so half-close and discard input for a bounded time first.
runtime::task<void> linger_close(shard_server& srv, connection& conn) {
  constexpr uint64_t linger_ns = 2'000'000'000;  // nginx's lingering_timeout is 5 s
  constexpr size_t linger_bytes_max = 1 << 20;
  ::shutdown(conn.io.fd(), SHUT_WR);
  uint64_t deadline = srv.shard().now_ns() + linger_ns;
  size_t discarded = 0;
  while (discarded < linger_bytes_max) {
    discarded += conn.io.input().size();
    conn.io.consume(conn.io.input().size());
    if (co_await conn.io.read_more(deadline) != read_status::data) break;
  }
}

}  // namespace

runtime::task<void> serve_connection(shard_server& srv, connection& conn) {
  const auto& timeouts = srv.cfg().server.timeouts;
  const uint32_t requests_max = srv.cfg().server.limits.requests_per_connection_max;
  http::request_parser parser(srv.limits());
  http::request_head head;
  response_buffer out;
  uint32_t served = 0;
  bool open = true;
  bool linger = false;  // the client may still be sending: drain before closing

  while (open) {
    // 1. The head. An empty buffer waits under the keep-alive idle deadline (or the header
    //    deadline for a fresh connection); once a byte arrives, the header deadline applies.
    parser.reset();
    uint64_t head_deadline = conn.io.input().empty()
                                 ? no_deadline
                                 : srv.shard().now_ns() + ms_to_ns(timeouts.header_read_ms);
    http::head_result hr;
    for (;;) {
      hr = parser.parse(conn.io.input(), head);
      if (hr.status != http::parse_status::incomplete) break;
      uint64_t deadline = head_deadline;
      if (conn.io.input().empty()) {
        if (!out.empty()) {  // flush pipelined answers before waiting
          if (co_await out.flush(conn.io, srv) != 0) open = false;
          if (!open) break;
        }
        conn.idle = true;
        if (srv.draining()) {
          open = false;
          break;
        }
        conn.io.release_input_if_empty();
        deadline = srv.shard().now_ns() +
                   ms_to_ns(served == 0 ? timeouts.header_read_ms : timeouts.keepalive_idle_ms);
      }
      read_status rs = co_await conn.io.read_more(deadline);
      conn.idle = false;
      if (rs == read_status::data) {
        if (head_deadline == no_deadline) {
          head_deadline = srv.shard().now_ns() + ms_to_ns(timeouts.header_read_ms);
        }
        continue;
      }
      if (rs == read_status::timeout && !conn.io.input().empty()) {
        count_limit(srv, 408);
        out.error(408, "timed out reading the request head", "request_timeout", close_mode::close);
      } else if (rs == read_status::full) {
        count_limit(srv, 431);
        out.error(431, "request head too large", "request_header_fields_too_large",
                  close_mode::close);
      }
      open = false;
      break;
    }
    if (!open) break;
    if (hr.status == http::parse_status::error) {
      count_limit(srv, hr.error.status);
      out.error(hr.error.status, hr.error.message, hr.error.code, close_mode::close);
      linger = true;
      break;
    }
    conn.io.consume(hr.head_bytes);
    srv.counters().bump(srv.counters().requests);

    // 2. The body: 100 Continue when the client waits for it, then read within the deadline.
    if (head.expect_continue && head.body != http::body_kind::none && conn.io.input().empty()) {
      out.raw("HTTP/1.1 100 Continue\r\n\r\n");
      if (co_await out.flush(conn.io, srv) != 0) break;
    }
    uint64_t body_bytes = 0;
    if (head.body != http::body_kind::none) {
      int rc = co_await read_body(srv, conn, head, body_bytes);
      if (rc < 0) break;
      if (rc > 0) {
        count_limit(srv, uint16_t(rc));
        out.error(uint16_t(rc), rc == 408 ? "timed out reading the request body"
                                : rc == 413 ? "request body too large"
                                            : "malformed request body",
                  rc == 408 ? "request_timeout" : rc == 413 ? "payload_too_large" : "invalid_request",
                  close_mode::close);
        linger = true;
        break;
      }
    }

    // 3. Answer. Pipelined requests already buffered are answered in one send.
    ++served;
    bool keep = head.keep_alive && !srv.draining() && (requests_max == 0 || served < requests_max);
    handle_request(srv, head, out, keep ? close_mode::keep_alive : close_mode::close);
    if (!keep) break;
    if (conn.io.input().empty() || out.nearly_full()) {
      if (co_await out.flush(conn.io, srv) != 0) {
        open = false;
      }
    }
  }
  if (!out.empty() && !conn.io.aborted()) {
    if (co_await out.flush(conn.io, srv) == 0 && linger) co_await linger_close(srv, conn);
  }
  co_await conn.io.close();
  srv.release(conn);
}

}  // namespace rg::gateway
