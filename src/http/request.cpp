// HTTP/1.1 request head parser (RFC 9112 §2–3, §5–6, strict): a resumable line scanner plus
// per-line checks. Its verdict depends only on the bytes, never on how they were split.
#include <ringgate/http/request.hpp>

#include <algorithm>
#include <cstring>

#include "chars.hpp"

namespace rg::http {
namespace {

using namespace detail;

// Facts gathered from known header fields, kept in request_parser::_flags.
enum field_flag : uint8_t {
  flag_content_length = 1 << 0,
  flag_transfer_encoding = 1 << 1,
  flag_connection_close = 1 << 2,
  flag_connection_keep_alive = 1 << 3,
  flag_expect_continue = 1 << 4,
  flag_expect_other = 1 << 5,
  flag_absolute_form = 1 << 6,
};

// Offsets are stored as uint32_t; no head can be bigger than this whatever the limits say.
constexpr size_t offset_max = size_t{1} << 30;
constexpr size_t content_length_digits_max = 19;  // 10^19 - 1 < 2^64: no overflow possible

constexpr parse_error bad_request(std::string_view message) noexcept {
  return {400, message, "invalid_request"};
}
constexpr parse_error uri_too_long{414, "request line too long", "uri_too_long"};
constexpr parse_error head_too_large{431, "request head too large",
                                     "request_header_fields_too_large"};
constexpr parse_error too_many_fields{431, "too many header fields",
                                      "request_header_fields_too_large"};
constexpr parse_error body_too_large{413, "request body too large", "payload_too_large"};
constexpr parse_error version_not_supported{505, "HTTP version not supported",
                                            "http_version_not_supported"};
constexpr parse_error coding_not_implemented{501, "unsupported Transfer-Encoding",
                                             "not_implemented"};
constexpr parse_error expectation_failed{417, "unsupported Expect value", "expectation_failed"};

method method_from(std::string_view m) noexcept {
  switch (m.size()) {
    case 3:
      if (m == "GET") return method::get;
      if (m == "PUT") return method::put;
      break;
    case 4:
      if (m == "POST") return method::post;
      if (m == "HEAD") return method::head;
      break;
    case 5:
      if (m == "PATCH") return method::patch;
      if (m == "TRACE") return method::trace;
      break;
    case 6:
      if (m == "DELETE") return method::delete_;
      break;
    case 7:
      if (m == "OPTIONS") return method::options;
      if (m == "CONNECT") return method::connect;
      break;
    default:
      break;
  }
  return method::other;
}

// "HTTP/" DIGIT "." DIGIT → 10 * major + minor; -1 when malformed.
int version_number(std::string_view v) noexcept {
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || v[6] != '.') return -1;
  if (!digit(v[5]) || !digit(v[7])) return -1;
  return (v[5] - '0') * 10 + (v[7] - '0');
}

// Length of "http://" or "https://" (any case) at the start of `target`, or 0.
size_t absolute_scheme_len(std::string_view target) noexcept {
  if (target.size() >= 7 && ascii_iequal(target.substr(0, 7), "http://")) return 7;
  if (target.size() >= 8 && ascii_iequal(target.substr(0, 8), "https://")) return 8;
  return 0;
}

// 1*19 DIGIT, nothing else. False when malformed.
bool parse_content_length(std::string_view v, uint64_t& out) noexcept {
  if (v.empty() || v.size() > content_length_digits_max) return false;
  uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  out = n;
  return true;
}

// Transfer-Encoding value → 0 when it is exactly chunked, else the rejection (see request.hpp).
parse_error check_transfer_encoding(std::string_view value) noexcept {
  if (value.empty()) return bad_request("empty Transfer-Encoding");
  if (ascii_iequal(value, "chunked")) return {};
  list_elements list(value);
  std::string_view coding;
  bool chunked_seen = false;
  while (list.next(coding)) {
    if (chunked_seen) return bad_request("chunked is not the final transfer coding");
    const std::string_view name = trim_ows(coding.substr(0, coding.find(';')));
    if (!is_token(name)) return bad_request("malformed Transfer-Encoding");
    chunked_seen = ascii_iequal(name, "chunked");
  }
  return coding_not_implemented;
}

// uri-host [":" port] in the characters RFC 3986 allows (empty is allowed for Host).
bool valid_host(std::string_view host) noexcept {
  return all_of(host, cc_host);
}

}  // namespace

