// The request side of the proxy: validation, routing, the client watch, the upstream attempts
// (attempt.cpp, failover.cpp) and the buffered relay of non-streamed answers with error mapping.
#include "proxy.hpp"

#include <cerrno>
#include <cstring>

#include <ringgate/http/response.hpp>
#include <ringgate/httpd/body_buffer.hpp>
#include <ringgate/json/writer.hpp>
#include <ringgate/runtime/clock.hpp>
#include <ringgate/runtime/log.hpp>

#include "attempt.hpp"
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

runtime::task<void> watch_client(call_state& c) {
  c.watching = true;
  for (;;) {
    read_status rs = co_await c.ex.io().read_more(UINT64_MAX);
    if (c.stop_watch) break;
    if (rs == read_status::data) continue;  // pipelined bytes: leave them for the session
    if (rs == read_status::full) break;
    c.client_gone = true;
    proxy_counters::bump(c.h.counters().client_disconnects);
    cancel_attempts(c);
    break;
  }
  c.watching = false;
}

void stop_watching(call_state& c) noexcept {
  c.stop_watch = true;
  if (c.watching) c.ex.io().interrupt_reader();
}

// Buffers the whole upstream body and answers with it (mapping non-OpenAI error bodies).
runtime::task<bool> relay_buffered(call_state& c) {
  httpd::body_buffer body(c.h.body_blocks());
  http::body_decoder dec;
  dec.start(c.meta.body, c.meta.content_length, http::response_limits{}.body_bytes_max);
  const auto& opts = c.upstream_options();
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
  char ra_line[128] = {};
  size_t ra_len = 0;
  if (!retry.empty()) {
    ra_len = size_t(snprintf(ra_line, 64, "retry-after: %.*s\r\n", int(retry.size()), retry.data()));
  }
  ra_len += cost_header(c, ra_line + ra_len, sizeof(ra_line) - ra_len);  // governance
  std::string_view lines =
      response_header_lines(c, extra, sizeof(extra), std::string_view(ra_line, ra_len));
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

void fail(call_state& c, uint16_t status, std::string_view message, std::string_view code,
          std::string_view extra_headers) {
  c.error_code = code;
  char extra[256];
  std::string_view lines = response_header_lines(c, extra, sizeof(extra), extra_headers);
  c.ex.error(status, message, code, lines);
  if (status >= 500) proxy_counters::bump(c.h.counters().upstream_errors);
}

std::string_view response_header_lines(call_state& c, char* buf, size_t cap,
                                       std::string_view extra) {
  if (c.request_id_len == 0) return {};
  constexpr std::string_view name = "x-request-id: ";
  const size_t n = name.size() + c.request_id_len + 2 + extra.size();
  if (n > cap) return {};
  char* p = buf;
  std::memcpy(p, name.data(), name.size());
  p += name.size();
  std::memcpy(p, c.request_id, c.request_id_len);
  p += c.request_id_len;
  *p++ = '\r';
  *p++ = '\n';
  if (!extra.empty()) std::memcpy(p, extra.data(), extra.size());
  return {buf, n};
}

// What the access log and metrics need from a finished call.
void fill_note(const call_state& c, exchange_note& n) noexcept {
  n.model = c.info.model;
  if (c.route.model) n.model_json = c.route.model->quoted_name;  // the client asked for it by name
  n.stream = c.info.stream;
  if (c.winner.provider) {
    n.provider = c.winner.provider->name;
    n.provider_json = c.winner.provider->quoted_name;
    n.provider_index = uint32_t(c.winner.provider - c.h.routes().providers().data());
    if (c.winner.target) {
      n.upstream_model = c.winner.target->upstream_model;
      n.upstream_model_json = c.winner.target->quoted_upstream;
    } else {
      n.upstream_model = c.route.upstream_model;  // provider/model form: the client's text
    }
  } else if (c.route.provider) {
    n.provider = c.route.provider->name;
    n.provider_json = c.route.provider->quoted_name;
  }
  // The price of what ran: a fallback model's when one answered.
  const model_route* ran = c.served ? c.served : c.route.model;
  if (ran && ran->price.present) n.price = &ran->price;
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
    call_state& c;
    exchange_note& n;
    ~note_on_exit() {
      end_call(c, n);  // governance: settle the key's reservations, queue the ledger row
      fill_note(c, n);
    }
  } on_exit{c, note};
  c.started_ns = h.shard().now_ns();
  // The handler assigned the request id (the client's when valid); it goes upstream and back.
  std::memcpy(c.request_id, note.request_id, note.request_id_len);
  c.request_id_len = note.request_id_len;
  if (!authenticate(c, note)) co_return;  // governance: 401
  if (!route_request(c)) co_return;
  if (h.metrics()) note.model_slot = h.metrics()->model_slot(c.route);
  if (!admit(c, note)) co_return;  // governance: 403, 429
  c.injected_usage = kind == api::chat && c.info.stream && json::needs_include_usage(c.info);
  const auto& first = h.routes().endpoints()[c.route.provider->first_endpoint].ep->options();
  c.total_deadline_ns = c.started_ns + ms_to_ns(first.total_timeout_ms);

  runtime::spawn(watch_client(c));
  bool keep = false;
  bool upstream_failed = false;
  if (co_await run_attempts(c)) {
    if (c.meta.event_stream && c.meta.status == 200) {
      keep = co_await relay_stream(c) && c.meta.keep_alive;
    } else {
      keep = co_await relay_buffered(c);
    }
    upstream_failed = !c.client_gone && !c.error_code.empty();
  }
  c.relay_end_ns = runtime::monotonic_ns();
  stop_watching(c);
  finish_winner(c, keep && !c.client_gone, upstream_failed);
  if (c.client_gone) ex.force_close();
  if (c.usage.present()) {
    proxy_counters::bump(h.counters().tokens_in, uint64_t(std::max<int64_t>(c.usage.prompt_tokens, 0)));
    proxy_counters::bump(h.counters().tokens_out,
                         uint64_t(std::max<int64_t>(c.usage.completion_tokens, 0)));
  }
}

}  // namespace rg::gateway
