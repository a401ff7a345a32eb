// HTTP/1.1 response writing into fixed buffers: status line, headers, chunk headers and
// OpenAI-shaped error bodies. Nothing is ever partially written: a piece fits whole or ok() turns
// false.
#include <ringgate/http/response.hpp>

#include <cstring>

#include "chars.hpp"

namespace rg::http {
namespace {

using namespace detail;

constexpr char hex_digits[] = "0123456789abcdef";

// Decimal digits of `v` written right-aligned ending at `end`; returns the first digit.
char* format_decimal(uint64_t v, char* end) noexcept {
  char* p = end;
  do {
    *--p = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  return p;
}

// No CR, LF or NUL (eight bytes per step: this runs for every header of every answer).
bool safe_header_value(std::string_view v) noexcept {
  const char* p = v.data();
  size_t i = 0;
  while (swar_enabled && v.size() - i >= 8) {
    const uint64_t w = load64(p + i);
    if ((has_byte_equal(w, '\r') | has_byte_equal(w, '\n') | has_byte_less(w, 1)) != 0) {
      return false;
    }
    i += 8;
  }
  for (; i < v.size(); ++i) {
    if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0') return false;
  }
  return true;
}

// Length of the valid UTF-8 sequence starting at s[0] (s[0] >= 0x80), or 0 when invalid.
size_t utf8_sequence_len(std::string_view s) noexcept {
  const auto byte = [s](size_t i) { return static_cast<unsigned char>(s[i]); };
  const auto cont = [&](size_t i) { return i < s.size() && (byte(i) & 0xC0) == 0x80; };
  const unsigned c = byte(0);
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && byte(1) < 0xA0) return 0;  // overlong
    if (c == 0xED && byte(1) > 0x9F) return 0;  // UTF-16 surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && byte(1) < 0x90) return 0;  // overlong
    if (c == 0xF4 && byte(1) > 0x8F) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

// Appends into a span; remembers overflow so callers check once at the end.
class appender {
 public:
  explicit appender(std::span<char> out) noexcept : _out(out) {}
  void put(std::string_view s) noexcept {
    if (!_ok || s.size() > _out.size() - _len) {
      _ok = false;
      return;
    }
    std::memcpy(_out.data() + _len, s.data(), s.size());
    _len += s.size();
  }
  // A JSON string literal with its quotes (RFC 8259 §7).
  void json_string(std::string_view s) noexcept {
    put("\"");
    size_t run = 0;  // start of the pending run of bytes copied verbatim
    for (size_t i = 0; i < s.size();) {
      const auto c = static_cast<unsigned char>(s[i]);
      size_t len = 1;
      const char* escape = nullptr;
      char u_escape[7] = "\\u00__";
      if (c == '"') {
        escape = "\\\"";
      } else if (c == '\\') {
        escape = "\\\\";
      } else if (c < 0x20) {
        u_escape[4] = hex_digits[c >> 4];
        u_escape[5] = hex_digits[c & 0xF];
        escape = u_escape;
      } else if (c >= 0x80) {
        len = utf8_sequence_len(s.substr(i));
        if (len == 0) {
          escape = "\\ufffd";
          len = 1;
        }
      }
      if (escape != nullptr) {
        put(s.substr(run, i - run));
        put(escape);
        run = i + len;
      }
      i += len;
    }
    put(s.substr(run));
    put("\"");
  }
  bool ok() const noexcept { return _ok; }
  size_t size() const noexcept { return _len; }

 private:
  std::span<char> _out;
  size_t _len = 0;
  bool _ok = true;
};

}  // namespace

std::string_view reason_phrase(uint16_t status) noexcept {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 402:
      return "Payment Required";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 421:
      return "Misdirected Request";
    case 422:
      return "Unprocessable Content";
    case 425:
      return "Too Early";
    case 426:
      return "Upgrade Required";
    case 428:
      return "Precondition Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 451:
      return "Unavailable For Legal Reasons";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "";
  }
}

response_writer& response_writer::status_line(uint16_t status) noexcept {
  if (status < 100 || status > 999) {
    _ok = false;
    return *this;
  }
  char line[64] = "HTTP/1.1 ";
  size_t n = 9;
  format_decimal(status, line + n + 3);
  n += 3;
  line[n++] = ' ';
  const std::string_view reason = reason_phrase(status);
  std::memcpy(line + n, reason.data(), reason.size());
  n += reason.size();
  line[n++] = '\r';
  line[n++] = '\n';
  return raw({line, n});
}

response_writer& response_writer::checked_header(std::string_view name,
                                                 std::string_view value) noexcept {
  if (!is_token(name)) _ok = false;
  return put_header(name, value);
}

response_writer& response_writer::header(static_name name, std::string_view value) noexcept {
  return put_header(name.text(), value);
}

response_writer& response_writer::header(static_name name, uint64_t value) noexcept {
  char digits[20];
  const char* first = format_decimal(value, digits + sizeof digits);
  return put_header(name.text(),
                    std::string_view(first, static_cast<size_t>(digits + sizeof digits - first)));
}

response_writer& response_writer::put_header(std::string_view name,
                                             std::string_view value) noexcept {
  if (!safe_header_value(value)) _ok = false;
  if (!_ok) return *this;
  const size_t total = name.size() + 2 + value.size() + 2;
  if (total > _out.size() - _len) {
    _ok = false;
    return *this;
  }
  char* p = _out.data() + _len;
  std::memcpy(p, name.data(), name.size());
  p += name.size();
  *p++ = ':';
  *p++ = ' ';
  std::memcpy(p, value.data(), value.size());
  p += value.size();
  *p++ = '\r';
  *p++ = '\n';
  _len += total;
  return *this;
}

response_writer& response_writer::end_head() noexcept {
  return raw("\r\n");
}

response_writer& response_writer::raw(std::string_view bytes) noexcept {
  if (!_ok) return *this;
  if (bytes.size() > _out.size() - _len) {
    _ok = false;
    return *this;
  }
  std::memcpy(_out.data() + _len, bytes.data(), bytes.size());
  _len += bytes.size();
  return *this;
}

size_t chunk_header(uint64_t payload_bytes, char* out) noexcept {
  char digits[16];
  size_t n = 0;
  do {
    digits[n++] = hex_digits[payload_bytes & 0xF];
    payload_bytes >>= 4;
  } while (payload_bytes != 0);
  for (size_t i = 0; i < n; ++i) out[i] = digits[n - 1 - i];
  out[n] = '\r';
  out[n + 1] = '\n';
  return n + 2;
}

size_t openai_error_body(std::span<char> out, std::string_view message, std::string_view type,
                         std::string_view code) noexcept {
  appender a(out);
  a.put(R"({"error":{"message":)");
  a.json_string(message);
  a.put(R"(,"type":)");
  a.json_string(type);
  a.put(R"(,"code":)");
  if (code.empty()) {
    a.put("null");
  } else {
    a.json_string(code);
  }
  a.put("}}");
  return a.ok() ? a.size() : 0;
}

std::string_view error_type_for_status(uint16_t status) noexcept {
  switch (status) {
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 408:
      return "timeout_error";
    case 429:
      return "rate_limit_error";
    default:
      break;
  }
  if (status >= 400 && status < 500) return "invalid_request_error";
  if (status >= 500 && status < 600) return "server_error";
  return "api_error";
}

}  // namespace rg::http
