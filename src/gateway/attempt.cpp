// One upstream attempt (see attempt.hpp): the request head built from an allowlist for the
// attempt's provider and endpoint, the body spliced for its target's model, a pooled connection
// with one invisible replacement when a reused one is stale, and the response head.
// Invariant: nothing here writes to the client; every failure is left in the attempt_slot.
#include <cerrno>
#include <cstring>

#include <ringgate/http/response.hpp>
#include <ringgate/runtime/clock.hpp>
#include <ringgate/runtime/log.hpp>

#include "attempt.hpp"
#include "headers.hpp"

namespace rg::gateway {
namespace {

using net::read_status;
using resilience::outcome;
using runtime::ms_to_ns;

enum class head_outcome : uint8_t { ok, stale, failed };

void set_failure(attempt_slot& a, outcome o, uint16_t status, std::string_view message,
                 std::string_view code) noexcept {
  a.outcome = o;
  a.fail_status = status;
  a.fail_message = message;
  a.fail_code = code;
}

// The upstream request head. Returns its length, or 0 when it does not fit.
size_t build_head(call_state& c, const lease& l, size_t body_bytes, char* buf, size_t cap) {
  const auto& ep = l.endpoint->ep->options();
  http::response_writer w(std::span<char>(buf, cap));  // a byte appender with overflow checks
  w.raw("POST ").raw(ep.base_path).raw(c.kind == api::chat ? "/chat/completions" : "/embeddings");
  w.raw(" HTTP/1.1\r\n");
  w.header("host", ep.host_header);
  w.raw(l.provider->header_lines);
  w.header("content-type", "application/json");
  w.header("content-length", uint64_t(body_bytes));
  w.header("accept-encoding", "identity");
  w.header("x-request-id", c.request_id_view());
  const auto& head = c.ex.head();
  for (size_t i = 0; i < head.header_count; ++i) {
    const http::header& h = head.headers[i];
    if (forwarded_header(l.provider->forward, h.name)) w.checked_header(h.name, h.value);
  }
  w.end_head();
  return w.ok() ? w.size() : 0;
}

void copy_header(const http::response_head& resp, std::string_view name, char* out, size_t cap,
                 uint8_t& len) noexcept {
  len = 0;
  if (const http::header* h = resp.find(name); h && h->value.size() <= cap) {
    len = uint8_t(h->value.size());
    std::memcpy(out, h->value.data(), h->value.size());
  }
}

void capture_meta(const http::response_head& resp, upstream_meta& m) noexcept {
  m.status = resp.status;
  m.body = resp.body;
  m.content_length = resp.content_length;
  m.keep_alive = resp.keep_alive;
  std::string_view ct = "application/json";
  if (const http::header* h = resp.find("content-type")) ct = h->value;
  m.content_type_len = uint8_t(std::min(ct.size(), sizeof(m.content_type)));
  std::memcpy(m.content_type, ct.data(), m.content_type_len);
  m.event_stream = m.content_type_view().starts_with("text/event-stream");
  copy_header(resp, "retry-after", m.retry_after, sizeof(m.retry_after), m.retry_after_len);
  copy_header(resp, "retry-after-ms", m.retry_after_ms, sizeof(m.retry_after_ms),
              m.retry_after_ms_len);
}

// Sends the request on a.conn and reads the response head (skipping 1xx).
runtime::task<head_outcome> exchange_head(call_state& c, attempt_slot& a,
                                          std::span<const iovec> request) {
  iovec iov[json::splice::pieces_max + 1];
  std::memcpy(iov, request.data(), request.size() * sizeof(iovec));
  const auto& opts = a.l.endpoint->ep->options();
  net::stream& io = a.conn->io;
  bool reused = a.conn->uses > 1;
  a.sent_ns = runtime::monotonic_ns();
  int rc = co_await io.send_all(std::span<iovec>(iov, request.size()), c.total_deadline_ns);
  if (rc < 0) {
    if (a.cancelled || c.client_gone) co_return head_outcome::failed;
    if (reused) co_return head_outcome::stale;
    set_failure(a, outcome::reset, 502, "upstream connection failed while sending the request",
                "upstream_error");
    co_return head_outcome::failed;
  }
  uint64_t first_byte_deadline =
      std::min(c.total_deadline_ns, c.h.shard().now_ns() + ms_to_ns(opts.first_byte_timeout_ms));
  http::response_parser parser{http::response_limits{}};
  http::response_head resp;
  bool interim_seen = false;
  // A stream's answer is read in hold mode: when its head is whole in the first buffer received
  // (the usual case), it is parsed there, and the events that came with it stay in that buffer
  // for the relay to send from (zero-copy), where copy mode copied them into the input block
  // first (~95 % of a burst's bytes, 6 % of the proxy's CPU with the relay's gather copy, perf).
  // Any other answer (not a 200 event stream), or a head that is not whole in that buffer, goes
  // back to copy mode with every byte in input(), as without this.
  bool in_place = c.info.stream && !io.secure() && io.input().empty() && io.buffers_queued() == 0;
  if (in_place) io.set_rx_mode(net::stream::rx_mode::hold);
  for (;;) {
    std::string_view front;
    if (in_place && io.front_buffer(front)) {
      http::head_result hr = parser.parse(front, resp, http::request_kind::normal);
      in_place = false;
      if (hr.status == http::parse_status::complete && !resp.interim()) {
        a.head_ns = runtime::monotonic_ns();
        capture_meta(resp, a.meta);  // before skip_front() may recycle the buffer
        io.skip_front(hr.head_bytes);
        if (!(a.meta.event_stream && a.meta.status == 200)) io.settle();  // not for relay_stream
        a.outcome = outcome::answered;
        co_return head_outcome::ok;
      }
      io.settle();  // input() now starts with the bytes just parsed: the parser goes on from them
      continue;
    }
    http::head_result hr =
        in_place ? http::head_result{} : parser.parse(io.input(), resp, http::request_kind::normal);
    if (hr.status == http::parse_status::complete) {
      io.consume(hr.head_bytes);
      if (!resp.interim()) {
        a.head_ns = runtime::monotonic_ns();
        capture_meta(resp, a.meta);
        a.outcome = outcome::answered;
        co_return head_outcome::ok;
      }
      parser.reset();
      interim_seen = true;
      continue;
    }
    if (hr.status == http::parse_status::error) {
      set_failure(a, outcome::fatal, 502, "upstream sent an invalid response", "upstream_error");
      co_return head_outcome::failed;
    }
    read_status rs = co_await io.read_more(first_byte_deadline);
    if (rs == read_status::data) continue;
    if (a.cancelled || c.client_gone) co_return head_outcome::failed;
    bool nothing = io.input().empty() && !interim_seen;
    if ((rs == read_status::eof || rs == read_status::error) && nothing && reused) {
      co_return head_outcome::stale;
    }
    if (rs == read_status::timeout) {
      set_failure(a, outcome::timeout, 504, "upstream timed out before responding",
                  "upstream_timeout");
    } else {
      set_failure(a, outcome::reset, 502, "upstream closed the connection before responding",
                  "upstream_error");
    }
    co_return head_outcome::failed;
  }
}

// A connection could not be had: the request was never sent.
void connect_failed(call_state& c, attempt_slot& a, const error& e) {
  const auto& opts = a.l.endpoint->ep->options();
  if (e.kind == error_kind::cancelled) {
    set_failure(a, outcome::fatal, 502, "upstream attempt cancelled", "upstream_error");
  } else if (e.kind == error_kind::tls) {
    // No byte (and no key) reached an unverified peer. A verification failure will fail again.
    int n = snprintf(a.detail, sizeof(a.detail), "upstream TLS: %.*s for %s", int(e.context.size()),
                     e.context.data(), opts.host.c_str());
    size_t len = n < 0 ? 0 : std::min(size_t(n), sizeof(a.detail) - 1);
    set_failure(a, e.retryable ? outcome::connect : outcome::fatal, 502,
                std::string_view(a.detail, len), "upstream_tls_error");
  } else if (e.kind == error_kind::limit) {
    // This shard's pool for the endpoint is at connections_max (logged, rate-limited, and
    // counted by the pool): the gateway's own limit, so another endpoint may still be tried.
    set_failure(a, outcome::connect, 503, "upstream connection pool exhausted",
                "upstream_pool_exhausted");
    a.local_limit = true;
  } else if (e.kind == error_kind::timeout) {
    set_failure(a, outcome::connect, 504, "upstream connect timed out", "upstream_timeout");
  } else {
    set_failure(a, outcome::connect, 502, "upstream connection failed", "upstream_error");
    log::warn("upstream connect failed", {{"provider", a.l.provider->name},
                                          {"endpoint", a.l.endpoint->label},
                                          {"error", strerror(e.sys_errno)},
                                          {"request_id", c.request_id_view()}});
  }
}

}  // namespace

runtime::task<void> run_attempt(call_state& c, attempt_slot& a) {
  json::rewrite_options rw;
  rw.quoted_model = a.l.target
                        ? (a.l.target->rewrite ? std::string_view(a.l.target->quoted_upstream)
                                               : std::string_view{})
                        : c.route.quoted_upstream;
  if (c.injected_usage) rw.usage = json::usage_policy::ensure_included;
  json::splice body = json::rewrite_request(c.ex.body(), c.info, rw);
  char head[4096];
  size_t head_len = build_head(c, a.l, body.total_bytes(), head, sizeof(head));
  if (head_len == 0) {
    set_failure(a, outcome::fatal, 400, "request headers too large to forward", "invalid_request");
    co_return;
  }
  iovec request[json::splice::pieces_max + 1];
  request[0] = {head, head_len};
  for (size_t i = 0; i < body.count; ++i) {
    request[i + 1] = {const_cast<char*>(body.pieces[i].data()), body.pieces[i].size()};
  }
  std::span<const iovec> req(request, body.count + 1);
  upstream::pool& pool = c.h.pool_for(*a.l.endpoint);
  proxy_counters::bump(c.h.counters().upstream_requests);
  for (int round = 0; round < 2; ++round) {
    auto conn = co_await pool.acquire(round > 0, &a.cancel_token);
    if (!conn) {
      connect_failed(c, a, conn.error());
      co_return;
    }
    if (a.cancelled || c.client_gone) {
      // Gone while we waited for the connection: it carried nothing, so it goes back as it is.
      pool.release(*conn, upstream::reuse::keep);
      set_failure(a, outcome::fatal, 502, "upstream attempt cancelled", "upstream_error");
      co_return;
    }
    a.conn = *conn;
    head_outcome ho = co_await exchange_head(c, a, req);
    if (ho != head_outcome::stale) {
      if (ho == head_outcome::failed && (a.cancelled || c.client_gone)) {
        set_failure(a, outcome::fatal, 502, "upstream attempt cancelled", "upstream_error");
      }
      co_return;
    }
    // A pooled connection the server had closed: never the client's problem. Once, fresh.
    proxy_counters::bump(c.h.counters().stale_retries);
    ++a.stale_retries;
    pool.release(a.conn, upstream::reuse::close);
    a.conn = nullptr;
  }
  set_failure(a, outcome::reset, 502, "upstream closed the connection before responding",
              "upstream_error");
}

}  // namespace rg::gateway
