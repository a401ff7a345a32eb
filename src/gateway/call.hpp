// The state of one proxied request, shared by the request side (proxy.cpp) and the stream relay
// (relay.cpp). It lives in proxy()'s coroutine frame for the whole exchange.
#pragma once

#include <cstdint>
#include <string_view>

#include <ringgate/http/response_parser.hpp>
#include <ringgate/httpd/exchange.hpp>
#include <ringgate/json/request.hpp>
#include <ringgate/json/response.hpp>
#include <ringgate/upstream/pool.hpp>

#include "handler.hpp"
#include "proxy.hpp"
#include "routes.hpp"

namespace rg::gateway {

struct call_state {
  call_state(shard_handler& h_, httpd::exchange& ex_, api kind_) noexcept
      : h(h_), ex(ex_), kind(kind_), parser(http::response_limits{}) {}

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
    std::string_view content_type_view() const noexcept { return {content_type, content_type_len}; }
    std::string_view retry_after_view() const noexcept { return {retry_after, retry_after_len}; }
  } meta;

  upstream::connection* conn = nullptr;
  http::response_parser parser;
  http::response_head resp;
  json::usage usage;
  uint64_t started_ns = 0;
  uint64_t total_deadline_ns = 0;
  uint64_t acquire_ns = 0;        // started acquiring an upstream connection
  uint64_t relay_end_ns = 0;      // the relay of the upstream's answer ended
  uint64_t sent_ns = 0;           // the request went upstream (last attempt)
  uint64_t upstream_head_ns = 0;  // its response head arrived
  uint32_t retries = 0;           // attempts after the first (a stale pooled connection)
  std::string_view error_code;    // what went wrong, for the access log (static strings)

  // Client watch: a client that goes away while we wait on the upstream cancels the upstream.
  bool watching = false;
  bool stop_watch = false;
  bool client_gone = false;
};

// Answers the client with an OpenAI-shaped error (the x-request-id header included).
void fail(call_state& c, uint16_t status, std::string_view message, std::string_view code);
// Renders "x-request-id: …\r\n" (and any extra lines) for responses.
std::string_view response_header_lines(call_state& c, char* buf, size_t cap,
                                       std::string_view extra = {});

// Relays an SSE stream from c.conn to the client. True when the upstream body ended cleanly (the
// connection may be pooled again).
runtime::task<bool> relay_stream(call_state& c);

}  // namespace rg::gateway
