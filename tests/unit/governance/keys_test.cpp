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

TEST(Keys, SipHash128ReferenceVectors) {
  // veorq/SipHash vectors_sip128: key 00..0f, message 00..(n-1).
  const std::array<uint64_t, 2> key = {0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};
  auto bytes = [](const mac128& m) {
    std::array<uint8_t, 16> out{};
    for (int i = 0; i < 8; ++i) out[size_t(i)] = uint8_t(m.lo >> (8 * i));
    for (int i = 0; i < 8; ++i) out[size_t(8 + i)] = uint8_t(m.hi >> (8 * i));
    return out;
  };
  std::string msg;
  for (int i = 0; i < 15; ++i) msg += char(i);
  EXPECT_EQ(bytes(siphash128(key, "")),
            (std::array<uint8_t, 16>{0xa3, 0x81, 0x7f, 0x04, 0xba, 0x25, 0xa8, 0xe6, 0x6d, 0xf6,
                                     0x72, 0x14, 0xc7, 0x55, 0x02, 0x93}));
  EXPECT_EQ(bytes(siphash128(key, std::string(1, '\0'))),
            (std::array<uint8_t, 16>{0xda, 0x87, 0xc1, 0xd8, 0x6b, 0x99, 0xaf, 0x44, 0x34, 0x76,
                                     0x59, 0x11, 0x9b, 0x22, 0xfc, 0x45}));
  EXPECT_EQ(bytes(siphash128(key, msg)),
            (std::array<uint8_t, 16>{0x54, 0x93, 0xe9, 0x99, 0x33, 0xb0, 0xa8, 0x11, 0x7e, 0x08,
                                     0xec, 0x0f, 0x97, 0xcf, 0xc3, 0xd9}));
}

TEST(Keys, CacheRemembersVerifiedKeysOnly) {
  key_table t = key_table::build({key("team-a", "sk-a"), key("team-b", "sk-b")});
  key_cache c(t, {0x1234, 0x5678});
  for (int round = 0; round < 3; ++round) {  // cold, then from the cache
    EXPECT_EQ(c.find("sk-a"), 0);
    EXPECT_EQ(c.find("sk-b"), 1);
    EXPECT_EQ(c.find("sk-c"), -1);  // unknown keys are never remembered
    EXPECT_EQ(c.find("sk-a "), -1);
    EXPECT_EQ(c.find(""), -1);
  }
  // Many keys competing for 256 slots: evictions cost a SHA-256, never a wrong answer.
  std::vector<config::key_config> many;
  for (int i = 0; i < 2000; ++i) many.push_back(key("k" + std::to_string(i), "s" + std::to_string(i)));
  key_table big = key_table::build(many);
  key_cache bc(big, {1, 2});
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 2000; ++i) ASSERT_EQ(bc.find("s" + std::to_string(i)), i);
  }
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
