// HTTP/1.1 request head parser and body decoder (RFC 9112): pure state machines, no I/O,
// no allocation. Every view returned points into the caller's buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

namespace rg::http {

enum class method : uint8_t {
  get,
  head,
  post,
  put,
  delete_,
  options,
  patch,
  connect,
  trace,
  other
};
enum class version : uint8_t { http10, http11 };
// until_close: a response body delimited by the upstream closing the connection (RFC 9112 §6.3
// rule 8). The request parser never produces it.
enum class body_kind : uint8_t { none, content_length, chunked, until_close };

struct header {
  std::string_view name;   // as sent (case preserved)
  std::string_view value;  // OWS trimmed on both sides
};

// Hard caps; the runtime limits below may only be smaller.
inline constexpr size_t headers_cap = 128;

// N slots that construction leaves uninitialised. A head has room for headers_cap fields, and
// zeroing those 4 KB (and the parser's 1 KB of offsets) for every request cost more instructions
// than parsing a small head (callgrind). Holders read only the slots [0, count) they wrote.
template <class T, size_t N>
struct slots {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>);
  slots() noexcept {}  // NOLINT: deliberately leaves `items` uninitialised
  T& operator[](size_t i) noexcept { return items[i]; }
  const T& operator[](size_t i) const noexcept { return items[i]; }
  union {
    T items[N];
  };
};

struct request_limits {
  size_t request_line_bytes_max = 8 * 1024;  // over → 414
  size_t head_bytes_max = 32 * 1024;         // whole head incl. request line; over → 431
  size_t headers_max = 100;                  // count; over → 431 (≤ headers_cap)
  uint64_t body_bytes_max =
      8 * 1024 * 1024;  // declared Content-Length over → 413; chunked total over → 413
};

// A rejection: the status to answer with, and a short message safe to show the client.
// After any error the connection must be closed (the framing can no longer be trusted).
struct parse_error {
  uint16_t status = 0;       // 400, 413, 414, 417, 431, 501, 505
  std::string_view message;  // static string, e.g. "invalid Content-Length"
  std::string_view code;     // static OpenAI-style error code, e.g. "invalid_request"
};

struct request_head {
  method meth = method::other;
  std::string_view method_text;
  std::string_view target;  // request-target as sent (origin-form path + query)
  version ver = version::http11;
  slots<header, headers_cap> headers;  // [0, header_count) are set
  size_t header_count = 0;
  // Content-Length: 0 is reported as body_kind::none (with content_length 0): `none` always means
  // "no body bytes follow the head", so callers never have to special-case an empty body.
  body_kind body = body_kind::none;
  uint64_t content_length = 0;   // valid when body == content_length
  bool keep_alive = true;        // from version + Connection header
  bool expect_continue = false;  // Expect: 100-continue (HTTP/1.1 only)
  std::string_view host;         // Host value; for absolute-form targets the target's authority

  // Case-insensitive lookup of the first header with this name; nullptr when absent.
  const header* find(std::string_view name) const noexcept;
  // Target without the query string.
  std::string_view path() const noexcept;
};

enum class parse_status : uint8_t { incomplete, complete, error };

struct head_result {
  parse_status status = parse_status::incomplete;
  size_t head_bytes = 0;  // when complete: bytes of the head including the final CRLFCRLF
  parse_error error;      // when error
};

// Incremental head parser. The caller keeps the request's bytes contiguous from the first byte of
// the request line until the head completes, and calls parse() again with the grown buffer; the
// parser resumes where it stopped, so total work stays linear in the head size.
//
// The parser keeps offsets, not pointers: the buffer may move between calls (only its contents
// must stay), and `out` is written only when the head completes (untouched while incomplete or on
// error). Once complete or failed the result is sticky until reset(). The verdict is a function of
// the bytes alone: feeding them at once or one at a time gives the same result. Choices made where
// RFC 9112 leaves room:
//  - Up to head_bytes_max bytes of leading empty lines (CRLF) are skipped; head_bytes counts them.
//  - request-target: origin-form, "*" (OPTIONS only) or absolute-form http(s)://authority...;
//    authority-form (CONNECT) → 400. Bytes outside 0x21..0x7E and '#' → 400.
//  - Only HTTP/1.0 and HTTP/1.1; any other well-formed HTTP/D.D → 505, malformed → 400.
//  - Transfer-Encoding: exactly "chunked" (any case) is accepted. Empty or malformed list, chunked
//    twice, or chunked not last → 400; any other well-formed coding list ("gzip", "identity",
//    "gzip, chunked") → 501. Either way the connection must close.
//  - Expect (HTTP/1.1): "100-continue" (any case) sets expect_continue, anything else → 417.
//    HTTP/1.0 requests' Expect is ignored (RFC 9110 §10.1.1).
//  - Host must be a valid uri-host[:port] (may be empty); exactly one for HTTP/1.1, at most one
//    for HTTP/1.0.
class request_parser {
 public:
  explicit request_parser(const request_limits& limits) noexcept : _limits(limits) {}
  void reset() noexcept;
  head_result parse(std::string_view buffered, request_head& out) noexcept;

