// The mock text, the response head, and the batching writer (see writer.hpp). A send happens
// only when the block is full, a pacing delay or fault needs the bytes out, or the answer ends.
#include "writer.hpp"

#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <span>

#include <ringgate/http/response.hpp>

namespace rg::mockllm {
namespace {

constexpr std::array<std::string_view, 16> vocabulary = {
    "the",   "quick", "brown",  "fox",    "jumps", "over", "lazy", "dogs",
    "while", "mock",  "tokens", "stream", "from",  "a",    "tiny", "model",
};

// Letters (no spaces) in words [0, n) of the endless cycle.
constexpr uint64_t letters_before(uint64_t n) noexcept {
  uint64_t cycle = 0;
  for (auto w : vocabulary) cycle += w.size();
  uint64_t total = (n / vocabulary.size()) * cycle;
  for (size_t i = 0; i < n % vocabulary.size(); ++i) total += vocabulary[i].size();
  return total;
}

}  // namespace

scratch& scratch::num(uint64_t v) noexcept {
  char digits[20];
  auto r = std::to_chars(digits, digits + sizeof(digits), v);
  return add(std::string_view(digits, size_t(r.ptr - digits)));
}

uint64_t text_bytes(uint64_t first, uint64_t end) noexcept {
  if (end <= first) return 0;
  uint64_t spaces = (end - first) - (first == 0 ? 1 : 0);
  return letters_before(end) - letters_before(first) + spaces;
}

uint64_t filler::bytes() const noexcept {
  if (done()) return 0;
  if (_kind == kind::words) return text_bytes(_pos, _end);
  if (_kind == kind::repeat) return _end - _pos;
  char item[item_bytes_max];
  uint64_t total = 0;
  for (uint64_t i = _pos; i < _end; ++i) total += _fn(i, _arg, item, sizeof(item));
  return total;
}

size_t filler::fill(char* out, size_t cap) noexcept {
  size_t n = 0;
  if (_kind == kind::repeat) {
    n = size_t(std::min<uint64_t>(cap, _end - _pos));
    std::memset(out, 'x', n);
    _pos += n;
    return n;
  }
  if (_kind == kind::items) {
    while (_pos < _end) {
      size_t k = _fn(_pos, _arg, out + n, cap - n);
      if (k == 0) break;
      n += k;
      ++_pos;
    }
    return n;
  }
  while (_pos < _end) {
    std::string_view w = vocabulary[_pos % vocabulary.size()];
    size_t need = w.size() + (_pos > 0 ? 1 : 0);
    if (need > cap - n) break;
    if (_pos > 0) out[n++] = ' ';
    std::memcpy(out + n, w.data(), w.size());
    n += w.size();
    ++_pos;
  }
  return n;
}

size_t render_head(char* out, size_t cap, const httpd::exchange& ex, uint16_t status,
                   std::string_view content_type, framing f, uint64_t content_length,
                   std::string_view extra_headers) noexcept {
  http::response_writer w(std::span<char>(out, cap));
  w.status_line(status).header("content-type", content_type);
  if (f == framing::raw) {
    w.header("content-length", content_length);
  } else if (f == framing::chunked) {
    w.header("transfer-encoding", "chunked");
  }
  if (f == framing::until_close || ex.mode() == httpd::close_mode::close) {
    w.header("connection", "close");
  } else if (ex.head().ver == http::version::http10) {
    w.header("connection", "keep-alive");
  }
  if (!extra_headers.empty()) w.raw(extra_headers);
  w.end_head();
  return w.ok() ? w.size() : 0;
}

runtime::task<int> body_writer::put_all(std::string_view s) {
  for (;;) {
    size_t take = std::min(space(), s.size());
    std::memcpy(_buf + _len, s.data(), take);
    _len += take;
    s.remove_prefix(take);
    if (s.empty()) co_return 0;
    if (int rc = co_await flush(); rc != 0) co_return rc;
  }
}

runtime::task<int> body_writer::fill_all(filler f) {
  for (;;) {
    if (try_fill(f)) co_return 0;
    if (int rc = co_await flush(); rc != 0) co_return rc;
  }
}

void body_writer::start_body(framing f) noexcept {
  _framing = f;
  if (f != framing::chunked) return;
  _chunk_at = _len;
  _len += slot_bytes;
  _reserve = tail_bytes;
}

runtime::task<int> body_writer::finish() {
  if (_framing == framing::until_close) _ex.force_close();
  return send(true);
}

runtime::task<int> body_writer::send(bool last) {
  iovec iov[2];
  size_t n = 0;
  size_t total = 0;
  if (_framing == framing::chunked) {
    if (_chunk_at > 0) iov[n++] = {_buf, _chunk_at};
    size_t body_at = _chunk_at + slot_bytes;
    size_t payload = _len - body_at;
    char* start = _buf + body_at;
    size_t bytes = 0;
    if (payload > 0) {
      char size_line[slot_bytes];
      size_t h = http::chunk_header(payload, size_line);
      start -= h;
      std::memcpy(start, size_line, h);
      std::memcpy(_buf + _len, http::chunk_trailer.data(), http::chunk_trailer.size());
      bytes = h + payload + http::chunk_trailer.size();
    }
    if (last) {
      std::memcpy(start + bytes, http::last_chunk.data(), http::last_chunk.size());
      bytes += http::last_chunk.size();
    }
    if (bytes > 0) iov[n++] = {start, bytes};
    _chunk_at = 0;
    _len = slot_bytes;
  } else {
    if (_len > 0) iov[n++] = {_buf, _len};
    _len = 0;
  }
  for (size_t i = 0; i < n; ++i) total += iov[i].iov_len;
  if (total == 0) co_return 0;
  // A small whole answer joins the exchange's buffer: pipelined answers then share one send.
  httpd::response_buffer& out = _ex.out();
  if (last && !_sent && total <= httpd::response_buffer::capacity - out.size()) {
    for (size_t i = 0; i < n; ++i) {
      out.raw(std::string_view(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len));
    }
    co_return 0;
  }
  _sent = true;
  co_return co_await _ex.send(std::span<iovec>(iov, n));
}

}  // namespace rg::mockllm
