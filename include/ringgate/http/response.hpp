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
class response_writer {
 public:
  explicit response_writer(std::span<char> out) noexcept : _out(out) {}
  response_writer& status_line(uint16_t status) noexcept;  // "HTTP/1.1 200 OK\r\n"
  response_writer& header(std::string_view name, std::string_view value) noexcept;
  response_writer& header(std::string_view name, uint64_t value) noexcept;
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
