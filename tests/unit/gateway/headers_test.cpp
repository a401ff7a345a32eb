// The upstream header allowlist.
#include <gtest/gtest.h>

#include <vector>

#include "headers.hpp"

using rg::gateway::forward_rule;
using rg::gateway::forwarded_header;

TEST(forwarded_header, fixed_allowlist_any_case) {
  for (auto name : {"accept", "Accept", "USER-AGENT", "OpenAI-Beta"}) {
    EXPECT_TRUE(forwarded_header({}, name)) << name;
  }
}

TEST(forwarded_header, hop_by_hop_credentials_and_framing_stay_behind) {
  for (auto name :
       {"Connection", "Keep-Alive", "Transfer-Encoding", "TE", "Upgrade", "Expect",
        "Proxy-Authorization", "Authorization", "x-api-key", "Cookie", "Host", "Content-Length",
        "Content-Type", "Accept-Encoding", "X-Request-Id", "X-Forwarded-For", "accept-x"}) {
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

TEST(forwarded_header, own_headers_win_over_configured_extras) {
  std::vector<forward_rule> extra{{"authorization", false}, {"", true}, {"host", false}};
  EXPECT_FALSE(forwarded_header(extra, "Authorization"));
  EXPECT_FALSE(forwarded_header(extra, "Host"));
  EXPECT_FALSE(forwarded_header(extra, "content-length"));
  EXPECT_TRUE(forwarded_header(extra, "x-anything"));  // the "*" rule forwards the rest
}
