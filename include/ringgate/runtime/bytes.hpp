// Byte-level primitives shared by the parsers and writers of every module (header-only,
// dependency-free): SWAR tests of eight bytes at a time (JSON string bytes, case-insensitive
// header names), and substring searches tuned for JSON keys in short texts (an SSE event, a
// response body).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace rg::runtime {

// SWAR fast paths: test eight bytes per step. In has_byte_less() a borrow can only flag bytes
// above a true match, so the lowest flagged byte is exact and results equal the byte loop's.
inline uint64_t load64(const char* p) noexcept {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
constexpr bool swar_enabled = std::endian::native == std::endian::little;
constexpr uint64_t byte_ones = 0x0101010101010101ull;
constexpr uint64_t byte_highs = 0x8080808080808080ull;
// Flags (bit 7 of) each byte of v that is < n, exactly up to the lowest flagged one (n <= 128).
constexpr uint64_t has_byte_less(uint64_t v, uint8_t n) noexcept {
  return (v - byte_ones * n) & ~v & byte_highs;
}
constexpr uint64_t has_byte_equal(uint64_t v, uint8_t b) noexcept {
  return has_byte_less(v ^ (byte_ones * b), 1);
}
inline size_t lowest_flagged_byte(uint64_t mask) noexcept {
  return static_cast<size_t>(std::countr_zero(mask)) / 8;
}

// Flags each byte that a JSON string cannot hold as it is: '"', '\\', control bytes, and (to be
// looked at more closely) bytes >= 0x80. Exact up to the lowest flagged byte.
constexpr uint64_t json_special8(uint64_t v) noexcept {
  return has_byte_less(v, 0x20) | has_byte_equal(v, '"') | has_byte_equal(v, '\\') |
         (v & byte_highs);
}

// The first byte in [p, end) that json_special8 flags, or end; eight bytes per step.
inline const char* find_json_special(const char* p, const char* end) noexcept {
  while (swar_enabled && end - p >= 8) {
    if (const uint64_t m = json_special8(load64(p)); m != 0) return p + lowest_flagged_byte(m);
    p += 8;
  }
  for (; p < end; ++p) {
    const auto c = static_cast<unsigned char>(*p);
    if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) return p;
  }
  return end;
}

// Whether eight bytes equal eight others but for the case of ASCII letters: they may differ only
// in bit 5 (0x20), and only where x holds a letter.
constexpr bool ascii_iequal8(uint64_t x, uint64_t y) noexcept {
  const uint64_t folded = x | byte_ones * 0x20;  // letters in lower case
  const uint64_t low7 = folded & ~byte_highs;
  const uint64_t letter = (low7 + byte_ones * (0x80 - 'a')) &
                          ~(low7 + byte_ones * (0x80 - 'z' - 1)) & ~folded & byte_highs;
  return ((x ^ y) & ~(letter >> 2)) == 0;
}

// ASCII case-insensitive equality (header names): eight bytes per step, the last step
// overlapping the one before. Bytes that are not ASCII letters compare exactly.
inline bool ascii_iequal(std::string_view a, std::string_view b) noexcept {
  const size_t n = a.size();
  if (n != b.size()) return false;
  const char* x = a.data();
  const char* y = b.data();
  if (n >= 8) {
    for (size_t i = 0; i + 8 < n; i += 8) {
      if (!ascii_iequal8(load64(x + i), load64(y + i))) return false;
    }
    return ascii_iequal8(load64(x + n - 8), load64(y + n - 8));
  }
  for (size_t i = 0; i < n; ++i) {
    const char c = x[i], d = y[i];
    if (c != d && ((c | 0x20) != (d | 0x20) || unsigned((c | 0x20) - 'a') > 'z' - 'a')) {
      return false;
    }
  }
  return true;
}