 private:
  enum class phase : uint8_t { request_line, fields, complete, failed };
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
  bool on_request_line(std::string_view buffered, size_t line_end) noexcept;
  bool on_field_line(std::string_view buffered, size_t line_end) noexcept;
  bool on_known_field(std::string_view name, std::string_view value, span32 value_span) noexcept;
  parse_error check_head(std::string_view buffered) const noexcept;
  head_result finish(std::string_view buffered, request_head& out) noexcept;
  void fill(std::string_view buffered, request_head& out) const noexcept;
  bool fail(parse_error error) noexcept;

  request_limits _limits;
  size_t _scanned = 0;     // next byte to examine; everything before it is accounted for
  size_t _line_start = 0;  // first byte of the line being scanned
  phase _phase = phase::request_line;
  uint8_t _flags = 0;  // facts gathered from known fields (see request.cpp)
  uint8_t _host_count = 0;
  method _meth = method::other;
  version _ver = version::http11;
  head_result _result;
  span32 _method;
  span32 _target;
  span32 _host;
  span32 _transfer_encoding;
  uint64_t _content_length = 0;
  uint32_t _field_count = 0;
  slots<field_span, headers_cap> _fields;  // [0, _field_count) are set
};

// Bounds of the chunked framing the decoder accepts; over either → 400.
inline constexpr size_t chunk_line_bytes_max = 4096;  // chunk-size line incl. extensions, no CRLF
inline constexpr size_t trailer_bytes_max = 8192;     // whole trailer section incl. CRLFs

// Who sent the body being decoded: it decides the status of an error (the gateway's client or
// the gateway's upstream is at fault).
enum class body_origin : uint8_t { client, upstream };

// Decodes a body framed by Content-Length, chunked coding, or (responses only) the peer closing.
// Chunk extensions are ignored, trailers are read and dropped. Returned data views point into the
// input given to step(). A step returns at most one data view and stops right after it; a done
// body consumed exactly up to its last byte, so a pipelined message starts at the next input
// byte. start() with body_kind::none or Content-Length 0 is done at once; a Content-Length over
// body_bytes_max fails the first step with 413. An until_close body passes every byte through,
// fails with 413 on the first byte past body_bytes_max, and is done only by finish_eof(). Errors
// are sticky until start(). With body_origin::upstream every error is a 502 (code "bad_gateway"),
// as the gateway answers its client 502 when an upstream's framing is broken, with one of three
// messages: "upstream sent invalid chunked framing", "upstream response body too large",
// "upstream closed before the end of the body".
struct body_step {
  size_t consumed = 0;    // input bytes consumed by this step
  std::string_view data;  // payload bytes produced (a sub-view of the input); may be empty
  bool done = false;      // the body (incl. trailers) is complete
  parse_error error;      // error.status != 0 on a framing error (400, 413; 502 upstream)
};

class body_decoder {
 public:
  void start(body_kind kind, uint64_t content_length, uint64_t body_bytes_max,
             body_origin origin = body_origin::client) noexcept;
  // Consume a prefix of `in`. Call repeatedly with the remaining input until it is empty, done,
  // or an error is set; a step that consumes nothing and is not done needs more input.
  body_step step(std::string_view in) noexcept;
  // The peer closed the connection (read returned 0). Completes an until_close body; any other
  // body that is not done yet fails ("upstream closed before the end of the body", 502; for a
  // client 400). Consumes nothing; a done body or a set error is returned unchanged.
  body_step finish_eof() noexcept;
  bool done() const noexcept { return _done; }
  uint64_t decoded_bytes() const noexcept { return _decoded; }

 private:
  enum class chunk_state : uint8_t {
    size,         // chunk-size hex digits
    size_ws,      // BWS after the size; only ";" may follow
    ext,          // chunk extensions, ignored
    size_lf,      // LF ending the chunk-size line
    data,         // chunk payload
    data_cr,      // CR after the payload
    data_lf,      // LF after the payload
    trailer_bol,  // start of a trailer line (or the final empty line)
    trailer,      // inside a trailer field line
    trailer_lf,   // LF ending a trailer field line
    end_lf,       // LF of the final empty line
  };

  body_step step_chunked(std::string_view in) noexcept;
  bool on_framing_byte(char c) noexcept;
  bool on_size_line_byte(char c) noexcept;
  bool on_trailer_byte(char c) noexcept;
  bool fail(uint16_t status, std::string_view message) noexcept;

  body_origin _origin = body_origin::client;
  body_kind _kind = body_kind::none;
  uint64_t _remaining = 0;  // Content-Length bytes left, or the chunk size being read / left
  uint64_t _decoded = 0;
  uint64_t _max = 0;
  chunk_state _state = chunk_state::size;
  uint8_t _digits = 0;
  uint32_t _line_len = 0;
  uint32_t _trailer_bytes = 0;
  bool _done = true;
  parse_error _error;
};

// "GET", "POST", …; "OTHER" for method::other (use request_head::method_text for the bytes).
std::string_view method_name(method m) noexcept;

}  // namespace rg::http
