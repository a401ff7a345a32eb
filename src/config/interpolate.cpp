// ${ENV} interpolation of config string values. Invariant: the output never re-expands text that
// came from a variable, and a reference that cannot be resolved is an error, never an empty string.
//
// Syntax, applied to every TOML string value after parsing:
//   ${NAME}           value of NAME; an error when NAME is unset (an empty value is kept)
//   ${NAME:-default}  value of NAME when set and non-empty, else `default` (which may be empty)
//   $$                copied as is ("$$"); it is not an escape, so "$${X}" stays "$${X}"
//   $ not followed by { (or at the end)  copied as is
// NAME is [A-Za-z_][A-Za-z0-9_]*; `default` runs to the first '}' and is not itself interpolated.
#include "detail.hpp"

namespace rg::config::detail {
namespace {

bool is_name_start(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
bool is_name_char(char c) {
  return is_name_start(c) || (c >= '0' && c <= '9');
}

bool valid_name(std::string_view name) {
  if (name.empty() || !is_name_start(name[0])) return false;
  for (char c : name)
    if (!is_name_char(c)) return false;
  return true;
}

// Expands the body of one "${...}" reference (without the braces).
std::expected<std::string, std::string> expand(std::string_view body, const env_lookup& env) {
  std::string_view name = body;
  std::optional<std::string_view> fallback;
  if (auto sep = body.find(":-"); sep != std::string_view::npos) {
    name = body.substr(0, sep);
    fallback = body.substr(sep + 2);
  }
  if (!valid_name(name)) {
    return std::unexpected("invalid variable reference \"${" + std::string(body) + "}\"");
  }
  std::optional<std::string> value = env(name);
  if (fallback) {
    if (value && !value->empty()) return std::move(*value);
    return std::string(*fallback);
  }
  if (!value) return std::unexpected("environment variable " + std::string(name) + " is not set");
  return std::move(*value);
}

}  // namespace

std::expected<std::string, std::string> interpolate(std::string_view text, const env_lookup& env) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c != '$' || i + 1 >= text.size()) {
      out += c;
      ++i;
      continue;
    }
    if (text[i + 1] == '$') {
      out += "$$";
      i += 2;
      continue;
    }
    if (text[i + 1] != '{') {
      out += c;
      ++i;
      continue;
    }
    const size_t close = text.find('}', i + 2);
    if (close == std::string_view::npos) return std::unexpected(std::string("unterminated ${"));
    auto value = expand(text.substr(i + 2, close - i - 2), env);
    if (!value) return value;
    out += *value;
    i = close + 1;
  }
  return out;
}

}  // namespace rg::config::detail