void request_parser::reset() noexcept {
  _scanned = 0;
  _line_start = 0;
  _phase = phase::request_line;
  _flags = 0;
  _host_count = 0;
  _meth = method::other;
  _ver = version::http11;
  _result = {};
  _method = _target = _host = _transfer_encoding = {};
  _content_length = 0;
  _field_count = 0;
}

bool request_parser::fail(parse_error error) noexcept {
  _phase = phase::failed;
  _result = {parse_status::error, 0, error};
  return false;
}

// Scans the current line from _scanned as a byte-at-a-time machine would: a byte at or past
// head_bytes_max → 431; a content byte past the request-line limit → 414; a LF not preceded by CR
// or a CR not followed by LF → 400. On `line`, line_end is the position of the CR.
request_parser::line_scan request_parser::find_line_end(std::string_view buf,
                                                        size_t& line_end) noexcept {
  const size_t size = buf.size();
  const size_t head_max = std::min(_limits.head_bytes_max, offset_max);
  const size_t content_end =
      _phase == phase::request_line
          ? _line_start + std::min(_limits.request_line_bytes_max, offset_max)
          : offset_max;
  const size_t stop = std::min({size, head_max, content_end});
  const char* p = buf.data();
  size_t i = _scanned;
  for (;;) {
    i = find_low_byte(p, i, stop);
    if (i == stop || p[i] == '\r' || p[i] == '\n') break;
    ++i;  // HTAB or another CTL: the line's own check judges it
  }
  _scanned = i;
  if (i == size) return line_scan::more;
  parse_error error = head_too_large;
  if (i < head_max) {
    if (p[i] == '\n') {
      error = bad_request("bare LF in request head");
    } else if (p[i] != '\r') {
      error = uri_too_long;  // a content byte past the request-line limit
    } else if (i + 1 == size) {
      return line_scan::more;  // a CR: its verdict waits for the next byte
    } else if (p[i + 1] != '\n') {
      error = bad_request("bare CR in request head");
    } else if (i + 1 < head_max) {
      line_end = i;
      return line_scan::line;
    }
  }
  fail(error);
  return line_scan::failed;
}

head_result request_parser::parse(std::string_view buffered, request_head& out) noexcept {
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
    if (_phase == phase::request_line) {
      if (!empty && !on_request_line(buffered, line_end)) return _result;
      if (!empty) _phase = phase::fields;
    } else if (empty) {
      _line_start = _scanned = line_end + 2;
      return finish(buffered, out);
    } else if (!on_field_line(buffered, line_end)) {
      return _result;
    }
    _line_start = _scanned = line_end + 2;
  }
}

