// Provider options beyond the basics: kinds known but not supported yet, and forward_headers that
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
