// Byte classes of RFC 9110/9112/3986 as one constexpr lookup table, shared by the http parsers.
// Private to src/http; every class is a pure function of the byte.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include <ringgate/runtime/bytes.hpp>

namespace rg::http::detail {

enum char_class : uint8_t {
  cc_tchar = 1,        // token: ALPHA DIGIT !#$%&'*+-.^_`|~
  cc_field_vchar = 2,  // allowed in a field value: VCHAR, obs-text, SP, HTAB
  cc_target = 4,       // accepted in a request-target: 0x21..0x7E except '#'
  cc_host = 8,         // uri-host [":" port]: unreserved, sub-delims, '%', ':', '[', ']'
  cc_hex = 16,         // HEXDIG (either case)
};

constexpr bool in(std::string_view set, unsigned c) noexcept {
  for (char s : set) {
    if (static_cast<unsigned char>(s) == c) return true;
  }
  return false;
}

constexpr std::array<uint8_t, 256> make_char_table() noexcept {
  std::array<uint8_t, 256> t{};
  for (unsigned c = 0; c < 256; ++c) {
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool digit = c >= '0' && c <= '9';
    uint8_t k = 0;
    if (alpha || digit || in("!#$%&'*+-.^_`|~", c)) k |= cc_tchar;
    if ((c >= 0x20 && c != 0x7F) || c == '\t') k |= cc_field_vchar;
    if (c >= 0x21 && c <= 0x7E && c != '#') k |= cc_target;
    if (alpha || digit || in("-._~!$&'()*+,;=%:[]", c)) k |= cc_host;
    if (digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) k |= cc_hex;
    t[c] = k;
  }
  return t;
}

inline constexpr std::array<uint8_t, 256> char_table = make_char_table();

inline bool has(char c, char_class k) noexcept {
  return (char_table[static_cast<unsigned char>(c)] & k) != 0;
}

inline bool is_ows(char c) noexcept {
  return c == ' ' || c == '\t';
}

constexpr char to_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
}

inline std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

inline bool is_token(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s) {
    if (!has(c, cc_tchar)) return false;
  }
  return true;
}

inline bool all_of(std::string_view s, char_class k) noexcept {
  for (char c : s) {
    if (!has(c, k)) return false;
  }
  return true;
}

// Walks a comma-separated list, yielding OWS-trimmed elements (empty ones included, so "a," has
// two elements and the caller can decide whether empty elements are acceptable).
class list_elements {
 public:
  explicit list_elements(std::string_view list) noexcept : _rest(list) {}
  bool next(std::string_view& element) noexcept {
    if (_finished) return false;
    const size_t comma = _rest.find(',');
    element = trim_ows(_rest.substr(0, comma));
    if (comma == std::string_view::npos) {
      _finished = true;
    } else {
      _rest.remove_prefix(comma + 1);
    }
    return true;
  }

 private:
  std::string_view _rest;
  bool _finished = false;
};

// SWAR primitives (load64, has_byte_less, …) come from runtime/bytes.hpp, shared with json.
using runtime::ascii_iequal;  // header names, tokens: ASCII case-insensitive
using runtime::byte_highs;
using runtime::byte_ones;
using runtime::has_byte_equal;
using runtime::has_byte_less;
using runtime::load64;
using runtime::lowest_flagged_byte;
using runtime::swar_enabled;

// First index in [i, end) whose byte is <= '\r' (CR, LF, HTAB and most CTLs), or end.
inline size_t find_low_byte(const char* p, size_t i, size_t end) noexcept {
  while (swar_enabled && end - i >= 8) {
    const uint64_t mask = has_byte_less(load64(p + i), '\r' + 1);
    if (mask != 0) return i + lowest_flagged_byte(mask);
    i += 8;
  }
  while (i<end&& static_cast<unsigned char>(p[i])> '\r') ++i;
  return i;
}

// First index in [i, end) whose byte is not allowed in a field value, or end.
inline size_t find_non_field_vchar(const char* p, size_t i, size_t end) noexcept {
  while (swar_enabled && end - i >= 8) {
    const uint64_t v = load64(p + i);
    const uint64_t mask = has_byte_less(v, 0x20) | has_byte_equal(v, 0x7F);
    if (mask == 0) {
      i += 8;
      continue;
    }
    i += lowest_flagged_byte(mask);
    if (!has(p[i], cc_field_vchar)) return i;
    ++i;  // an HTAB
  }
  while (i < end && has(p[i], cc_field_vchar)) ++i;
  return i;
}

}  // namespace rg::http::detail
