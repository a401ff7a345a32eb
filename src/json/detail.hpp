// Private to the json module: the per-thread simdjson parser and the RFC 8259 checks On-Demand
// leaves to us (it validates UTF-8 and structure it visits, not skipped values or scalar tokens).
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace rg::json::detail {

namespace od = simdjson::ondemand;

// Starts On-Demand iteration of json (json_padding readable bytes behind it) with this thread's
// parser. The document borrows the parser: finish with it before the next iterate().
simdjson::error_code iterate(std::string_view json, od::document& doc) noexcept;

inline bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// simdjson's raw tokens run up to the next token, trailing whitespace included.
inline std::string_view trim_right(std::string_view token) {
  while (!token.empty() && is_space(token.back())) token.remove_suffix(1);
  return token;
}

// The bytes between the quotes of a raw string token, nullopt if it is not one.
inline std::optional<std::string_view> string_contents(std::string_view raw_token) {
  std::string_view t = trim_right(raw_token);
  if (t.size() < 2 || t.front() != '"' || t.back() != '"') return std::nullopt;
  return t.substr(1, t.size() - 2);
}

// Checks the escapes of JSON string contents (simdjson's stage 1 has already rejected raw control
// characters and invalid UTF-8) and returns the unescaped length; with Write, also decodes into
// out (which needs contents.size() bytes at most). Lone surrogates are rejected, as simdjson does.
template <bool Write>
std::optional<size_t> scan_string(std::string_view contents, char* out) noexcept;

// RFC 8259 number grammar on a trimmed token: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool is_number(std::string_view token) noexcept;

enum class count_mode : uint8_t { none, prompt };

struct walk_state {
  uint64_t prompt_chars = 0;
  uint64_t prompt_strings = 0;
  bool too_deep = false;
};

// Validates one value completely (everything On-Demand would otherwise skip), consuming it.
// `depth` is the nesting depth of the container holding v (the root object is 1). In prompt mode,
// adds the unescaped length of string values to state.prompt_chars (see request_info).
bool walk_value(od::value& v, uint32_t depth, count_mode mode, walk_state& state) noexcept;

}  // namespace rg::json::detail
