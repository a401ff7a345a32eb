// Provider options beyond the basics: the per-shard connection pool (defaults, ranges, the
// idle_max <= connections_max rule), kinds known but not supported yet, and forward_headers that
// name a header the gateway never forwards. Messages are checked as exact text.
#include <ringgate/config/config.hpp>

#include <gtest/gtest.h>

#include <string>

namespace rg::config {
namespace {

std::expected<config, load_error> load(std::string_view text) {
  return load_string(text, "t.toml", [](std::string_view) { return std::nullopt; });
}

std::string error_of(std::string_view text) {
  auto r = load(text);
  EXPECT_FALSE(r.has_value()) << "expected an error for:\n" << text;
  return r ? std::string() : r.error().message;
}

const std::string provider =
    "[[providers]]\nname = \"p\"\nkind = \"openai\"\nbase_url = \"http://h\"\n";

TEST(ProviderPool, Defaults) {
  auto c = load(provider);
  ASSERT_TRUE(c) << c.error().message;
  const provider_pool& pool = c->providers[0].pool;
  EXPECT_EQ(pool.idle_max, 64u);
  EXPECT_EQ(pool.idle_timeout_ms, 30000u);
  EXPECT_EQ(pool.connections_max, 1024u);
}

TEST(ProviderPool, Set) {
  auto c = load(provider + "pool = { idle_max = 0, idle_timeout_ms = 500, connections_max = 8 }\n");
  ASSERT_TRUE(c) << c.error().message;
  const provider_pool& pool = c->providers[0].pool;
  EXPECT_EQ(pool.idle_max, 0u);
  EXPECT_EQ(pool.idle_timeout_ms, 500u);
  EXPECT_EQ(pool.connections_max, 8u);
  auto table = load(provider + "[providers.pool]\nconnections_max = 2\nidle_max = 2\n");
  ASSERT_TRUE(table) << table.error().message;
  EXPECT_EQ(table->providers[0].pool.connections_max, 2u);
}

TEST(ProviderPool, Errors) {
  EXPECT_EQ(error_of(provider + "pool = { connections_max = 0 }\n"),
            "t.toml:5: providers[0].pool.connections_max: must be > 0, got 0");
  EXPECT_EQ(error_of(provider + "pool = { idle_timeout_ms = 0 }\n"),
            "t.toml:5: providers[0].pool.idle_timeout_ms: must be > 0, got 0");
  EXPECT_EQ(error_of(provider + "pool = { connections_max = 1000001 }\n"),
            "t.toml:5: providers[0].pool.connections_max: must be <= 1000000, got 1000001");
  EXPECT_EQ(error_of(provider + "pool = { idle_max = -1 }\n"),
            "t.toml:5: providers[0].pool.idle_max: must not be negative, got -1");
  EXPECT_EQ(error_of(provider + "pool = { idle_max = 9, connections_max = 8 }\n"),
            "t.toml:5: providers[0].pool.idle_max: must be <= pool.connections_max (8)");
  EXPECT_EQ(error_of(provider + "pool = { max_total = 8 }\n"),
            "t.toml:5: providers[0].pool.max_total: unknown key");
  EXPECT_EQ(error_of(provider + "pool = 8\n"),
            "t.toml:5: providers[0].pool: expected table, got integer");
}

TEST(ProviderKind, KnownButUnsupportedKindsAreRefused) {
  for (std::string kind : {"anthropic", "gemini", "bedrock", "azure"}) {
    EXPECT_EQ(
        error_of("[[providers]]\nname = \"p\"\nkind = \"" + kind +
                 "\"\nbase_url = \"https://h\"\n"),
        "t.toml:3: providers[0].kind: \"" + kind + "\" is not supported yet (supported: openai)");
  }
}

TEST(ForwardHeaders, NeverForwardedNamesAreRefused) {
  for (std::string name : {"Expect", "Upgrade", "TE", "Keep-Alive", "Trailer", "Proxy-Connection",
                           "Cookie", "X-Api-Key", "Proxy-Authorization", "Authorization", "Host",
                           "Content-Length", "Transfer-Encoding", "Connection", "api-key",
                           "x-goog-api-key", "x-request-id", "content-type", "accept-encoding"}) {
    EXPECT_EQ(error_of(provider + "forward_headers = [\"" + name + "\"]\n"),
              "t.toml:5: providers[0].forward_headers: \"" + name +
                  "\" may not be forwarded (credentials and framing stay behind)")
        << name;
  }
}

TEST(ForwardHeaders, PrefixRulesAreAcceptedButCannotMatchThem) {
  // Accepted: they forward other headers; the gateway refuses the never-forwarded ones first
  // (tests/unit/gateway/headers_test.cpp).
  auto c = load(provider + "forward_headers = [\"up*\", \"cook*\", \"x-api*\", \"proxy-*\"]\n");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->providers[0].forward_headers.size(), 4u);
  EXPECT_TRUE(never_forwarded("UPGRADE"));
  EXPECT_FALSE(never_forwarded("upgrade-insecure-requests"));
}

}  // namespace
}  // namespace rg::config
