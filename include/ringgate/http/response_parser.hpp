// HTTP/1.1 response head parser for the proxy's upstream side (RFC 9112 §4, §6.3, strict): a pure,
// resumable state machine, no I/O, no allocation; every view points into the caller's bytes.
#pragma once

#include <ringgate/http/request.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace rg::http {

struct response_limits {
  size_t head_bytes_max = 64 * 1024;      // status line + fields + final CRLF; over → 502
  size_t headers_max = 100;               // count; over → 502 (≤ headers_cap)
  uint64_t body_bytes_max = 64ull << 20;  // declared Content-Length over → 502
};

// What the request was, as far as the response's framing is concerned (RFC 9112 §6.3 rule 1).
enum class request_kind : uint8_t { normal, head_method };

struct response_head {
  uint16_t status = 0;  // 100..599, never 101
  version ver = version::http11;
  std::string_view reason;  // may be empty
  slots<header, headers_cap> headers;  // [0, header_count) are set
  size_t header_count = 0;
  // none always means "no body bytes follow the head": 1xx, 204, 304, a response to HEAD, and
  // Content-Length: 0. content_length is valid only when body == content_length (else 0).
  body_kind body = body_kind::none;
  uint64_t content_length = 0;
  // The upstream connection may carry another request after this response's body. Never true for
  // until_close.
  bool keep_alive = true;

  // An interim (1xx) response: skip head_bytes, reset() the parser, and parse the final response
  // from the next byte. It has no body.
  bool interim() const noexcept { return status < 200; }
  // Case-insensitive lookup of the first header with this name; nullptr when absent.
  const header* find(std::string_view name) const noexcept;
};

// Incremental response head parser, with request_parser's contract: the caller keeps the response's
// bytes contiguous from the first byte of the status line until the head completes and calls
// parse() again with the grown buffer; work stays linear in the head size, the buffer may move
// (offsets are kept, not pointers), `out` is written only on completion, the result is sticky
// until reset(), and the verdict depends only on the bytes, never on how they were split. `req`
// must be the same on every call for one response. Every error is a 502 (code "bad_gateway") with
// a static message naming the fault ("upstream sent an invalid status line"); after one the
// upstream connection must be closed.
//
// Choices made where RFC 9112 leaves room:
//  - status-line = HTTP-version SP 3DIGIT SP reason-phrase, reason may be empty; a missing SP
//    before an empty reason ("HTTP/1.1 200") is accepted, as real servers send it. No leading
//    empty lines (a stray CRLF before a response means the framing is already lost).
//  - HTTP/1.0 → http10; HTTP/1.1..1.9 → http11 (RFC 9110 §2.5); any other version → error.
//  - Status 100..599 only; 101 is an error (the gateway never asks to switch protocols).
//  - Lines end with CRLF only; bare LF or CR → error. Fields as strict as the request side: no
//    obs-fold, no whitespace before the colon, token names, no CTLs but HTAB in values.
//  - Transfer-Encoding must be exactly "chunked" (any case); any other value, a second
//    Transfer-Encoding field, TE in HTTP/1.0, TE with Content-Length, or TE on a 1xx/204 → error.
//    Content-Length: 1*19 DIGIT, one field only; a non-zero one on a 1xx/204 → error ("0" is
//    tolerated there). Both are checked on every response, bodiless or not.
//  - Framing (§6.3): 1xx, 204, 304 and responses to HEAD → none; chunked; Content-Length (over
//    body_bytes_max → error); otherwise until_close with keep_alive false.
//  - keep_alive: HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with "Connection: keep-alive".
class response_parser {
 public:
  explicit response_parser(const response_limits& limits) noexcept : _limits(limits) {}
  void reset() noexcept;
  head_result parse(std::string_view buffered, response_head& out, request_kind req) noexcept;

 private:
  enum class phase : uint8_t { status_line, fields, complete, failed };
  enum class line_scan : uint8_t { line, more, failed };
  struct span32 {
    uint32_t off = 0;
    uint32_t len = 0;
  };
  struct field_span {
    span32 name;
    span32 value;
  };

  line_scan find_line_end(std::string_view buffered, size_t& line_end) noexcept;
  bool on_status_line(std::string_view buffered, size_t line_end) noexcept;
  bool on_field_line(std::string_view buffered, size_t line_end) noexcept;
  bool on_known_field(std::string_view name, std::string_view value) noexcept;
  parse_error check_head(request_kind req) const noexcept;
  head_result finish(std::string_view buffered, response_head& out, request_kind req) noexcept;
  void fill(std::string_view buffered, response_head& out) const noexcept;
  bool fail(std::string_view message) noexcept;

  response_limits _limits;
  size_t _scanned = 0;     // next byte to examine; everything before it is accounted for
  size_t _line_start = 0;  // first byte of the line being scanned
  phase _phase = phase::status_line;
  uint8_t _flags = 0;  // facts gathered from known fields (see response_parser.cpp)
  uint16_t _status = 0;
  version _ver = version::http11;
  body_kind _body = body_kind::none;  // decided in finish()
  bool _keep_alive = false;           // decided in finish()
  head_result _result;
  span32 _reason;
  uint64_t _content_length = 0;
  uint32_t _field_count = 0;
  slots<field_span, headers_cap> _fields;  // [0, _field_count) are set
};

}  // namespace rg::http
