// Per-request state of a server session, pooled per shard (see shard_listener::acquire_request).
#pragma once

#include <ringgate/http/request.hpp>
#include <ringgate/httpd/exchange.hpp>
#include <ringgate/httpd/listener.hpp>

namespace rg::httpd {

struct shard_listener::request_state {
  explicit request_state(const http::request_limits& limits) noexcept : parser(limits) {}
  http::request_parser parser;
  http::request_head head;
  response_buffer out;
};

}  // namespace rg::httpd
