// Which client request headers travel upstream: a fixed allowlist, plus per-provider extras from
// config (`forward_headers`), minus the headers the gateway always writes itself. Everything else
// — hop-by-hop headers, Expect, Upgrade, the client's credentials, cookies, encodings the relay
// could not scan — stays behind.
#pragma once
#include <span>
#include <string>
#include <string_view>

namespace rg::gateway {

// One configured extra: an exact lowercase name, or a prefix (configured with a trailing '*').
struct forward_rule {
  std::string name;
  bool prefix = false;
};

// True when the client header `name` (any case) is forwarded upstream.
bool forwarded_header(std::span<const forward_rule> extra, std::string_view name) noexcept;

}  // namespace rg::gateway
