// HTTP/1.1 response writing into caller-provided buffers: status line, headers, chunked framing,
// and error bodies in OpenAI's shape. No allocation; overflow is reported, never truncated
// silently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace rg::http {

std::string_view reason_phrase(uint16_t status) noexcept;

// Appends into a fixed buffer. ok() turns false (and stays false) when anything did not fit, or
// when a piece was refused: a status outside 100..999, a header name that is not a token, or a
// header value holding CR, LF or NUL (no response splitting). A refused or oversized piece is not
// written at all, and nothing is appended once ok() is false.
// A header name fixed when the program is compiled (a string literal), checked to be an RFC 9110
// token then: writing it costs no per-byte check (which was ~70 instructions a header).
class static_name {
 public:
  template <size_t N>
  consteval static_name(const char (&name)[N]) : _text(name, N - 1) {  // NOLINT: implicit
    if (_text.empty()) throw "a header name is not empty";
    for (char c : _text) {
      if (!tchar(c)) throw "a header name is an RFC 9110 token";
    }
  }
  constexpr std::string_view text() const noexcept { return _text; }

 private:
  static constexpr bool tchar(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  }
  std::string_view _text;
};

class response_writer {
 public:
  explicit response_writer(std::span<char> out) noexcept : _out(out) {}
  response_writer& status_line(uint16_t status) noexcept;  // "HTTP/1.1 200 OK\r\n"
  // The value is checked (no CR, LF or NUL); a bad one makes ok() false.
  response_writer& header(static_name name, std::string_view value) noexcept;
  response_writer& header(static_name name, uint64_t value) noexcept;
  // A name made at run time: checked to be a token too.
  response_writer& checked_header(std::string_view name, std::string_view value) noexcept;
  response_writer& end_head() noexcept;  // "\r\n"
  response_writer& raw(std::string_view bytes) noexcept;
  bool ok() const noexcept { return _ok; }
  size_t size() const noexcept { return _len; }
  std::string_view view() const noexcept { return {_out.data(), _len}; }
  void clear() noexcept {
    _len = 0;
    _ok = true;
  }

 private:
  response_writer& put_header(std::string_view name, std::string_view value) noexcept;

  std::span<char> _out;
  size_t _len = 0;
  bool _ok = true;
};

// Chunk framing: "<hex>\r\n" written into `out` (at least 18 bytes); returns the bytes written.
// The payload and the trailing "\r\n" are sent by the caller (e.g. as separate iovecs).
size_t chunk_header(uint64_t payload_bytes, char* out) noexcept;
inline constexpr std::string_view chunk_trailer = "\r\n";
inline constexpr std::string_view last_chunk = "0\r\n\r\n";

// OpenAI's error shape: {"error":{"message":"…","type":"…","code":"…"}} with the message
// JSON-escaped. `type` e.g. "invalid_request_error", "not_found_error", "server_error". Returns
// bytes written, or 0 when it does not fit. Escaping: `"` and `\` backslashed, control bytes as
// \u00XX, invalid UTF-8 replaced by \ufffd (so the body is always valid JSON); an empty `code` is
// written as null.
size_t openai_error_body(std::span<char> out, std::string_view message, std::string_view type,
                         std::string_view code) noexcept;

// The OpenAI error `type` conventionally used for a status: 401 authentication_error,
// 403 permission_error, 404 not_found_error, 408 timeout_error, 429 rate_limit_error, other 4xx
// invalid_request_error, 5xx server_error, anything else api_error.
std::string_view error_type_for_status(uint16_t status) noexcept;

}  // namespace rg::http
