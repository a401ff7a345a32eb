// Building answers without allocating: a bump builder for small pieces, a generator for the mock
// text, and a writer that batches a response in one pooled block and frames chunks itself.
// Invariant: the writer never holds more than its block; whatever does not fit is sent first.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

#include <ringgate/httpd/exchange.hpp>
#include <ringgate/runtime/task.hpp>

namespace rg::mockllm {

// Appends small pieces into a fixed area; take() returns what was added since the last take().
// Overflow sets !ok() and appends nothing more.
class scratch {
 public:
  scratch(char* p, size_t cap) noexcept : _p(p), _cap(cap) {}
  scratch& add(std::string_view s) noexcept {
    if (!_ok || s.size() > _cap - _len) {
      _ok = false;
      return *this;
    }
    if (!s.empty()) std::memcpy(_p + _len, s.data(), s.size());
    _len += s.size();
    return *this;
  }
  scratch& num(uint64_t v) noexcept;
  std::string_view take() noexcept {
    std::string_view v(_p + _mark, _len - _mark);
    _mark = _len;
    return v;
  }
  bool ok() const noexcept { return _ok; }

 private:
  char* _p;
  size_t _cap;
  size_t _len = 0;
  size_t _mark = 0;
  bool _ok = true;
};

// The deterministic mock text: word k of an endless cycle, separated by single spaces. A range of
// it, [first, end), is what one content event carries; word 0 has no leading space, so the
// concatenated ranges are the whole text.
uint64_t text_bytes(uint64_t first, uint64_t end) noexcept;

// Renders item `index` of a list into `out`; returns the bytes written, 0 when it does not fit.
// Items are small (item_bytes_max at most), so a list's size can be measured by rendering.
using item_renderer = size_t (*)(uint64_t index, uint64_t arg, char* out, size_t cap) noexcept;
inline constexpr size_t item_bytes_max = 512;

// Produces a run of bytes piecewise: words of the mock text, one byte repeated, or list items.
class filler {
 public:
  static filler words(uint64_t first, uint64_t end) noexcept {
    return {kind::words, first, end, nullptr, 0};
  }
  static filler repeat(uint64_t bytes) noexcept { return {kind::repeat, 0, bytes, nullptr, 0}; }
  static filler items(item_renderer fn, uint64_t arg, uint64_t count) noexcept {
    return {kind::items, 0, count, fn, arg};
  }
  uint64_t bytes() const noexcept;
  bool done() const noexcept { return _pos >= _end; }
  // Writes as much as fits (whole words and items only); returns the bytes written.
  size_t fill(char* out, size_t cap) noexcept;

 private:
  enum class kind : uint8_t { words, repeat, items };
  filler(kind k, uint64_t pos, uint64_t end, item_renderer fn, uint64_t arg) noexcept
      : _kind(k), _pos(pos), _end(end), _fn(fn), _arg(arg) {}
  kind _kind;
  uint64_t _pos;
  uint64_t _end;
  item_renderer _fn;
  uint64_t _arg;
};

enum class framing : uint8_t { raw, chunked, until_close };

// "HTTP/1.1 200 OK\r\n..." for an answer: content-length when framing is raw, else chunked (or
// connection close for HTTP/1.0 streams). Returns the bytes written (0 if `out` is too small).
size_t render_head(char* out, size_t cap, const httpd::exchange& ex, uint16_t status,
                   std::string_view content_type, framing f, uint64_t content_length,
                   std::string_view extra_headers = {}) noexcept;

// The response under construction. Bytes accumulate in the block and go out in as few sends as
// possible: a small complete answer is handed to the exchange's buffer (so pipelined answers
// share a send); a stream's pending bytes become one chunk per flush.
class body_writer {
 public:
  body_writer(httpd::exchange& ex, char* block, size_t cap) noexcept
      : _ex(ex), _buf(block), _cap(cap) {}
  body_writer(const body_writer&) = delete;
  body_writer& operator=(const body_writer&) = delete;

  // Appends when it fits (false, nothing written, when it does not).
  bool put(std::string_view s) noexcept {
    if (s.size() > space()) return false;
    if (!s.empty()) std::memcpy(_buf + _len, s.data(), s.size());
    _len += s.size();
    return true;
  }
  size_t space() const noexcept { return _cap - _reserve - _len; }
  // Runs `f` as far as it fits; true when it is done.
  bool try_fill(filler& f) noexcept {
    _len += f.fill(_buf + _len, space());
    return f.done();
  }
  // Appends all of `s`, sending as often as needed. 0 or -errno.
  runtime::task<int> put_all(std::string_view s);
  // Runs `f` to completion into the writer, sending as often as needed. 0 or -errno.
  runtime::task<int> fill_all(filler f);

  // The bytes that follow are the body, framed as `f` (call once, after the head).
  void start_body(framing f) noexcept;
  framing body_framing() const noexcept { return _framing; }
  // Sends everything buffered (as one chunk when chunked). 0 or -errno.
  runtime::task<int> flush() { return send(false); }
  // Ends the answer: the last chunk when chunked; a close when until_close. 0 or -errno.
  runtime::task<int> finish();

 private:
  static constexpr size_t slot_bytes = 18;  // chunk-size line: 16 hex digits + CRLF
  static constexpr size_t tail_bytes = 7;   // CRLF after a chunk + "0\r\n\r\n"
  runtime::task<int> send(bool last);

  httpd::exchange& _ex;
  char* _buf;
  size_t _cap;
  size_t _len = 0;
  size_t _reserve = 0;
  size_t _chunk_at = 0;  // chunked: where the reserved chunk-size slot starts
  framing _framing = framing::raw;
  bool _sent = false;
};

}  // namespace rg::mockllm
