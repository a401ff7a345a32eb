// Virtual keys: SHA-256 against known vectors (the example config's demo key), hex round trips,
// the constant-time comparison, glob patterns, and the key table's lookups (hits, misses,
// near-misses, oversized keys, many keys).
#include <ringgate/governance/keys.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace rg::governance {
namespace {

const std::string demo_hash = "3c5614dabcda33134033118cdf9d8c992d373dc5ea78d80de1b39f23309bf0fe";

config::key_config key(std::string name, std::string_view secret,
                       std::vector<std::string> models = {"*"}) {
  config::key_config k;
  k.name = std::move(name);
  k.sha256 = to_hex(sha256(secret));
  k.models = std::move(models);
  return k;
}

TEST(Keys, Sha256KnownVectors) {
  EXPECT_EQ(to_hex(sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(to_hex(sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(to_hex(sha256("sk-ringgate-demo")), demo_hash);  // config/ringgate.toml's key
}

TEST(Keys, HexRoundTrip) {
  digest d{};
  ASSERT_TRUE(from_hex(demo_hash, d));
  EXPECT_EQ(to_hex(d), demo_hash);
  std::string upper = demo_hash;
  for (char& c : upper) c = char(std::toupper(c));
  digest u{};
  ASSERT_TRUE(from_hex(upper, u));
  EXPECT_EQ(u, d);
  EXPECT_FALSE(from_hex(demo_hash.substr(1), d));
  EXPECT_FALSE(from_hex(std::string(64, 'g'), d));
}

TEST(Keys, ConstantTimeEquality) {
  digest a = sha256("a"), b = sha256("a"), c = sha256("b");
  EXPECT_TRUE(equal_constant_time(a, b));
  EXPECT_FALSE(equal_constant_time(a, c));
  c = a;
  c[31] ^= 1;  // differs only in the last byte
  EXPECT_FALSE(equal_constant_time(a, c));
}

TEST(Keys, Globs) {
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("*", "gpt-4o"));
  EXPECT_TRUE(glob_match("gpt-4o", "gpt-4o"));
  EXPECT_FALSE(glob_match("gpt-4o", "gpt-4o-mini"));
  EXPECT_TRUE(glob_match("gpt-4o*", "gpt-4o-mini"));
  EXPECT_TRUE(glob_match("gpt-4o*", "gpt-4o"));
  EXPECT_FALSE(glob_match("gpt-4o*", "gpt-4"));
  EXPECT_TRUE(glob_match("openai/*", "openai/gpt-4o"));
  EXPECT_FALSE(glob_match("openai/*", "anthropic/claude"));
  EXPECT_TRUE(glob_match("*-mini", "gpt-4o-mini"));
  EXPECT_TRUE(glob_match("a*b*c", "axxbyyc"));
  EXPECT_FALSE(glob_match("a*b*c", "axxbyy"));
  EXPECT_TRUE(glob_match("**", "x"));
  EXPECT_FALSE(glob_match("", "x"));
  EXPECT_TRUE(glob_match("", ""));
}

TEST(Keys, TableFindsByHashOnly) {
  key_table t = key_table::build({key("team-a", "sk-a"), key("team-b", "sk-b", {"mock-*"})});
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t.find("sk-a"), 0);
  EXPECT_EQ(t.find("sk-b"), 1);
  EXPECT_EQ(t.find("sk-c"), -1);
  EXPECT_EQ(t.find("sk-a "), -1);  // near misses are just other hashes
  EXPECT_EQ(t.find("sk-"), -1);
  EXPECT_EQ(t.find(""), -1);
  EXPECT_EQ(t.find(std::string(presented_key_bytes_max + 1, 'k')), -1);
  EXPECT_EQ(t.find_name("team-b"), 1);
  EXPECT_EQ(t.find_name("team-c"), -1);
  EXPECT_TRUE(t[0].allows("anything"));
  EXPECT_TRUE(t[1].allows("mock-small"));
  EXPECT_FALSE(t[1].allows("gpt-4o"));
  // The table never holds the key itself: only names and digests.
  EXPECT_EQ(to_hex(t[0].hash), to_hex(sha256("sk-a")));
}

TEST(Keys, TableWithManyKeysAndNone) {
  std::vector<config::key_config> keys;
  for (int i = 0; i < 1000; ++i) keys.push_back(key("k" + std::to_string(i), "secret-" + std::to_string(i)));
  key_table t = key_table::build(keys);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(t.find("secret-" + std::to_string(i)), i);
  EXPECT_EQ(t.find("secret-1000"), -1);
  key_table empty = key_table::build({});
  EXPECT_TRUE(empty.empty());
  EXPECT_EQ(empty.find("sk-a"), -1);
}

TEST(Keys, EntryFromConfig) {
  config::key_config k = key("team-a", "sk-a", {"m", "p/*"});
  k.rpm = 60;
  k.budget_usd = 12.5;
  k.budget_period = "daily";
  key_table t = key_table::build({k});
  EXPECT_EQ(t[0].rpm, 60u);
  EXPECT_EQ(t[0].budget, 12'500'000'000);
  EXPECT_EQ(t[0].budget_period, period::daily);
  EXPECT_FALSE(t[0].all_models);
  EXPECT_TRUE(t[0].allows("p/x"));
  EXPECT_FALSE(t[0].allows("q/x"));
}

}  // namespace
}  // namespace rg::governance
