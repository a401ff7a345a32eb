// Message body decoder: Content-Length and close-delimited pass-through, and RFC 9112 §7.1 chunked
// decoding as a byte-at-a-time framing machine, so any split gives the same payload and verdict.
#include <ringgate/http/request.hpp>

#include <algorithm>

#include "chars.hpp"

namespace rg::http {
namespace {

using namespace detail;

constexpr size_t chunk_size_digits_max = 16;  // 16 hex digits fill 64 bits exactly

unsigned hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return static_cast<unsigned>(c - '0');
  return static_cast<unsigned>(to_lower(c) - 'a') + 10;
}

bool is_ctl(char c) noexcept {
  return !has(c, cc_field_vchar);
}  // CTLs and DEL, not HTAB

}  // namespace

void body_decoder::start(body_kind kind, uint64_t content_length, uint64_t body_bytes_max,
                         body_origin origin) noexcept {
  _origin = origin;
  _kind = kind;
  _remaining = kind == body_kind::content_length ? content_length : 0;
  _decoded = 0;
  _max = body_bytes_max;
  _state = chunk_state::size;
  _digits = 0;
  _line_len = 0;
  _trailer_bytes = 0;
  _error = {};
  _done = kind == body_kind::none || (kind == body_kind::content_length && content_length == 0);
  if (kind == body_kind::content_length && content_length > body_bytes_max) {
    fail(413, "request body too large");
  }
}

// Messages are written for a client. An upstream's errors all become 502 and say that the upstream
// is at fault: the message may reach the gateway's client, who sent nothing wrong.
bool body_decoder::fail(uint16_t status, std::string_view message) noexcept {
  if (_origin == body_origin::upstream) {
    if (status == 413) {
      message = "upstream response body too large";
    } else if (!message.starts_with("upstream ")) {
      message = "upstream sent invalid chunked framing";
    }
    _error = {502, message, "bad_gateway"};
  } else {
    _error = {status, message, status == 413 ? "payload_too_large" : "invalid_request"};
  }
  _done = false;
  return false;
}

body_step body_decoder::step(std::string_view in) noexcept {
  if (_error.status != 0) return {0, {}, false, _error};
  if (_done) return {0, {}, true, {}};
  if (_kind == body_kind::chunked) return step_chunked(in);
  if (_kind == body_kind::until_close) {
    // Bytes up to the limit leave first, so the verdict does not depend on how input is split.
    const size_t n = static_cast<size_t>(std::min<uint64_t>(_max - _decoded, in.size()));
    if (n == 0 && !in.empty()) {
      fail(413, "request body too large");
      return {0, {}, false, _error};
    }
    _decoded += n;
    return {n, in.substr(0, n), false, {}};
  }
  const size_t n = static_cast<size_t>(std::min<uint64_t>(_remaining, in.size()));
  _remaining -= n;
  _decoded += n;
  _done = _remaining == 0;
  return {n, in.substr(0, n), _done, {}};
}

body_step body_decoder::finish_eof() noexcept {
  if (_error.status != 0) return {0, {}, false, _error};
  if (_kind == body_kind::until_close) _done = true;
  if (_done) return {0, {}, true, {}};
  fail(400, _origin == body_origin::upstream ? "upstream closed before the end of the body"
                                             : "client closed before the end of the body");
  return {0, {}, false, _error};
}

// Framing bytes go through on_framing_byte() one at a time; payload leaves as one view, after
// which the step returns so each step carries at most one data view.
body_step body_decoder::step_chunked(std::string_view in) noexcept {
  size_t i = 0;
  while (i < in.size()) {
    if (_state == chunk_state::data) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(_remaining, in.size() - i));
      const std::string_view data = in.substr(i, n);
      i += n;
      _remaining -= n;
      _decoded += n;
      if (_remaining == 0) _state = chunk_state::data_cr;
      return {i, data, false, {}};
    }
    if (!on_framing_byte(in[i++])) return {i, {}, false, _error};
    if (_done) return {i, {}, true, {}};
  }
  return {i, {}, false, {}};
}

// chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF; last-chunk = 1*"0" [ chunk-ext ] CRLF;
// then trailer-section CRLF. The bounds and the bare-LF rule hold in every state, so they are
// checked here before the state's own rule.
bool body_decoder::on_framing_byte(char c) noexcept {
  const bool in_size_line =
      _state == chunk_state::size || _state == chunk_state::size_ws || _state == chunk_state::ext;
  if (in_size_line && c != '\r' && ++_line_len > chunk_line_bytes_max) {
    return fail(400, "chunk line too long");
  }
  const bool in_trailers = _state >= chunk_state::trailer_bol;
  if (in_trailers && ++_trailer_bytes > trailer_bytes_max) {
    return fail(400, "chunked trailer section too large");
  }
  const bool lf_expected = _state == chunk_state::size_lf || _state == chunk_state::data_lf ||
                           _state == chunk_state::trailer_lf || _state == chunk_state::end_lf;
  if (c == '\n' && !lf_expected) return fail(400, "bare LF in chunked framing");
  switch (_state) {
    case chunk_state::size:
    case chunk_state::size_ws:
    case chunk_state::ext:
    case chunk_state::size_lf:
      return on_size_line_byte(c);
    case chunk_state::data:
      return true;  // unreachable: step_chunked() takes payload bytes itself
    case chunk_state::data_cr:
      if (c != '\r') return fail(400, "missing CRLF after chunk data");
      _state = chunk_state::data_lf;
      return true;
    case chunk_state::data_lf:
      if (c != '\n') return fail(400, "missing CRLF after chunk data");
      _state = chunk_state::size;
      _digits = 0;
      _line_len = 0;
      return true;
    case chunk_state::trailer_bol:
    case chunk_state::trailer:
    case chunk_state::trailer_lf:
    case chunk_state::end_lf:
      return on_trailer_byte(c);
  }
  return fail(400, "invalid chunked framing");
}

// chunk-size [ BWS ";" chunk-ext ] CRLF. BWS is accepted only before a ";" (no trailing
// whitespace before the CRLF); extensions are skipped but may not hold CTLs.
bool body_decoder::on_size_line_byte(char c) noexcept {
  switch (_state) {
    case chunk_state::size:
      if (has(c, cc_hex)) {
        if (++_digits > chunk_size_digits_max) return fail(400, "chunk size overflow");
        _remaining = (_remaining << 4) | hex_value(c);
        return true;
      }
      if (_digits == 0) return fail(400, "invalid chunk size");
      if (c == ';') {
        _state = chunk_state::ext;
      } else if (is_ows(c)) {
        _state = chunk_state::size_ws;
      } else if (c == '\r') {
        _state = chunk_state::size_lf;
      } else {
        return fail(400, "invalid chunk size");
      }
      return true;
    case chunk_state::size_ws:
      if (c == ';') {
        _state = chunk_state::ext;
        return true;
      }
      return is_ows(c) || fail(400, "invalid chunk extension");
    case chunk_state::ext:
      if (c == '\r') {
        _state = chunk_state::size_lf;
        return true;
      }
      return !is_ctl(c) || fail(400, "invalid chunk extension");
    default:  // size_lf
      if (c != '\n') return fail(400, "bare CR in chunked framing");
      if (_remaining > _max - _decoded) return fail(413, "request body too large");
      _state = _remaining == 0 ? chunk_state::trailer_bol : chunk_state::data;
      return true;
  }
}

// trailer-section = *( field-line CRLF ), then the final CRLF. Fields are dropped unparsed, but
// a line may not start with whitespace (obs-fold) or hold CTLs.
bool body_decoder::on_trailer_byte(char c) noexcept {
  switch (_state) {
    case chunk_state::trailer_bol:
      if (c == '\r') {
        _state = chunk_state::end_lf;
        return true;
      }
      if (is_ows(c) || is_ctl(c)) return fail(400, "invalid chunked trailer");
      _state = chunk_state::trailer;
      return true;
    case chunk_state::trailer:
      if (c == '\r') {
        _state = chunk_state::trailer_lf;
        return true;
      }
      return !is_ctl(c) || fail(400, "invalid chunked trailer");
    case chunk_state::trailer_lf:
      if (c != '\n') return fail(400, "bare CR in chunked framing");
      _state = chunk_state::trailer_bol;
      return true;
    default:  // end_lf
      if (c != '\n') return fail(400, "bare CR in chunked framing");
      _done = true;
      return true;
  }
}

}  // namespace rg::http
