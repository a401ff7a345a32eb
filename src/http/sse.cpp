// SSE event boundary scanner and field helpers. The scanner is a byte-at-a-time machine in effect
// (line content is skipped eight bytes at a time), so any split of the input gives the same events.
#include <ringgate/http/sse.hpp>

#include <algorithm>
#include <bit>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "chars.hpp"

namespace rg::http {
namespace {

using namespace detail;

constexpr std::string_view data_prefix = "data:";
constexpr uint8_t prefix_mismatch = 6;  // the line does not start with "data:" (nor is "data")

constexpr parse_error oversized_line{502, "upstream sent an oversized SSE line", "bad_gateway"};

// First index in [i, end) holding CR or LF, or end. SSE2 (x86-64 baseline) tests 16 bytes per
// step; the SWAR fallback's OR of two masks is exact at its lowest flagged byte (each mask's false
// positives lie above its own first match).
size_t find_line_break_sse2(const char* p, size_t i, size_t end) noexcept {
#if defined(__SSE2__)
  const __m128i cr = _mm_set1_epi8('\r');
  const __m128i lf = _mm_set1_epi8('\n');
  while (end - i >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const int mask = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf)));
    if (mask != 0) return i + static_cast<size_t>(std::countr_zero(static_cast<unsigned>(mask)));
    i += 16;
  }
#endif
  while (swar_enabled && end - i >= 8) {
    const uint64_t v = load64(p + i);
    const uint64_t mask = has_byte_equal(v, '\r') | has_byte_equal(v, '\n');
    if (mask != 0) return i + lowest_flagged_byte(mask);
    i += 8;
  }
  while (i < end && p[i] != '\r' && p[i] != '\n') ++i;
  return i;
}

#if defined(__x86_64__) && defined(__GNUC__)
// 32 bytes per step where the CPU has AVX2 (chosen once at run time): an SSE event's data line
// is a few hundred bytes, and this loop is most of the scanner's work.
__attribute__((target("avx2"))) size_t find_line_break_avx2(const char* p, size_t i,
                                                            size_t end) noexcept {
  const __m256i cr = _mm256_set1_epi8('\r');
  const __m256i lf = _mm256_set1_epi8('\n');
  while (end - i >= 32) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i));
    const auto mask = static_cast<unsigned>(
        _mm256_movemask_epi8(_mm256_or_si256(_mm256_cmpeq_epi8(v, cr), _mm256_cmpeq_epi8(v, lf))));
    if (mask != 0) return i + static_cast<size_t>(std::countr_zero(mask));
    i += 32;
  }
  return find_line_break_sse2(p, i, end);
}
#endif

using line_break_finder = size_t (*)(const char*, size_t, size_t) noexcept;

line_break_finder pick_line_break_finder() noexcept {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2")) return find_line_break_avx2;
#endif
  return find_line_break_sse2;
}

// Chosen when the program starts (dynamic initialisation of a namespace-scope constant), so a
// call is one indirect jump: a function-local static paid its "initialised yet?" guard on every
// call, twice per SSE event.
const line_break_finder line_break_finder_chosen = pick_line_break_finder();

inline size_t find_line_break(const char* p, size_t i, size_t end) noexcept {
  return line_break_finder_chosen(p, i, end);
}

// Splits an event's text into lines at LF, CRLF or CR; a last line without an ending is a line.
class line_reader {
 public:
  explicit line_reader(std::string_view text) noexcept : _rest(text) {}
  bool next(std::string_view& line) noexcept {
    if (_rest.empty()) return false;
    const size_t end = find_line_break(_rest.data(), 0, _rest.size());
    line = _rest.substr(0, end);
    size_t skip = end;
    if (end < _rest.size()) {
      const bool crlf = _rest[end] == '\r' && end + 1 < _rest.size() && _rest[end + 1] == '\n';
      skip = end + (crlf ? 2 : 1);
    }
    _rest.remove_prefix(skip);
    return true;
  }

 private:
  std::string_view _rest;
};

// Calls visit(name, value) for each field of the first event in `text` until it returns false.
// Comments are skipped; the value loses one leading space (HTML §9.2.6 "process the field").
template <class Visit>
void for_each_field(std::string_view text, Visit visit) noexcept {
  line_reader lines(text);
  std::string_view line;
  bool in_event = false;
  while (lines.next(line)) {
    if (line.empty()) {
      if (in_event) return;  // the blank line ending the event
      continue;
    }
    in_event = true;
    if (line[0] == ':') continue;
    const size_t colon = line.find(':');
    const std::string_view name = line.substr(0, colon);
    std::string_view value =
        colon == std::string_view::npos ? line.substr(line.size()) : line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
    if (!visit(name, value)) return;
  }
}

}  // namespace

void sse_scanner::reset() noexcept {
  _line_bytes = 0;
  _event_bytes = 0;
  _event_lines = 0;
  _last_event_bytes = 0;
  _prefix = 0;
  _after_cr = false;
  _end_pending = false;
  _has_data = false;
  _last_has_data = false;
  _error = {};
}

sse_step sse_scanner::end_event(size_t consumed) noexcept {
  _last_event_bytes = _event_bytes + consumed;
  _last_has_data = _has_data;
  _event_bytes = 0;
  _event_lines = 0;
  _has_data = false;
  _after_cr = false;
  return {consumed, true, {}};
}

