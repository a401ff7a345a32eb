// The upstream header allowlist: the fixed list, configured extras (exact and prefix), and the
// headers no rule can ever forward.
#include <gtest/gtest.h>

#include <cctype>
#include <string>

#include <ringgate/config/config.hpp>

#include <vector>

#include "headers.hpp"

using rg::gateway::forward_rule;
using rg::gateway::forwarded_header;

namespace {

// Framing, hop-by-hop, Expect/Upgrade, credentials (every provider's spelling), cookies and the
// headers the gateway writes itself.
constexpr const char* never[] = {"Host",        "Content-Length", "Transfer-Encoding",
                                 "Connection",  "Keep-Alive",     "Upgrade",
                                 "TE",          "Trailer",        "Proxy-Connection",
                                 "Expect",      "Authorization",  "Proxy-Authorization",
                                 "X-Api-Key",   "Api-Key",        "X-Goog-Api-Key",
                                 "Cookie",      "Content-Type",   "Accept-Encoding",
                                 "X-Request-Id"};

}  // namespace

TEST(forwarded_header, fixed_allowlist_any_case) {
  for (auto name : {"accept", "Accept", "USER-AGENT", "OpenAI-Beta"}) {
    EXPECT_TRUE(forwarded_header({}, name)) << name;
  }
}

TEST(forwarded_header, hop_by_hop_credentials_and_framing_stay_behind) {
  for (auto name : never) EXPECT_FALSE(forwarded_header({}, name)) << name;
  for (auto name : {"X-Forwarded-For", "accept-x", "x-custom"}) {
    EXPECT_FALSE(forwarded_header({}, name)) << name;
  }
}

TEST(forwarded_header, configured_extras_exact_and_prefix) {
  std::vector<forward_rule> extra{{"x-mock-", true}, {"anthropic-beta", false}};
  EXPECT_TRUE(forwarded_header(extra, "X-Mock-Chunks"));
  EXPECT_TRUE(forwarded_header(extra, "x-mock-"));
  EXPECT_TRUE(forwarded_header(extra, "Anthropic-Beta"));
  EXPECT_FALSE(forwarded_header(extra, "anthropic-beta2"));
  EXPECT_FALSE(forwarded_header(extra, "x-moc"));
}

TEST(forwarded_header, no_rule_forwards_a_never_forwarded_header) {
  // Exact rules naming them (the validator refuses these; the gateway must not rely on that),
  // prefix rules that would match them, and the match-everything prefix.
  std::vector<forward_rule> extra{
      {"authorization", false}, {"host", false},   {"up", true},   {"cook", true},
      {"x-api", true},          {"proxy-", true},  {"t", true},    {"ex", true},
      {"api-", true},           {"x-goog-", true}, {"keep", true}, {"", true}};
  for (auto name : never) EXPECT_FALSE(forwarded_header(extra, name)) << name;
  EXPECT_TRUE(forwarded_header(extra, "x-anything"));  // the "*" rule forwards the rest
  EXPECT_TRUE(forwarded_header(extra, "x-api-version"));
  EXPECT_TRUE(forwarded_header(extra, "upgrade-insecure-requests"));
}

TEST(never_forwarded, matches_whole_names_in_any_case) {
  for (auto name : never) EXPECT_TRUE(rg::config::never_forwarded(name)) << name;
  for (auto name : {"", "hos", "hosts", "cookie2", "x-api-key-id", "authorization "}) {
    EXPECT_FALSE(rg::config::never_forwarded(name)) << name;
  }
  // Every one-byte change of a listed name, the first byte included (the index's key), misses.
  for (std::string name : never) {
    for (size_t i = 0; i < name.size(); ++i) {
      for (char c : {'-', 'q', 'Q', '0', '\xc3'}) {
        std::string near = name;
        if (std::tolower(static_cast<unsigned char>(near[i])) == std::tolower(c)) continue;
        near[i] = c;
        EXPECT_FALSE(rg::config::never_forwarded(near)) << near;
      }
    }
  }
}