// Whether n bytes at a equal n bytes at b. Up to 16 bytes by two overlapping loads of 8 (or 4)
// bytes each, without a call: find_bytes confirms its candidates (keys of 8 to 12 bytes) with
// it, where a memcmp call cost ~25 instructions a candidate (callgrind).
inline bool equal_bytes(const char* a, const char* b, size_t n) noexcept {
  if (n > 16) return std::memcmp(a, b, n) == 0;
  if (n >= 8) {
    return load64(a) == load64(b) && load64(a + n - 8) == load64(b + n - 8);
  }
  if (n >= 4) {
    uint32_t x0, y0, x1, y1;
    std::memcpy(&x0, a, 4), std::memcpy(&y0, b, 4);
    std::memcpy(&x1, a + n - 4, 4), std::memcpy(&y1, b + n - 4, 4);
    return x0 == y0 && x1 == y1;
  }
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

// Where `needle` first occurs in `hay` at or after `from`, or npos. SSE2 (the x86-64 baseline)
// tests 16 start positions per step on the needle's first two bytes together ('"' then a
// letter: a rare pair in JSON even though '"' alone is everywhere), and equal_bytes confirms the
// few candidates. glibc's memmem (two-way) spent ~560 instructions per 240-byte SSE event on its
// set-up, and string_view::find stops at every '"' (callgrind, 64-chunk streams).
inline size_t find_bytes(std::string_view hay, std::string_view needle, size_t from = 0) noexcept {
  constexpr size_t npos = std::string_view::npos;
  const size_t n = hay.size();
  const size_t m = needle.size();
  if (from > n) return npos;
  if (m == 0) return from;
  if (n - from < m) return npos;
  const char* p = hay.data();
  const size_t last = n - m;  // the last position the needle can start at
  size_t i = from;
#if defined(__SSE2__)
  if (m >= 2) {
    const __m128i first = _mm_set1_epi8(needle[0]);
    const __m128i second = _mm_set1_epi8(needle[1]);
    while (i + 16 < n) {  // reads p[i, i + 17)
      const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
      const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 1));
      auto mask = static_cast<unsigned>(
          _mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, first), _mm_cmpeq_epi8(b, second))));
      while (mask != 0) {
        const size_t k = i + static_cast<size_t>(std::countr_zero(mask));
        if (k > last) return npos;
        if (equal_bytes(p + k + 2, needle.data() + 2, m - 2)) return k;
        mask &= mask - 1;
      }
      i += 16;
    }
  }
#endif
  for (; i <= last; ++i) {
    if (p[i] == needle[0] && equal_bytes(p + i + 1, needle.data() + 1, m - 1)) return i;
  }
  return npos;
}

// Where `needle` last occurs wholly inside `hay` starting at or after `floor`, or npos: the same
// pair filter as find_bytes(), 16 start positions per step from the end backwards.
inline size_t rfind_bytes(std::string_view hay, std::string_view needle,
                          size_t floor = 0) noexcept {
  constexpr size_t npos = std::string_view::npos;
  const size_t n = hay.size();
  const size_t m = needle.size();
  if (m > n || floor > n - m) return npos;
  if (m == 0) return n;
  const char* p = hay.data();
  size_t end = n - m + 1;  // candidates below it remain
#if defined(__SSE2__)
  if (m >= 2) {
    const __m128i first = _mm_set1_epi8(needle[0]);
    const __m128i second = _mm_set1_epi8(needle[1]);
    while (end - floor >= 16) {  // starts [end - 16, end) read up to p[end], and end < n
      const size_t i = end - 16;
      const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
      const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 1));
      auto mask = static_cast<unsigned>(
          _mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, first), _mm_cmpeq_epi8(b, second))));
      while (mask != 0) {
        const int top = 31 - std::countl_zero(mask);
        const size_t k = i + static_cast<size_t>(top);
        if (equal_bytes(p + k + 2, needle.data() + 2, m - 2)) return k;
        mask &= ~(1u << top);
      }
      end = i;
    }
  }
#endif
  while (end > floor) {
    const size_t k = --end;
    if (p[k] == needle[0] && equal_bytes(p + k + 1, needle.data() + 1, m - 1)) return k;
  }
  return npos;
}

// Decimal digits two at a time ("00" … "99"): the access line writes a timestamp and a dozen
// numbers a request, and a digit pair per step halves the divisions of a digit-by-digit loop.
inline constexpr char decimal_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";
// Writes v (< 100) as exactly two digits.
inline void put_two_digits(char* out, uint32_t v) noexcept {
  std::memcpy(out, decimal_pairs + 2 * v, 2);
}

}  // namespace rg::runtime