sse_step sse_scanner::done_for_now(size_t consumed) noexcept {
  _event_bytes += consumed;
  return {consumed, false, _error};
}

// One of a line's first bytes, while they may still spell "data:".
bool sse_scanner::on_prefix_byte(char c) noexcept {
  if (++_line_bytes > _line_bytes_max) {
    _error = oversized_line;
    return false;
  }
  _prefix = data_prefix[_prefix] == c ? static_cast<uint8_t>(_prefix + 1) : prefix_mismatch;
  return true;
}

void sse_scanner::on_line_end() noexcept {
  if (_prefix == data_prefix.size() || _prefix == data_prefix.size() - 1) _has_data = true;
  if (_line_bytes != 0) ++_event_lines;
  _line_bytes = 0;
  _prefix = 0;
}

// Control stays here; the only per-byte work is at line starts and ends. Line content is skipped
// in bulk, bounded so that the byte which makes a line oversized is found at the same offset
// however the input was split.
sse_step sse_scanner::step(std::string_view in) noexcept {
  if (_error.status != 0) return {0, false, _error};
  const char* p = in.data();
  const size_t n = in.size();
  if (_end_pending) {
    if (n == 0) return {};
    _end_pending = false;
    return end_event(p[0] == '\n' ? 1 : 0);
  }
  size_t i = 0;
  // The common event, alone and whole at the start of the input: one "data:" line ended by LF
  // and the blank line (LF) that ends the event. Settled with one search for the line's end, in
  // the same state the loop below would leave (it walks four branches per line end, which cost
  // more than the search on a 240-byte event).
  if (_event_bytes == 0 && _line_bytes == 0 && _prefix == 0 && !_after_cr &&
      _line_bytes_max >= data_prefix.size() && n >= data_prefix.size() + 2 &&
      std::memcmp(p, data_prefix.data(), data_prefix.size()) == 0) {
    const size_t bound = std::min(n, _line_bytes_max + 1);  // a longer line is the loop's to judge
    const size_t j = find_line_break(p, data_prefix.size(), bound);
    if (j + 1 < n && j <= _line_bytes_max && p[j] == '\n' && p[j + 1] == '\n') {
      _has_data = true;
      return end_event(j + 2);
    }
  }
  while (i < n) {
    const char c = p[i];
    if (_after_cr) {
      _after_cr = false;
      if (c == '\n') {
        ++i;
        continue;
      }
    }
    if (c == '\r' || c == '\n') {
      ++i;
      const bool blank = _line_bytes == 0;
      on_line_end();
      if (!blank || _event_lines == 0) {
        _after_cr = c == '\r';
        continue;
      }
      if (c == '\r') {  // the event's last line ending: CR or CRLF
        if (i == n) {
          _end_pending = true;
          return done_for_now(i);
        }
        if (p[i] == '\n') ++i;
      }
      return end_event(i);
    }
    // A line that starts with all of "data:" in this input (every event of every provider):
    // matched at once rather than a byte at a time. Same state as five on_prefix_byte() calls.
    if (_prefix == 0 && n - i >= data_prefix.size() && _line_bytes_max >= data_prefix.size() &&
        std::memcmp(p + i, data_prefix.data(), data_prefix.size()) == 0) {
      _prefix = static_cast<uint8_t>(data_prefix.size());
      _line_bytes = data_prefix.size();
      i += data_prefix.size();
      continue;
    }
    if (_prefix < data_prefix.size()) {
      if (!on_prefix_byte(c)) return done_for_now(i + 1);
      ++i;
      continue;
    }
    const size_t allowance = _line_bytes_max - _line_bytes;
    const size_t bound = n - i > allowance ? i + allowance + 1 : n;
    const size_t j = find_line_break(p, i, bound);
    _line_bytes += j - i;
    i = j;
    if (_line_bytes > _line_bytes_max) {
      _error = oversized_line;
      return done_for_now(i);
    }
  }
  return done_for_now(i);
}

sse_step sse_scanner::finish_eof() noexcept {
  if (_error.status != 0) return {0, false, _error};
  if (!_end_pending) return {};
  _end_pending = false;
  return end_event(0);
}

std::string_view sse_first_data(std::string_view event) noexcept {
  std::string_view data;
  for_each_field(event, [&](std::string_view name, std::string_view value) {
    if (name != "data") return true;
    data = value;
    return false;
  });
  return data;
}

bool sse_is_done(std::string_view event) noexcept {
  // Every provider's events start with their data field: when its value cannot be "[DONE]", stop
  // at its first bytes instead of splitting the whole event into lines (which cost as much as the
  // scanner's own pass over every streamed chunk).
  if (event.starts_with(data_prefix)) {
    const size_t value = data_prefix.size() + (event.size() > 5 && event[5] == ' ' ? 1 : 0);
    if (value < event.size() && event[value] != '[') return false;
  }
  size_t data_fields = 0;
  bool done = false;
  for_each_field(event, [&](std::string_view name, std::string_view value) {
    if (name != "data") return true;
    done = ++data_fields == 1 && value == "[DONE]";
    return done;  // a second data field makes the data "[DONE]\n…": stop, not done
  });
  return done;
}

std::string_view sse_event_name(std::string_view event) noexcept {
  std::string_view type;
  for_each_field(event, [&](std::string_view name, std::string_view value) {
    if (name == "event") type = value;
    return true;
  });
  return type;
}

}  // namespace rg::http
