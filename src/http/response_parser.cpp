// HTTP/1.1 response head parser (RFC 9112 §4–6, strict): a resumable CRLF line scanner plus
// per-line checks, like request.cpp. Its verdict depends only on the bytes, never on the split.
#include <ringgate/http/response_parser.hpp>

#include <algorithm>

#include "chars.hpp"

namespace rg::http {
namespace {

using namespace detail;

// Facts gathered from known header fields, kept in response_parser::_flags.
enum field_flag : uint8_t {
  flag_content_length = 1 << 0,
  flag_transfer_encoding = 1 << 1,
  flag_connection_close = 1 << 2,
  flag_connection_keep_alive = 1 << 3,
};

// Offsets are stored as uint32_t; no head can be bigger than this whatever the limits say.
constexpr size_t offset_max = size_t{1} << 30;
constexpr size_t content_length_digits_max = 19;  // 10^19 - 1 < 2^64: no overflow possible

constexpr parse_error bad_gateway(std::string_view message) noexcept {
  return {502, message, "bad_gateway"};
}

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

// 1*19 DIGIT, nothing else. False when malformed.
bool parse_content_length(std::string_view v, uint64_t& out) noexcept {
  if (v.empty() || v.size() > content_length_digits_max) return false;
  uint64_t n = 0;
  for (char c : v) {
    if (!is_digit(c)) return false;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  out = n;
  return true;
}

// RFC 9112 §6.3 rules 1–2: these responses end at the empty line whatever their fields say.
bool bodiless(uint16_t status, request_kind req) noexcept {
  return req == request_kind::head_method || status < 200 || status == 204 || status == 304;
}

}  // namespace

void response_parser::reset() noexcept {
  _scanned = 0;
  _line_start = 0;
  _phase = phase::status_line;
  _flags = 0;
  _status = 0;
  _ver = version::http11;
  _body = body_kind::none;
  _keep_alive = false;
  _result = {};
  _reason = {};
  _content_length = 0;
  _field_count = 0;
}

bool response_parser::fail(std::string_view message) noexcept {
  _phase = phase::failed;
  _result = {parse_status::error, 0, bad_gateway(message)};
  return false;
}

// Scans the current line from _scanned as a byte-at-a-time machine would: a byte at or past
// head_bytes_max → too large; a LF not preceded by CR or a CR not followed by LF → error. On
// `line`, line_end is the position of the CR.
response_parser::line_scan response_parser::find_line_end(std::string_view buf,
                                                          size_t& line_end) noexcept {
  const size_t size = buf.size();
  const size_t head_max = std::min(_limits.head_bytes_max, offset_max);
  const size_t stop = std::min(size, head_max);
  const char* p = buf.data();
  size_t i = _scanned;
  for (;;) {
    i = find_low_byte(p, i, stop);
    if (i == stop || p[i] == '\r' || p[i] == '\n') break;
    ++i;  // HTAB or another CTL: the line's own check judges it
  }
  _scanned = i;
  if (i == size) return line_scan::more;
  std::string_view error = "upstream response head too large";
  if (i < head_max) {
    if (p[i] == '\n') {
      error = "upstream sent a bare LF in the response head";
    } else if (i + 1 == size) {
      return line_scan::more;  // a CR: its verdict waits for the next byte
    } else if (p[i + 1] != '\n') {
      error = "upstream sent a bare CR in the response head";
    } else if (i + 1 < head_max) {
      line_end = i;
      return line_scan::line;
    }
  }
  fail(error);
  return line_scan::failed;
}

head_result response_parser::parse(std::string_view buffered, response_head& out,
                                   request_kind req) noexcept {
  if (_phase == phase::complete) {
    fill(buffered, out);
    return _result;
  }
  if (_phase == phase::failed) return _result;
  if (buffered.size() < _scanned) return {};  // misuse: the buffer shrank; wait for the bytes
  for (;;) {
    size_t line_end = 0;
    const line_scan scan = find_line_end(buffered, line_end);
    if (scan == line_scan::more) return {};
    if (scan == line_scan::failed) return _result;
    const bool empty = line_end == _line_start;
    if (_phase == phase::status_line) {
      if (!on_status_line(buffered, line_end)) return _result;
      _phase = phase::fields;
    } else if (empty) {
      _line_start = _scanned = line_end + 2;
      return finish(buffered, out, req);
    } else if (!on_field_line(buffered, line_end)) {
      return _result;
    }
    _line_start = _scanned = line_end + 2;
  }
}

// status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 §4), where
// reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ). "HTTP/1.1 200" without the second SP is
// accepted as an empty reason.
bool response_parser::on_status_line(std::string_view buf, size_t line_end) noexcept {
  const size_t start = _line_start;
  const std::string_view line = buf.substr(start, line_end - start);
  constexpr size_t code_end = 12;  // "HTTP/1.1 200"
  if (line.size() < code_end || line.substr(0, 5) != "HTTP/" || line[6] != '.' ||
      !is_digit(line[5]) || !is_digit(line[7]) || line[8] != ' ' || !is_digit(line[9]) ||
      !is_digit(line[10]) || !is_digit(line[11]) ||
      (line.size() > code_end && line[code_end] != ' ')) {
    return fail("upstream sent an invalid status line");
  }
  if (line[5] != '1') return fail("upstream sent an unsupported HTTP version");
  _ver = line[7] == '0' ? version::http10 : version::http11;
  _status = static_cast<uint16_t>((line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0'));
  if (_status < 100 || _status > 599) return fail("upstream sent an invalid status code");
  if (_status == 101) return fail("upstream switched protocols unasked");
  const size_t reason_start = std::min(line.size(), code_end + 1);
  if (find_non_field_vchar(line.data(), reason_start, line.size()) != line.size()) {
    return fail("upstream sent an invalid reason phrase");
  }
  _reason = {static_cast<uint32_t>(start + reason_start),
             static_cast<uint32_t>(line.size() - reason_start)};
  return true;
}

// field-line = field-name ":" OWS field-value OWS (RFC 9112 §5).
bool response_parser::on_field_line(std::string_view buf, size_t line_end) noexcept {
  if (_field_count >= std::min(_limits.headers_max, headers_cap)) {
    return fail("upstream sent too many header fields");
  }
  const size_t start = _line_start;
  const std::string_view line = buf.substr(start, line_end - start);
  if (is_ows(line[0])) return fail("upstream sent obsolete line folding");
  // The CR ending the line is in the buffer and is not a tchar: it bounds this loop.
  size_t i = 0;
  while (has(line.data()[i], cc_tchar)) ++i;
  if (i == 0 || i == line.size() || line[i] != ':') {
    return fail("upstream sent an invalid header field name");
  }
  const std::string_view name = line.substr(0, i);
  ++i;
  while (i < line.size() && is_ows(line[i])) ++i;
  const size_t value_start = i;
  if (find_non_field_vchar(line.data(), i, line.size()) != line.size()) {
    return fail("upstream sent an invalid character in a header value");
  }
  size_t value_end = line.size();
  while (value_end > value_start && is_ows(line[value_end - 1])) --value_end;
  const std::string_view value = line.substr(value_start, value_end - value_start);
  _fields[_field_count++] = {
      {static_cast<uint32_t>(start), static_cast<uint32_t>(name.size())},
      {static_cast<uint32_t>(start + value_start), static_cast<uint32_t>(value.size())}};
  return on_known_field(name, value);
}

// Records what framing and connection reuse need from Content-Length, Transfer-Encoding and
// Connection. Rules that involve the status or several fields are applied in finish().
bool response_parser::on_known_field(std::string_view name, std::string_view value) noexcept {
  switch (name.size()) {
    case 10: {
      if (!ascii_iequal(name, "connection")) return true;
      list_elements list(value);
      std::string_view option;
      while (list.next(option)) {
        if (ascii_iequal(option, "close")) _flags |= flag_connection_close;
        if (ascii_iequal(option, "keep-alive")) _flags |= flag_connection_keep_alive;
      }
      return true;
    }
    case 14:
      if (!ascii_iequal(name, "content-length")) return true;
      if (_flags & flag_content_length) return fail("upstream sent multiple Content-Length fields");
      if (!parse_content_length(value, _content_length)) {
        return fail("upstream sent an invalid Content-Length");
      }
      _flags |= flag_content_length;
      return true;
    case 17:
      if (!ascii_iequal(name, "transfer-encoding")) return true;
      if (_flags & flag_transfer_encoding) {
        return fail("upstream sent multiple Transfer-Encoding fields");
      }
      if (!ascii_iequal(value, "chunked")) return fail("upstream sent an unsupported Transfer-Encoding");
      _flags |= flag_transfer_encoding;
      return true;
    default:
      return true;
  }
}

// Whole-head rules, checked once the empty line arrived: the framing conflicts first (the
// desync vectors), then what the status forbids, then the body limit.
parse_error response_parser::check_head(request_kind req) const noexcept {
  const bool te = (_flags & flag_transfer_encoding) != 0;
  if (te && _ver == version::http10) {
    return bad_gateway("upstream sent Transfer-Encoding in an HTTP/1.0 response");
  }
  if (te && (_flags & flag_content_length)) {
    return bad_gateway("upstream sent both Content-Length and Transfer-Encoding");
  }
  if (_status < 200 || _status == 204) {
    if (te) return bad_gateway("upstream sent Transfer-Encoding in a 1xx or 204 response");
    if (_content_length != 0) {
      return bad_gateway("upstream sent a Content-Length in a 1xx or 204 response");
    }
  }
  if (!bodiless(_status, req) && !te && _content_length > _limits.body_bytes_max) {
    return bad_gateway("upstream response body too large");
  }
  return {};
}

head_result response_parser::finish(std::string_view buf, response_head& out,
                                    request_kind req) noexcept {
  if (const parse_error e = check_head(req); e.status != 0) {
    _phase = phase::failed;
    _result = {parse_status::error, 0, e};
    return _result;
  }
  if (bodiless(_status, req)) {
    _body = body_kind::none;
  } else if (_flags & flag_transfer_encoding) {
    _body = body_kind::chunked;
  } else if (_flags & flag_content_length) {
    _body = _content_length > 0 ? body_kind::content_length : body_kind::none;
  } else {
    _body = body_kind::until_close;
  }
  const bool close = (_flags & flag_connection_close) != 0;
  const bool keep_alive_asked = (_flags & flag_connection_keep_alive) != 0;
  _keep_alive =
      !close && (_ver == version::http11 || keep_alive_asked) && _body != body_kind::until_close;
  _phase = phase::complete;
  _result = {parse_status::complete, _scanned, {}};
  fill(buf, out);
  return _result;
}

void response_parser::fill(std::string_view buf, response_head& out) const noexcept {
  const auto view = [buf](span32 s) { return buf.substr(s.off, s.len); };
  out.status = _status;
  out.ver = _ver;
  out.reason = view(_reason);
  for (uint32_t i = 0; i < _field_count; ++i) {
    out.headers[i] = {view(_fields[i].name), view(_fields[i].value)};
  }
  out.header_count = _field_count;
  out.body = _body;
  out.content_length = _body == body_kind::content_length ? _content_length : 0;
  out.keep_alive = _keep_alive;
}

const header* response_head::find(std::string_view name) const noexcept {
  for (size_t i = 0; i < header_count; ++i) {
    if (runtime::ascii_iequal(headers[i].name, name)) return &headers[i];
  }
  return nullptr;
}

}  // namespace rg::http
