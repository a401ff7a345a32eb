// The error type of every fallible step: what failed, who is to blame, and whether a retry may help.
// Errors are values (std::expected), never exceptions, on the request path.
#pragma once

#include <cstdint>
#include <string_view>

namespace rg {

enum class error_source : uint8_t { client, upstream, gateway };

enum class error_kind : uint8_t {
  io,          // a socket operation failed (errno set)
  closed,      // the peer closed the connection
  timeout,     // a deadline passed
  cancelled,   // we cancelled it (shutdown, disconnect of the other side)
  protocol,    // the peer broke the protocol (HTTP framing, JSON)
  tls,         // a TLS handshake or certificate verification failed (context: the reason)
  limit,       // a configured bound was hit
  config,      // invalid configuration
  internal,    // a bug or an impossible state
};

struct error {
  error_kind kind = error_kind::internal;
  error_source source = error_source::gateway;
  bool retryable = false;
  int sys_errno = 0;
  std::string_view context;  // static text: "recv", "connect to upstream", …
};

std::string_view to_string(error_kind k) noexcept;
std::string_view to_string(error_source s) noexcept;

}  // namespace rg
