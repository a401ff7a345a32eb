// The upstream header allowlist (see headers.hpp). Invariant: a header config::never_forwarded()
// names is refused before any rule is looked at, so no configured rule (a prefix least of all)
// can let one through.
#include "headers.hpp"

#include <ringgate/config/config.hpp>

namespace rg::gateway {
namespace {

// Always forwarded.
constexpr std::string_view forwarded_headers[] = {"accept", "user-agent", "openai-beta"};

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = char(x + 32);
    if (y >= 'A' && y <= 'Z') y = char(y + 32);
    if (x != y) return false;
  }
  return true;
}

bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

}  // namespace

bool forwarded_header(std::span<const forward_rule> extra, std::string_view name) noexcept {
  if (config::never_forwarded(name)) return false;
  for (std::string_view allowed : forwarded_headers) {
    if (iequals(name, allowed)) return true;
  }
  for (const auto& rule : extra) {
    if (rule.prefix ? istarts_with(name, rule.name) : iequals(name, rule.name)) return true;
  }
  return false;
}

}  // namespace rg::gateway
