// Full RFC 8259 validation on top of simdjson On-Demand: walks every value so that skipped parts
// of a request are as well-formed as the parts we read. Bounded recursion (request_depth_max).
#include "detail.hpp"

#include <ringgate/json/request.hpp>

#include <cstring>

namespace rg::json::detail {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Reads the 4 hex digits after "\u"; -1 if they are not there.
int32_t read_hex4(const char* p, const char* end) {
  if (end - p < 4) return -1;
  int32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    int h = hex_value(p[i]);
    if (h < 0) return -1;
    v = (v << 4) | h;
  }
  return v;
}

size_t utf8_encode(uint32_t cp, char* out, bool write) {
  size_t n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  if (!write) return n;
  auto* o = reinterpret_cast<unsigned char*>(out);
  switch (n) {
    case 1:
      o[0] = static_cast<unsigned char>(cp);
      break;
    case 2:
      o[0] = static_cast<unsigned char>(0xC0 | (cp >> 6));
      o[1] = static_cast<unsigned char>(0x80 | (cp & 0x3F));
      break;
    case 3:
      o[0] = static_cast<unsigned char>(0xE0 | (cp >> 12));
      o[1] = static_cast<unsigned char>(0x80 | ((cp >> 6) & 0x3F));
      o[2] = static_cast<unsigned char>(0x80 | (cp & 0x3F));
      break;
    default:
      o[0] = static_cast<unsigned char>(0xF0 | (cp >> 18));
      o[1] = static_cast<unsigned char>(0x80 | ((cp >> 12) & 0x3F));
      o[2] = static_cast<unsigned char>(0x80 | ((cp >> 6) & 0x3F));
      o[3] = static_cast<unsigned char>(0x80 | (cp & 0x3F));
  }
  return n;
}

char simple_escape(char c) {
  switch (c) {
    case '"':
      return '"';
    case '\\':
      return '\\';
    case '/':
      return '/';
    case 'b':
      return '\b';
    case 'f':
      return '\f';
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 't':
      return '\t';
    default:
      return 0;
  }
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool walk_object(od::value& v, uint32_t depth, count_mode mode, walk_state& state) noexcept;
bool walk_array(od::value& v, uint32_t depth, count_mode mode, walk_state& state) noexcept;

// Media payloads (base64 images, audio, files) are not prompt text.
count_mode child_mode(count_mode mode, std::string_view key) {
  if (mode == count_mode::none) return mode;
  if (key == "url" || key == "data" || key == "file_data" || key == "image_url") {
    return count_mode::none;
  }
  return mode;
}

bool walk_object(od::value& v, uint32_t depth, count_mode mode, walk_state& state) noexcept {
  if (depth > request_depth_max) {
    state.too_deep = true;
    return false;
  }
  od::object object;
  if (v.get_object().get(object)) return false;
  for (auto member : object) {
    od::field field;
    if (std::move(member).get(field)) return false;
    std::string_view key;  // unescaping validates the key's escapes
    if (field.unescaped_key().get(key)) return false;
    if (!walk_value(field.value(), depth, child_mode(mode, key), state)) return false;
  }
  return true;
}

bool walk_array(od::value& v, uint32_t depth, count_mode mode, walk_state& state) noexcept {
  if (depth > request_depth_max) {
    state.too_deep = true;
    return false;
  }
  od::array array;
  if (v.get_array().get(array)) return false;
  for (auto element : array) {
    od::value value;
    if (std::move(element).get(value)) return false;
    if (!walk_value(value, depth, mode, state)) return false;
  }
  return true;
}

}  // namespace

template <bool Write>
std::optional<size_t> scan_string(std::string_view contents, char* out) noexcept {
  const char* p = contents.data();
  const char* const end = p + contents.size();
  size_t length = 0;
  for (;;) {
    const auto* backslash = static_cast<const char*>(std::memchr(p, '\\', size_t(end - p)));
    const char* stop = backslash ? backslash : end;
    if constexpr (Write) std::memcpy(out + length, p, size_t(stop - p));
    length += size_t(stop - p);
    if (!backslash) return length;
    if (end - backslash < 2) return std::nullopt;
    p = backslash + 2;
    if (char c = simple_escape(backslash[1])) {
      if constexpr (Write) out[length] = c;
      ++length;
      continue;
    }
    if (backslash[1] != 'u') return std::nullopt;
    int32_t cp = read_hex4(p, end);
    if (cp < 0) return std::nullopt;
    p += 4;
    if (cp >= 0xDC00 && cp <= 0xDFFF) return std::nullopt;  // lone low surrogate
    if (cp >= 0xD800 && cp <= 0xDBFF) {                     // needs a low surrogate next
      if (end - p < 6 || p[0] != '\\' || p[1] != 'u') return std::nullopt;
      int32_t low = read_hex4(p + 2, end);
      if (low < 0xDC00 || low > 0xDFFF) return std::nullopt;
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
      p += 6;
    }
    length += utf8_encode(uint32_t(cp), Write ? out + length : nullptr, Write);
  }
}

template std::optional<size_t> scan_string<false>(std::string_view, char*) noexcept;
template std::optional<size_t> scan_string<true>(std::string_view, char*) noexcept;

bool is_number(std::string_view t) noexcept {
  size_t i = 0;
  const size_t n = t.size();
  if (i < n && t[i] == '-') ++i;
  if (i == n) return false;
  if (t[i] == '0') {
    ++i;
  } else if (t[i] >= '1' && t[i] <= '9') {
    while (i < n && is_digit(t[i])) ++i;
  } else {
    return false;
  }
  if (i < n && t[i] == '.') {
    size_t start = ++i;
    while (i < n && is_digit(t[i])) ++i;
    if (i == start) return false;
  }
  if (i < n && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < n && (t[i] == '+' || t[i] == '-')) ++i;
    size_t start = i;
    while (i < n && is_digit(t[i])) ++i;
    if (i == start) return false;
  }
  return i == n;
}

// Strings go through simdjson's run-time dispatched (SIMD) unescaper, which rejects bad escapes and
// lone surrogates. Numbers and literals are checked from their raw token and left unconsumed: the
// enclosing iteration skips them (On-Demand would otherwise accept "01", "1.", "nul", "truex").
bool walk_value(od::value& v, uint32_t depth, count_mode mode, walk_state& state) noexcept {
  od::json_type type;
  if (v.type().get(type)) return false;
  switch (type) {
    case od::json_type::object:
      return walk_object(v, depth + 1, mode, state);
    case od::json_type::array:
      return walk_array(v, depth + 1, mode, state);
    case od::json_type::string: {
      std::string_view text;
      if (v.get_string().get(text)) return false;
      if (mode == count_mode::prompt) {
        state.prompt_chars += text.size();
        ++state.prompt_strings;
      }
      return true;
    }
    case od::json_type::number:
      return is_number(trim_right(v.raw_json_token()));
    case od::json_type::boolean: {
      std::string_view t = trim_right(v.raw_json_token());
      return t == "true" || t == "false";
    }
    case od::json_type::null:
      return trim_right(v.raw_json_token()) == "null";
  }
  return false;
}

}  // namespace rg::json::detail