// request-line = method SP request-target SP HTTP-version, single SPs (RFC 9112 §3).
bool request_parser::on_request_line(std::string_view buf, size_t line_end) noexcept {
  const size_t start = _line_start;
  const std::string_view line = buf.substr(start, line_end - start);
  size_t i = 0;
  while (i < line.size() && has(line[i], cc_tchar)) ++i;
  if (i == 0 || i == line.size() || line[i] != ' ') return fail(bad_request("invalid method"));
  const size_t target_start = ++i;
  while (i < line.size() && line[i] != ' ') {
    if (!has(line[i], cc_target)) return fail(bad_request("invalid request target"));
    ++i;
  }
  if (i == target_start) return fail(bad_request("empty request target"));
  if (i == line.size()) return fail(bad_request("missing HTTP version"));
  const std::string_view target = line.substr(target_start, i - target_start);
  const int v = version_number(line.substr(i + 1));
  if (v < 0) return fail(bad_request("malformed HTTP version"));
  if (v != 10 && v != 11) return fail(version_not_supported);

  const std::string_view method_text = line.substr(0, target_start - 1);
  _meth = method_from(method_text);
  _ver = v == 11 ? version::http11 : version::http10;
  _method = {static_cast<uint32_t>(start), static_cast<uint32_t>(method_text.size())};
  _target = {static_cast<uint32_t>(start + target_start), static_cast<uint32_t>(target.size())};
  if (target[0] == '/') return true;  // origin-form
  if (target == "*") {
    return _meth == method::options || fail(bad_request("'*' target is only valid for OPTIONS"));
  }
  const size_t scheme = absolute_scheme_len(target);
  if (scheme == 0) return fail(bad_request("unsupported request target form"));
  const std::string_view rest = target.substr(scheme);
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
  if (authority.empty() || !valid_host(authority)) {
    return fail(bad_request("invalid authority in request target"));
  }
  _flags |= flag_absolute_form;
  _host = {static_cast<uint32_t>(_target.off + scheme), static_cast<uint32_t>(authority.size())};
  return true;
}

// field-line = field-name ":" OWS field-value OWS (RFC 9112 §5).
bool request_parser::on_field_line(std::string_view buf, size_t line_end) noexcept {
  if (_field_count >= std::min(_limits.headers_max, headers_cap)) return fail(too_many_fields);
  const size_t start = _line_start;
  const std::string_view line = buf.substr(start, line_end - start);
  if (is_ows(line[0])) return fail(bad_request("obsolete line folding"));
  // The CR ending the line is in the buffer and is not a tchar: it bounds this loop.
  size_t i = 0;
  while (has(line.data()[i], cc_tchar)) ++i;
  if (i == 0 || i == line.size() || line[i] != ':') {
    return fail(bad_request("invalid header field name"));
  }
  const std::string_view name = line.substr(0, i);
  ++i;
  while (i < line.size() && is_ows(line[i])) ++i;
  const size_t value_start = i;
  if (find_non_field_vchar(line.data(), i, line.size()) != line.size()) {
    return fail(bad_request("invalid character in header value"));
  }
  size_t value_end = line.size();
  while (value_end > value_start && is_ows(line[value_end - 1])) --value_end;
  const std::string_view value = line.substr(value_start, value_end - value_start);
  const span32 value_span{static_cast<uint32_t>(start + value_start),
                          static_cast<uint32_t>(value.size())};
  _fields[_field_count++] = {{static_cast<uint32_t>(start), static_cast<uint32_t>(name.size())},
                             value_span};
  return on_known_field(name, value, value_span);
}

// Records what the framing and connection rules need from Host, Content-Length,
// Transfer-Encoding, Connection and Expect. Whole-head rules are applied in finish().
bool request_parser::on_known_field(std::string_view name, std::string_view value,
                                    span32 value_span) noexcept {
  switch (name.size()) {
    case 4:
      if (!ascii_iequal(name, "host")) return true;
      if (++_host_count > 1) return fail(bad_request("multiple Host headers"));
      if (!valid_host(value)) return fail(bad_request("invalid Host header"));
      if ((_flags & flag_absolute_form) == 0) _host = value_span;
      return true;
    case 6:
      if (!ascii_iequal(name, "expect")) return true;
      _flags |= ascii_iequal(value, "100-continue") ? flag_expect_continue : flag_expect_other;
      return true;
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
      if (_flags & flag_content_length) return fail(bad_request("multiple Content-Length headers"));
      if (!parse_content_length(value, _content_length)) {
        return fail(bad_request("invalid Content-Length"));
      }
      _flags |= flag_content_length;
      return true;
    case 17:
      if (!ascii_iequal(name, "transfer-encoding")) return true;
      if (_flags & flag_transfer_encoding) {
        return fail(bad_request("multiple Transfer-Encoding headers"));
      }
      _flags |= flag_transfer_encoding;
      _transfer_encoding = value_span;
      return true;
    default:
      return true;
  }
}

