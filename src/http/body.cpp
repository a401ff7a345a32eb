// Request body decoder: Content-Length pass-through and RFC 9112 §7.1 chunked decoding as a
// byte-at-a-time framing machine, so any split of the input gives the same payload and verdict.
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

void body_decoder::start(body_kind kind, uint64_t content_length,
                         uint64_t body_bytes_max) noexcept {
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

bool body_decoder::fail(uint16_t status, std::string_view message) noexcept {
  _error = {status, message, status == 413 ? "payload_too_large" : "invalid_request"};
  _done = false;
  return false;
}

body_step body_decoder::step(std::string_view in) noexcept {
  if (_error.status != 0) return {0, {}, false, _error};
  if (_done) return {0, {}, true, {}};
  if (_kind == body_kind::chunked) return step_chunked(in);
  const size_t n = static_cast<size_t>(std::min<uint64_t>(_remaining, in.size()));
  _remaining -= n;
  _decoded += n;
  _done = _remaining == 0;
  return {n, in.substr(0, n), _done, {}};
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
// then trailer-section CRLF. BWS is accepted only before a ";" (no trailing space before CRLF).
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
  if (c == '\n' && _state != chunk_state::size_lf && _state != chunk_state::data_lf &&
      _state != chunk_state::trailer_lf && _state != chunk_state::end_lf) {
    return fail(400, "bare LF in chunked framing");
  }
  switch (_state) {
    case chunk_state::size:
      if (has(c, cc_hex)) {
        if (++_digits > chunk_size_digits_max) return fail(400, "chunk size overflow");
        _remaining = (_remaining << 4) | hex_value(c);
        return true;
      }
      if (_digits == 0) return fail(400, "invalid chunk size");
      if (c == ';')
        _state = chunk_state::ext;
      else if (is_ows(c))
        _state = chunk_state::size_ws;
      else if (c == '\r')
        _state = chunk_state::size_lf;
      else
        return fail(400, "invalid chunk size");
      return true;
    case chunk_state::size_ws:
      if (c == ';')
        _state = chunk_state::ext;
      else if (!is_ows(c))
        return fail(400, "invalid chunk extension");
      return true;
    case chunk_state::ext:
      if (c == '\r')
        _state = chunk_state::size_lf;
      else if (is_ctl(c))
        return fail(400, "invalid chunk extension");
      return true;
    case chunk_state::size_lf:
      if (c != '\n') return fail(400, "bare CR in chunked framing");
      if (_remaining == 0) {
        _state = chunk_state::trailer_bol;
      } else if (_remaining > _max - _decoded) {
        return fail(413, "request body too large");
      } else {
        _state = chunk_state::data;
      }
      return true;
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
      if (c == '\r')
        _state = chunk_state::end_lf;
      else if (is_ows(c) || is_ctl(c))
        return fail(400, "invalid chunked trailer");
      else
        _state = chunk_state::trailer;
      return true;
    case chunk_state::trailer:
      if (c == '\r')
        _state = chunk_state::trailer_lf;
      else if (is_ctl(c))
        return fail(400, "invalid chunked trailer");
      return true;
    case chunk_state::trailer_lf:
      if (c != '\n') return fail(400, "bare CR in chunked framing");
      _state = chunk_state::trailer_bol;
      return true;
    case chunk_state::end_lf:
      if (c != '\n') return fail(400, "bare CR in chunked framing");
      _done = true;
      return true;
  }
  return fail(400, "invalid chunked framing");
}

}  // namespace rg::http
