// find_bytes against std::string_view::find on every start offset, near buffer ends (the SSE2
// loop's 17-byte reads), with candidates that match the first two bytes only, and on needles of
// one and two bytes.
#include <ringgate/runtime/bytes.hpp>

#include <gtest/gtest.h>

#include <string>

namespace rg::runtime {
namespace {

void expect_same_as_find(const std::string& hay, const std::string& needle) {
  for (size_t from = 0; from <= hay.size() + 1; ++from) {
    EXPECT_EQ(find_bytes(hay, needle, from), std::string_view(hay).find(needle, from))
        << "hay=" << hay << " needle=" << needle << " from=" << from;
  }
}

// rfind_bytes(hay, needle, floor) is rfind limited to starts at or after floor.
void expect_same_as_rfind(const std::string& hay, const std::string& needle) {
  for (size_t floor = 0; floor <= hay.size() + 1; ++floor) {
    size_t want = std::string_view(hay).rfind(needle);
    if (want != std::string_view::npos && want < floor) want = std::string_view::npos;
    EXPECT_EQ(rfind_bytes(hay, needle, floor), want)
        << "hay=" << hay << " needle=" << needle << " floor=" << floor;
  }
}

TEST(RfindBytes, AgreesWithRfindAtEveryFloorAndLength) {
  const std::string key = "\"usage\"";
  for (size_t len = 0; len < 70; ++len) {
    for (size_t at = 0; at + key.size() <= len; ++at) {
      std::string hay(len, 'x');
      hay.replace(at, key.size(), key);
      expect_same_as_rfind(hay, key);
      if (at + 2 * key.size() <= len) {  // two of them: the last one counts
        hay.replace(len - key.size(), key.size(), key);
        expect_same_as_rfind(hay, key);
      }
    }
    expect_same_as_rfind(std::string(len, 'x'), key);
  }
  std::string decoys;
  for (int i = 0; i < 20; ++i) decoys += "\"usa\"us\"u";
  expect_same_as_rfind(decoys, key);
  expect_same_as_rfind("\"usage\"" + decoys, key);
  for (const char* needle : {"a", "b", "ab", "ca", "cab", ""}) {
    expect_same_as_rfind("abcabcabcabcabcabcabcabcab", needle);
  }
}

TEST(AsciiIequal8, EveryPairOfByteValuesInEveryLane) {
  const auto lower = [](unsigned c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; };
  const uint64_t around = 0x5a41'7a61'405b'605bull;  // "[`[@az AZ": neighbours of the range
  for (unsigned a = 0; a < 256; ++a) {
    for (unsigned b = 0; b < 256; ++b) {
      const bool want = lower(a) == lower(b);
      for (int lane : {0, 3, 7}) {
        const uint64_t mask = 0xffull << (8 * lane);
        const uint64_t x = (around & ~mask) | (uint64_t(a) << (8 * lane));
        const uint64_t y = (around & ~mask) | (uint64_t(b) << (8 * lane));
        ASSERT_EQ(ascii_iequal8(x, y), want) << a << " " << b << " lane " << lane;
      }
    }
  }
}

TEST(AsciiIequal, AgreesWithBytewiseCompareAtEveryLength) {
  const auto reference = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c + 32) : c; };
      if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
  };
  const std::string base = "Proxy-Authorization-X-Goog-Api-Key";
  for (size_t len = 0; len <= base.size(); ++len) {
    const std::string a = base.substr(0, len);
    std::string lower = a;
    for (char& c : lower) c = c >= 'A' && c <= 'Z' ? char(c + 32) : c;
    EXPECT_TRUE(ascii_iequal(a, lower)) << a;
    for (size_t i = 0; i < len; ++i) {
      for (char c : {'\x00', '@', '[', '`', '{', '\x80', '\xc1', '\xe1', 'a', 'A', 'z', 'Z', '-'}) {
        std::string b = lower;
        b[i] = c;
        EXPECT_EQ(ascii_iequal(a, b), reference(a, b)) << a << " vs " << b;
      }
    }
    EXPECT_FALSE(ascii_iequal(a, a + "x"));
  }
}