// Whole-head rules, checked once the empty line arrived: framing first (the smuggling vectors),
// then Host, then the body limit, then Expect.
parse_error request_parser::check_head(std::string_view buf) const noexcept {
  const bool te = (_flags & flag_transfer_encoding) != 0;
  const bool http11 = _ver == version::http11;
  if (te && !http11) return bad_request("Transfer-Encoding in an HTTP/1.0 request");
  if (te && (_flags & flag_content_length)) {
    return bad_request("both Content-Length and Transfer-Encoding");
  }
  if (te) {
    const parse_error e =
        check_transfer_encoding(buf.substr(_transfer_encoding.off, _transfer_encoding.len));
    if (e.status != 0) return e;
  }
  if (http11 && _host_count == 0) return bad_request("missing Host header");
  if (_content_length > _limits.body_bytes_max) return body_too_large;
  if (http11 && (_flags & flag_expect_other)) return expectation_failed;
  return {};
}

head_result request_parser::finish(std::string_view buf, request_head& out) noexcept {
  if (const parse_error e = check_head(buf); e.status != 0) {
    fail(e);
    return _result;
  }
  _phase = phase::complete;
  _result = {parse_status::complete, _scanned, {}};
  fill(buf, out);
  return _result;
}

void request_parser::fill(std::string_view buf, request_head& out) const noexcept {
  const auto view = [buf](span32 s) { return buf.substr(s.off, s.len); };
  const bool http11 = _ver == version::http11;
  out.meth = _meth;
  out.method_text = view(_method);
  out.target = view(_target);
  out.ver = _ver;
  for (uint32_t i = 0; i < _field_count; ++i) {
    out.headers[i] = {view(_fields[i].name), view(_fields[i].value)};
  }
  out.header_count = _field_count;
  const bool chunked = (_flags & flag_transfer_encoding) != 0;
  out.body = chunked               ? body_kind::chunked
             : _content_length > 0 ? body_kind::content_length
                                   : body_kind::none;
  out.content_length = chunked ? 0 : _content_length;
  const bool close = (_flags & flag_connection_close) != 0;
  const bool keep_alive_asked = (_flags & flag_connection_keep_alive) != 0;
  out.keep_alive = !close && (http11 || keep_alive_asked);
  out.expect_continue = http11 && (_flags & flag_expect_continue) != 0;
  out.host = view(_host);
}

const header* request_head::find(std::string_view name) const noexcept {
  for (size_t i = 0; i < header_count; ++i) {
    if (runtime::ascii_iequal(headers[i].name, name)) return &headers[i];
  }
  return nullptr;
}

std::string_view request_head::path() const noexcept {
  std::string_view t = target;
  if (!t.empty() && t[0] == '/') {  // origin-form, nearly every request: no scheme to look for
    const void* q = std::memchr(t.data(), '?', t.size());
    return q ? t.substr(0, size_t(static_cast<const char*>(q) - t.data())) : t;
  }
  if (const size_t scheme = absolute_scheme_len(t); scheme != 0) {
    const size_t slash = t.find_first_of("/?", scheme);
    if (slash == std::string_view::npos || t[slash] == '?') return "/";
    t.remove_prefix(slash);
  }
  return t.substr(0, t.find('?'));
}

std::string_view method_name(method m) noexcept {
  switch (m) {
    case method::get:
      return "GET";
    case method::head:
      return "HEAD";
    case method::post:
      return "POST";
    case method::put:
      return "PUT";
    case method::delete_:
      return "DELETE";
    case method::options:
      return "OPTIONS";
    case method::patch:
      return "PATCH";
    case method::connect:
      return "CONNECT";
    case method::trace:
      return "TRACE";
    case method::other:
      return "OTHER";
  }
  return "OTHER";
}

}  // namespace rg::http
