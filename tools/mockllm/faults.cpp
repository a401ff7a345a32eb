// Pacing and fault injection (see answer.hpp). Waits watch the connection with a read instead of
// sleeping blind, so a client that leaves mid-delay or mid-stall is noticed at once, and nothing
// spins. Each injected fault is counted once per request.
#include <sys/socket.h>

#include <cerrno>

#include <ringgate/http/response.hpp>
#include <ringgate/net/stream.hpp>
#include <ringgate/runtime/clock.hpp>
#include <ringgate/runtime/sleep.hpp>

#include "answer.hpp"

namespace rg::mockllm {
namespace {

using net::read_status;

// Holds the connection open, sending nothing, until the client closes it (or the bound passes).
// Bytes the client sends meanwhile are discarded: this connection is closed afterwards anyway.
runtime::task<void> stall(httpd::exchange& ex) {
  net::stream& io = ex.io();
  uint64_t deadline = ex.shard().now_ns() + runtime::ms_to_ns(delay_ms_max);
  for (;;) {
    io.consume(io.input().size());
    read_status rs = co_await io.read_more(deadline);
    if (rs != read_status::data && rs != read_status::full) break;
  }
}

// Closing with SO_LINGER {1, 0} makes the kernel send RST instead of FIN.
void arm_reset(httpd::exchange& ex) noexcept {
  linger lg{1, 0};
  ::setsockopt(ex.io().fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

std::string_view anthropic_error_type(uint16_t status) noexcept {
  switch (status) {
    case 400:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 529:
      return "overloaded_error";
    default:
      return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

// A protocol-shaped error body in the request's scratch; `message` is plain ASCII text.
std::string_view error_body(request_ctx& c, wire w, uint16_t status, std::string_view message) {
  if (w == wire::anthropic) {
    c.sc.add(R"({"type":"error","error":{"type":")").add(anthropic_error_type(status));
    c.sc.add(R"(","message":")").add(message).add(R"("}})");
    std::string_view body = c.sc.take();
    return c.sc.ok() ? body : std::string_view{};
  }
  char buf[512];
  size_t n = http::openai_error_body(std::span<char>(buf, sizeof(buf)), message,
                                     http::error_type_for_status(status),
                                     status == 400 ? "invalid_request" : "mock_injected");
  c.sc.add(std::string_view(buf, n));
  std::string_view body = c.sc.take();
  return c.sc.ok() ? body : std::string_view{};
}

}  // namespace

runtime::task<bool> client_gone_within(httpd::exchange& ex, uint64_t ms) {
  if (ms == 0) co_return false;
  uint64_t deadline = ex.shard().now_ns() + runtime::ms_to_ns(ms);
  for (;;) {
    // Pipelined bytes stay in the input for the session; a full input cannot be watched.
    read_status rs = co_await ex.io().read_more(deadline);
    switch (rs) {
      case read_status::data:
        continue;
      case read_status::timeout:
        co_return false;
      case read_status::full:
        co_await runtime::sleep_until(ex.shard(), deadline);
        co_return ex.io().aborted();
      default:
        co_return true;  // eof, error, cancelled (drain deadline)
    }
  }
}

runtime::task<bool> before_head(request_ctx& c) {
  if (c.p.delayed_head) c.st.on_fault(c.shard);
  bool gone = co_await client_gone_within(c.ex, c.p.first_byte_ms);
  if (gone) {
    c.st.on_abandoned(c.shard);
    c.ex.force_close();
    co_return false;
  }
  if (c.p.what == fault::close_before_headers) {
    c.st.on_fault(c.shard);
    c.ex.force_close();
    co_return false;
  }
  co_return true;
}

runtime::task<void> cut_answer(request_ctx& c) {
  c.st.on_fault(c.shard);
  fault what = c.p.what;
  // A content-length body cannot end early: it is cut by closing instead.
  if (what == fault::eof_after && c.w.body_framing() != framing::chunked) what = fault::close_after;
  if (what == fault::eof_after) {
    int rc = co_await c.w.finish();
    if (rc != 0) c.ex.force_close();
    co_return;
  }
  c.ex.force_close();
  int rc = co_await c.w.flush();
  if (rc != 0) co_return;
  if (what == fault::reset_after) arm_reset(c.ex);
  if (what == fault::stall_after) co_await stall(c.ex);
}

runtime::task<void> answer_status(request_ctx& c, wire w) {
  bool go = co_await before_head(c);
  if (!go) co_return;
  c.st.on_fault(c.shard);
  char status_text[64];
  scratch msg(status_text, sizeof(status_text));
  msg.add("mock injected status ").num(c.p.status);
  std::string_view body =
      c.p.error_body_set ? c.p.error_body : error_body(c, w, c.p.status, msg.take());
  char extra[256];
  scratch headers(extra, sizeof(extra));
  if (!c.p.retry_after.empty()) headers.add("retry-after: ").add(c.p.retry_after).add("\r\n");
  if (!c.p.retry_after_ms.empty()) {
    headers.add("retry-after-ms: ").add(c.p.retry_after_ms).add("\r\n");
  }
  co_await answer_body(c, c.p.status, body, headers.take());
}

runtime::task<void> answer_error(request_ctx& c, wire w, uint16_t status,
                                 std::string_view message) {
  co_await answer_body(c, status, error_body(c, w, status, message));
}

}  // namespace rg::mockllm
