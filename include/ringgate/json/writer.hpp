// A small JSON writer into caller memory, for /v1/models lists, error bodies, access log lines and
// protocol translation. Never allocates; output is always valid UTF-8 JSON while ok() holds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace rg::json {

// Whether string() writes `text` unchanged between its quotes: printable ASCII only, no '"' or
// '\\' (checked eight bytes at a time). Callers with their own output use it for a fast path.
bool is_plain(std::string_view text) noexcept;

// Commas and colons are inserted automatically. Overflow (or misuse: a value where a key is due, a
// key outside an object, unbalanced end_*) makes ok() false for good and stops output, so one
// check at the end suffices. Each method returns *this for chaining:
//   w.begin_object().key("object").string("list").key("data").begin_array() ...
class json_writer {
 public:
  static constexpr uint32_t depth_max = 64;

  explicit json_writer(std::span<char> out) noexcept : _out(out) {}

  json_writer& begin_object();
  json_writer& end_object();
  json_writer& begin_array();
  json_writer& end_array();
  json_writer& key(std::string_view name);  // escaped like string()

  // Quotes and escapes: '"' '\\' and control characters (\n \r \t \b \f, others \u00XX). Valid
  // UTF-8 passes through; each byte of an invalid sequence becomes U+FFFD.
  json_writer& string(std::string_view text);
  // Quotes text that is already escaped JSON string content (e.g. openai_error_message()).
  json_writer& escaped_string(std::string_view escaped);
  json_writer& integer(int64_t v);
  json_writer& unsigned_integer(uint64_t v);
  json_writer& number(double v);  // shortest round-trip form; NaN and infinities → null
  json_writer& boolean(bool v);
  json_writer& null();
  json_writer& raw(std::string_view json);  // a complete JSON value, written as is

  bool ok() const { return _ok; }
  // ok() and every container closed and a value written: the output is one JSON text.
  bool complete() const { return _ok && _depth == 0 && _len > 0; }
  std::string_view view() const { return {_out.data(), _len}; }
  size_t size() const { return _len; }
  void reset() { *this = json_writer(_out); }

 private:
  bool before_value();
  bool open(char c, bool is_object);
  bool close(char c, bool is_object);
  void put(std::string_view s);
  void put(char c);
  void put_escaped(std::string_view s);

  std::span<char> _out;
  size_t _len = 0;
  uint64_t _object_bits = 0;    // bit d: container at depth d+1 is an object
  uint64_t _nonempty_bits = 0;  // bit d: container at depth d+1 already has a member
  uint32_t _depth = 0;
  bool _after_key = false;
  bool _ok = true;
};

}  // namespace rg::json
