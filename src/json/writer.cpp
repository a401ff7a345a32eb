// json_writer: streaming JSON output into a fixed buffer. Invariant: while ok(), view() is a
// prefix of valid UTF-8 JSON; the first overflow or misuse stops all further output.
#include <ringgate/json/writer.hpp>
#include <ringgate/runtime/bytes.hpp>

#include <array>
#include <charconv>
#include <cmath>
#include <cstring>

namespace rg::json {
namespace {

// Length of the valid UTF-8 sequence starting at p (RFC 3629: no overlongs, no surrogates,
// nothing above U+10FFFF), or 0.
size_t utf8_sequence(const unsigned char* p, size_t avail) {
  auto cont = [&](size_t i, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return i < avail && p[i] >= lo && p[i] <= hi;
  };
  unsigned char c = p[0];
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return cont(1) && cont(2) ? 3 : 0;
  if (c == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
  if (c == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

// Bytes copied as they are without further thought: printable ASCII but '"' and '\\'.
constexpr auto plain_ascii = [] {
  std::array<bool, 256> table{};
  for (int c = 0x20; c < 0x80; ++c) table[size_t(c)] = c != '"' && c != '\\';
  return table;
}();

constexpr std::string_view replacement_character = "\xEF\xBF\xBD";  // U+FFFD

}  // namespace

void json_writer::put(std::string_view s) {
  if (!_ok) return;
  if (_out.size() - _len < s.size()) {
    _ok = false;
    return;
  }
  if (!s.empty()) std::memcpy(_out.data() + _len, s.data(), s.size());
  _len += s.size();
}

void json_writer::put(char c) {
  put(std::string_view(&c, 1));
}

// Most strings written (log fields, model names, paths) need no escaping and are then copied in
// one piece.
bool is_plain(std::string_view s) noexcept {
  using namespace runtime;
  const auto special = json_special8;  // an exact "none" when zero
  size_t i = 0;
  if (swar_enabled && s.size() >= 8) {
    for (; s.size() - i > 8; i += 8) {
      if (special(load64(s.data() + i)) != 0) return false;
    }
    // The last eight bytes, overlapping the step before: no byte-at-a-time tail.
    return special(load64(s.data() + s.size() - 8)) == 0;
  }
  for (; i < s.size(); ++i) {
    if (!plain_ascii[static_cast<unsigned char>(s[i])]) return false;
  }
  return true;
}

void json_writer::put_escaped(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  if (is_plain(s)) return put(s);
  const auto* u = reinterpret_cast<const unsigned char*>(s.data());
  size_t run = 0;  // start of the bytes copied as they are
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = u[i];
    if (plain_ascii[c]) {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      if (size_t n = utf8_sequence(u + i, s.size() - i)) {
        i += n;
        continue;
      }
    }
    put(s.substr(run, i - run));
    switch (c) {
      case '"':
        put("\\\"");
        break;
      case '\\':
        put("\\\\");
        break;
      case '\n':
        put("\\n");
        break;
      case '\r':
        put("\\r");
        break;
      case '\t':
        put("\\t");
        break;
      case '\b':
        put("\\b");
        break;
      case '\f':
        put("\\f");
        break;
      default:
        if (c < 0x20) {
          const char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
          put(std::string_view(esc, sizeof esc));
        } else {
          put(replacement_character);
        }
    }
    run = ++i;
  }
  put(s.substr(run));
}

bool json_writer::before_value() {
  if (!_ok) return false;
  if (_after_key) {
    _after_key = false;
    return true;
  }
  if (_depth == 0) {
    if (_len > 0) _ok = false;  // one root value only
    return _ok;
  }
  const uint64_t bit = uint64_t{1} << (_depth - 1);
  if (_object_bits & bit) {  // a member value needs its key first
    _ok = false;
    return false;
  }
  if (_nonempty_bits & bit) put(',');
  _nonempty_bits |= bit;
  return _ok;
}

bool json_writer::open(char c, bool is_object) {
  if (!before_value()) return false;
  if (_depth == depth_max) {
    _ok = false;
    return false;
  }
  put(c);
  const uint64_t bit = uint64_t{1} << _depth;
  ++_depth;
  _object_bits = is_object ? (_object_bits | bit) : (_object_bits & ~bit);
  _nonempty_bits &= ~bit;
  return _ok;
}

bool json_writer::close(char c, bool is_object) {
  if (!_ok) return false;
  const uint64_t bit = _depth == 0 ? 0 : uint64_t{1} << (_depth - 1);
  if (_depth == 0 || _after_key || is_object != ((_object_bits & bit) != 0)) {
    _ok = false;
    return false;
  }
  put(c);
  --_depth;
  return _ok;
}

json_writer& json_writer::begin_object() {
  open('{', true);
  return *this;
}

json_writer& json_writer::end_object() {
  close('}', true);
  return *this;
}

json_writer& json_writer::begin_array() {
  open('[', false);
  return *this;
}

json_writer& json_writer::end_array() {
  close(']', false);
  return *this;
}

json_writer& json_writer::key(std::string_view name) {
  if (!_ok) return *this;
  const uint64_t bit = _depth == 0 ? 0 : uint64_t{1} << (_depth - 1);
  if (_depth == 0 || _after_key || !(_object_bits & bit)) {
    _ok = false;
    return *this;
  }
  if (_nonempty_bits & bit) put(',');
  _nonempty_bits |= bit;
  put('"');
  put_escaped(name);
  put("\":");
  _after_key = true;
  return *this;
}

json_writer& json_writer::string(std::string_view text) {
  if (!before_value()) return *this;
  put('"');
  put_escaped(text);
  put('"');
  return *this;
}

json_writer& json_writer::escaped_string(std::string_view escaped) {
  if (!before_value()) return *this;
  put('"');
  put(escaped);
  put('"');
  return *this;
}

json_writer& json_writer::integer(int64_t v) {
  if (!before_value()) return *this;
  char buf[24];
  auto result = std::to_chars(buf, buf + sizeof buf, v);
  put(std::string_view(buf, size_t(result.ptr - buf)));
  return *this;
}

json_writer& json_writer::unsigned_integer(uint64_t v) {
  if (!before_value()) return *this;
  char buf[24];
  auto result = std::to_chars(buf, buf + sizeof buf, v);
  put(std::string_view(buf, size_t(result.ptr - buf)));
  return *this;
}

json_writer& json_writer::number(double v) {
  if (!std::isfinite(v)) return null();  // JSON has no NaN or infinity
  if (!before_value()) return *this;
  char buf[32];  // the shortest round-trip form of a double fits in 24
  auto result = std::to_chars(buf, buf + sizeof buf, v);
  put(std::string_view(buf, size_t(result.ptr - buf)));
  return *this;
}

json_writer& json_writer::boolean(bool v) {
  if (before_value()) put(v ? std::string_view("true") : std::string_view("false"));
  return *this;
}

json_writer& json_writer::null() {
  if (before_value()) put("null");
  return *this;
}

json_writer& json_writer::raw(std::string_view json) {
  if (before_value()) put(json);
  return *this;
}

}  // namespace rg::json
