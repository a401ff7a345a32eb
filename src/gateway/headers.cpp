// The upstream header allowlist (see headers.hpp). Invariant: a header config::never_forwarded()
// names is refused before any rule is looked at, so no configured rule (a prefix least of all)
// can let one through.
#include "headers.hpp"

#include <ringgate/config/config.hpp>
#include <ringgate/runtime/bytes.hpp>

namespace rg::gateway {
namespace {

// Always forwarded.
constexpr std::string_view forwarded_headers[] = {"accept", "user-agent", "openai-beta"};

bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && runtime::ascii_iequal(s.substr(0, prefix.size()), prefix);
}

}  // namespace

bool forwarded_header(std::span<const forward_rule> extra, std::string_view name) noexcept {
  if (config::never_forwarded(name)) return false;
  for (std::string_view allowed : forwarded_headers) {
    if (runtime::ascii_iequal(name, allowed)) return true;
  }
  for (const auto& rule : extra) {
    if (rule.prefix ? istarts_with(name, rule.name) : runtime::ascii_iequal(name, rule.name))
      return true;
  }
  return false;
}

}  // namespace rg::gateway
