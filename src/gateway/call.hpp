// The state of one proxied request, shared by the request side (proxy.cpp), the upstream
// attempts (attempt.cpp, failover.cpp) and the stream relay (relay.cpp). It lives in proxy()'s
// coroutine frame for the whole exchange; every attempt that runs beside the request's own
// coroutine (a hedge) finishes before that frame ends.
#pragma once

#include <cstdint>
#include <string_view>

#include <ringgate/http/response_parser.hpp>
#include <ringgate/httpd/exchange.hpp>
#include <ringgate/json/request.hpp>
#include <ringgate/json/response.hpp>
#include <ringgate/resilience/circuit.hpp>
#include <ringgate/resilience/retry.hpp>
#include <ringgate/runtime/alarm.hpp>
#include <ringgate/upstream/pool.hpp>

#include "govern.hpp"
#include "handler.hpp"
#include "proxy.hpp"
#include "routes.hpp"

namespace rg::gateway {

// What the relay needs from the upstream head, copied out before the head's bytes are consumed
// (the head's views point into the connection's input block, which later reads reuse).
struct upstream_meta {
  uint16_t status = 0;
  http::body_kind body = http::body_kind::none;
  uint64_t content_length = 0;
  bool keep_alive = false;
  bool event_stream = false;
  char content_type[128] = {};
  uint8_t content_type_len = 0;
  char retry_after[32] = {};
  uint8_t retry_after_len = 0;
  char retry_after_ms[24] = {};
  uint8_t retry_after_ms_len = 0;
  std::string_view content_type_view() const noexcept { return {content_type, content_type_len}; }
  std::string_view retry_after_view() const noexcept { return {retry_after, retry_after_len}; }
  std::string_view retry_after_ms_view() const noexcept {
    return {retry_after_ms, retry_after_ms_len};
  }
};

// What an attempt holds on one pool member: the circuit's permit and the concurrency slots of
// the endpoint and its provider. Given back exactly once (see failover.cpp).
struct lease {
  const pool_route* pool = nullptr;
  uint32_t member = 0;  // index into pool->members
  const endpoint_route* endpoint = nullptr;
  const provider_route* provider = nullptr;
  const target_route* target = nullptr;  // null for the provider/model form
  resilience::permit permit;
  bool judged = false;  // the circuit has its verdict (or the probe was abandoned)
  bool held = false;    // the slots are taken
};

// One upstream attempt: its lease, its connection and how it ended.
struct attempt_slot {
  lease l;
  upstream::connection* conn = nullptr;
  upstream_meta meta;
  resilience::outcome outcome = resilience::outcome::fatal;
  // How to answer the client when this failure is the last word (no upstream answer to relay).
  uint16_t fail_status = 502;
  std::string_view fail_message;  // static text, or `detail`
  std::string_view fail_code;
  char detail[200] = {};
  uint64_t sent_ns = 0;
  uint64_t head_ns = 0;
  uint32_t stale_retries = 0;  // reused connections found dead and replaced
  bool local_limit = false;    // failed on the gateway's own pool cap: says nothing of the endpoint
  // Hedging: the attempt runs in its own coroutine; the request's coroutine is woken when done.
  bool running = false;
  bool finished = false;
  bool cancelled = false;
  upstream::acquire_cancel cancel_token;

  bool answered() const noexcept { return outcome == resilience::outcome::answered; }
};

struct call_state {
  call_state(shard_handler& h_, httpd::exchange& ex_, api kind_) noexcept
      : h(h_), ex(ex_), kind(kind_), alarm(h_.shard()) {}

  shard_handler& h;
  httpd::exchange& ex;
  api kind;
  json::request_info info;
  resolved_model route;
  bool injected_usage = false;  // we asked for include_usage: strip the usage event
  char quote_scratch[300];
  char request_id[129];
  size_t request_id_len = 0;
  std::string_view request_id_view() const noexcept { return {request_id, request_id_len}; }

  // The answer being relayed: the winning attempt's.
  upstream_meta meta;
  upstream::connection* conn = nullptr;
  lease winner;
  const model_route* served = nullptr;       // whose pool answered: the model asked for, a fallback
  const endpoint_route* endpoint = nullptr;  // where the answer came from

  // Up to two attempts at once (the second is a hedge).
  attempt_slot attempts[2];
  runtime::alarm alarm;  // the request's own waits: backoff, queue, hedge; woken early by events

  json::usage usage;
  uint64_t started_ns = 0;
  uint64_t total_deadline_ns = 0;
  uint64_t acquire_ns = 0;        // started acquiring an upstream connection
  uint64_t relay_end_ns = 0;      // the relay of the upstream's answer ended
  uint64_t sent_ns = 0;           // the request went upstream (winning attempt)
  uint64_t upstream_head_ns = 0;  // its response head arrived
  uint32_t retries = 0;           // attempts after the first (stale connections included)
  std::string_view error_code;    // what went wrong, for the access log (static strings)

  // Client watch: a client that goes away while we wait on the upstream cancels the upstream.
  bool watching = false;
  bool stop_watch = false;
  bool client_gone = false;

  // The upstream options that bound the relay: the winning endpoint's.
  const upstream::endpoint_options& upstream_options() const noexcept {
    return endpoint->ep->options();
  }
  std::string_view provider_name() const noexcept {
    return winner.provider ? std::string_view(winner.provider->name) : std::string_view{};
  }
  call_governance gov;  // the virtual key, its admission ticket (govern.cpp)
};

// Answers the client with an OpenAI-shaped error (the x-request-id header included).
void fail(call_state& c, uint16_t status, std::string_view message, std::string_view code,
          std::string_view extra_headers = {});
// Renders "x-request-id: …\r\n" (and any extra lines) for responses.
std::string_view response_header_lines(call_state& c, char* buf, size_t cap,
                                       std::string_view extra = {});

// Relays an SSE stream from c.conn to the client. True when the upstream body ended cleanly (the
// connection may be pooled again).
runtime::task<bool> relay_stream(call_state& c);

}  // namespace rg::gateway