TEST(FindJsonSpecial, FirstSpecialByteAtEveryPositionAndLength) {
  for (size_t len = 0; len <= 40; ++len) {
    const std::string plain(len, 'k');
    EXPECT_EQ(find_json_special(plain.data(), plain.data() + len), plain.data() + len);
    for (size_t at = 0; at < len; ++at) {
      for (char c : {'"', '\\', '\x00', '\x1f', '\x80', '\xff'}) {
        std::string s = plain;
        s[at] = c;
        if (at + 3 < len) s[at + 3] = '"';  // a later one does not hide it
        EXPECT_EQ(find_json_special(s.data(), s.data() + len) - s.data(), std::ptrdiff_t(at))
            << len << " " << at << " " << int(c);
      }
      std::string ok = plain;
      ok[at] = '\x7f';
      EXPECT_EQ(find_json_special(ok.data(), ok.data() + len), ok.data() + len);
    }
  }
}

// equal_bytes against memcmp at every length up to 40 (each of its load widths and memcmp),
// equal and with one byte changed at every position.
TEST(EqualBytes, AgreesWithMemcmpAtEveryLengthAndMismatch) {
  char a[48], b[48];
  for (size_t i = 0; i < sizeof a; ++i) a[i] = b[i] = char('a' + i % 26);
  for (size_t n = 0; n <= 40; ++n) {
    EXPECT_TRUE(equal_bytes(a + 3, b + 3, n)) << n;
    for (size_t at = 0; at < n; ++at) {
      b[3 + at] = '#';
      EXPECT_FALSE(equal_bytes(a + 3, b + 3, n)) << n << " " << at;
      b[3 + at] = a[3 + at];
    }
    b[3 + n] = '#';  // beyond the n bytes: not compared
    EXPECT_TRUE(equal_bytes(a + 3, b + 3, n)) << n;
    b[3 + n] = a[3 + n];
  }
}

TEST(FindBytes, AgreesWithFindAtEveryOffsetAndLength) {
  const std::string key = "\"usage\":";
  for (size_t len = 0; len < 70; ++len) {
    for (size_t at = 0; at + key.size() <= len; ++at) {
      std::string hay(len, 'x');
      hay.replace(at, key.size(), key);
      expect_same_as_find(hay, key);
    }
    expect_same_as_find(std::string(len, 'x'), key);
  }
}

TEST(FindBytes, SkipsCandidatesThatMatchOnlyTheFirstBytes) {
  std::string hay;
  for (int i = 0; i < 20; ++i) hay += "\"usa\"us\"u";
  expect_same_as_find(hay, "\"usage\":");
  hay += "\"usage\":null}";
  expect_same_as_find(hay, "\"usage\":");
  EXPECT_EQ(find_bytes(hay, "\"usage\":"), hay.size() - 13);
}

TEST(FindBytes, FindsTheFirstOfSeveral) {
  const std::string hay = R"({"content":"a","x":{"content":"b"}})";
  EXPECT_EQ(find_bytes(hay, "\"content\":"), 1u);
  EXPECT_EQ(find_bytes(hay, "\"content\":", 2), hay.find("\"content\":", 2));
}

TEST(FindBytes, ShortNeedlesAndEdges) {
  const std::string hay = "abcabcabcabcabcabcabcabcab";
  for (const char* needle : {"a", "b", "ab", "ca", "cab", "abcabcabcabcabcabcabcabcab", ""}) {
    expect_same_as_find(hay, needle);
  }
  EXPECT_EQ(find_bytes("", "a"), std::string_view::npos);
  EXPECT_EQ(find_bytes("ab", "abc"), std::string_view::npos);
  EXPECT_EQ(find_bytes("abc", "", 3), 3u);
  EXPECT_EQ(find_bytes("abc", "", 4), std::string_view::npos);
}

TEST(FindBytes, BytesAboveAscii) {
  std::string hay(40, '\xff');
  hay[33] = '\x80';
  hay[34] = '\x81';
  expect_same_as_find(hay, "\x80\x81");
  expect_same_as_find(hay, "\xff\x80\x81");
}

TEST(DecimalPairs, EveryValueIsItsTwoDigits) {
  for (uint32_t v = 0; v < 100; ++v) {
    char out[3] = {'x', 'x', 'x'};
    put_two_digits(out, v);
    EXPECT_EQ(std::string(out, 3), std::to_string(v / 10) + std::to_string(v % 10) + "x") << v;
  }
}

}  // namespace
}  // namespace rg::runtime
