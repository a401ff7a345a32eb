// Tests for rg::json::json_writer: structure and commas, escaping (parsed back with simdjson),
// numbers round-tripping, overflow at every buffer size, and misuse.
#include <ringgate/json/writer.hpp>

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace {

using rg::json::json_writer;

// Writes one string value and parses it back.
std::string round_trip(std::string_view text, std::string* json_out = nullptr) {
  char buf[512];
  json_writer w(buf);
  w.string(text);
  EXPECT_TRUE(w.complete());
  if (json_out) *json_out = std::string(w.view());
  simdjson::dom::parser parser;
  simdjson::padded_string padded(w.view());
  std::string_view parsed;
  EXPECT_EQ(parser.parse(padded).get(parsed), simdjson::SUCCESS) << w.view();
  return std::string(parsed);
}

void write_sample(json_writer& w) {
  // clang-format off
  w.begin_object()
      .key("object").string("list")
      .key("data").begin_array()
        .begin_object().key("id").string("gpt-4o").key("created").integer(-5).end_object()
        .begin_object().key("id").string("e").key("big").unsigned_integer(18446744073709551615u)
          .end_object()
        .begin_array().end_array()
        .begin_object().end_object()
      .end_array()
      .key("ok").boolean(true)
      .key("no").boolean(false)
      .key("nothing").null()
      .key("pi").number(3.25)
      .key("raw").raw(R"({"a":[1]})")
      .key("pre").escaped_string(R"(a\"b)")
    .end_object();
  // clang-format on
}

constexpr std::string_view sample =
    R"({"object":"list","data":[{"id":"gpt-4o","created":-5},{"id":"e",)"
    R"("big":18446744073709551615},[],{}],"ok":true,"no":false,"nothing":null,"pi":3.25,)"
    R"("raw":{"a":[1]},"pre":"a\"b"})";

TEST(JsonWriter, StructureAndCommas) {
  char buf[512];
  json_writer w(buf);
  write_sample(w);
  EXPECT_TRUE(w.ok());
  EXPECT_TRUE(w.complete());
  EXPECT_EQ(w.view(), sample);
  simdjson::dom::parser parser;
  simdjson::padded_string padded(w.view());
  simdjson::dom::element root;
  EXPECT_EQ(parser.parse(padded).get(root), simdjson::SUCCESS);
}

TEST(JsonWriter, ScalarRoots) {
  char buf[32];
  json_writer w(buf);
  EXPECT_FALSE(w.complete());
  w.integer(7);
  EXPECT_TRUE(w.complete());
  EXPECT_EQ(w.view(), "7");
  w.integer(8);  // a second root value would not be one JSON text
  EXPECT_FALSE(w.ok());
  w.reset();
  EXPECT_TRUE(w.ok());
  EXPECT_EQ(w.null().view(), "null");
}

TEST(JsonWriter, Escaping) {
  struct row {
    std::string_view in, json;
  };
  for (const row& row : std::vector<row>{
           {"plain", R"("plain")"},
           {"a\"b\\c/d", R"("a\"b\\c/d")"},
           {"\n\r\t\b\f", R"("\n\r\t\b\f")"},
           {std::string_view("\x00\x01\x1f", 3), R"("\u0000\u0001\u001f")"},
           {"\x7f", "\"\x7f\""},
           {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
            "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""},
           {"", R"("")"},
       }) {
    std::string json;
    EXPECT_EQ(round_trip(row.in, &json), row.in);
    EXPECT_EQ(json, row.json);
  }
}

// is_plain(): every special byte at every position of every length up to 40 (the eight-byte
// steps, the overlapping last step and the short byte loop).
TEST(JsonWriter, IsPlainFindsEverySpecialByteAnywhere) {
  for (size_t len = 0; len <= 40; ++len) {
    const std::string plain(len, 'a');
    EXPECT_TRUE(rg::json::is_plain(plain)) << len;
    for (size_t at = 0; at < len; ++at) {
      for (char c : {'"', '\\', '\x00', '\x1f', '\x80', '\xff'}) {
        std::string s = plain;
        s[at] = c;
        EXPECT_FALSE(rg::json::is_plain(s)) << len << " " << at << " " << int(c);
      }
      std::string ok = plain;
      ok[at] = '\x7f';  // DEL needs no escape
      EXPECT_TRUE(rg::json::is_plain(ok)) << len << " " << at;
    }
  }
}

TEST(JsonWriter, InvalidUtf8BecomesReplacementCharacters) {
  const std::string fffd = "\xef\xbf\xbd";
  struct row {
    std::string_view in;
    std::string out;
  };
  for (const row& row : std::vector<row>{
           {"a\xff"
            "b",
            "a" + fffd + "b"},
           {"\xc0\x80", fffd + fffd},                        // overlong NUL
           {"\xe0\x80\xaf", fffd + fffd + fffd},             // overlong '/'
           {"\xed\xa0\x80", fffd + fffd + fffd},             // UTF-16 surrogate
           {"\xf4\x90\x80\x80", fffd + fffd + fffd + fffd},  // above U+10FFFF
           {"\xe2\x82", fffd + fffd},                        // truncated at the end
           {"\xe2\x82x", fffd + fffd + "x"},                 // truncated in the middle
           {"\x80", fffd},                                   // lone continuation byte
       }) {
    EXPECT_EQ(round_trip(row.in), row.out);
  }
}

TEST(JsonWriter, Numbers) {
  char buf[128];
  struct row {
    double v;
    std::string_view json;
  };
  for (const row& row : std::vector<row>{{0.1, "0.1"},
                                         {1e21, "1e+21"},
                                         {-0.0, "-0"},
                                         {5e-324, "5e-324"},
                                         {1.0 / 3, "0.3333333333333333"},
                                         {std::nan(""), "null"},
                                         {std::numeric_limits<double>::infinity(), "null"}}) {
    json_writer w(buf);
    w.number(row.v);
    EXPECT_EQ(w.view(), row.json);
  }
  json_writer w(buf);
  w.begin_array()
      .integer(std::numeric_limits<int64_t>::min())
      .integer(std::numeric_limits<int64_t>::max())
      .unsigned_integer(std::numeric_limits<uint64_t>::max())
      .number(1.7976931348623157e308)
      .end_array();
  EXPECT_EQ(w.view(),
            "[-9223372036854775808,9223372036854775807,18446744073709551615,"
            "1.7976931348623157e+308]");
  // Shortest form still round-trips exactly.
  for (double v : {0.1, 2.0 / 3, 123456.789e-200, 1.7976931348623157e308}) {
    json_writer n(buf);
    n.number(v);
    simdjson::dom::parser parser;
    simdjson::padded_string padded(n.view());
    double parsed = 0;
    ASSERT_EQ(parser.parse(padded).get(parsed), simdjson::SUCCESS);
    EXPECT_EQ(parsed, v);
  }
}

TEST(JsonWriter, OverflowAtEverySize) {
  for (size_t size = 0; size < sample.size(); ++size) {
    std::vector<char> buf(size);
    json_writer w(buf);
    write_sample(w);
    EXPECT_FALSE(w.ok()) << size;
    EXPECT_FALSE(w.complete()) << size;
    EXPECT_LE(w.size(), size);
  }
  std::vector<char> exact(sample.size());
  json_writer w(exact);
  write_sample(w);
  EXPECT_TRUE(w.complete());
  EXPECT_EQ(w.view(), sample);
}

TEST(JsonWriter, OverflowInsideAnEscape) {
  char buf[4];
  json_writer w(buf);
  w.string("a\n");  // needs 5 bytes: "a\n"
  EXPECT_FALSE(w.ok());
}

TEST(JsonWriter, Misuse) {
  char buf[256];
  auto fails = [&](auto&& write) {
    json_writer w(buf);
    write(w);
    return !w.ok() && !w.complete();
  };
  EXPECT_TRUE(fails([](json_writer& w) { w.begin_object().string("value without key"); }));
  EXPECT_TRUE(fails([](json_writer& w) { w.begin_array().key("k"); }));
  EXPECT_TRUE(fails([](json_writer& w) { w.key("k"); }));
  EXPECT_TRUE(fails([](json_writer& w) { w.begin_object().key("a").key("b"); }));
  EXPECT_TRUE(fails([](json_writer& w) { w.begin_object().key("a").end_object(); }));
  EXPECT_TRUE(fails([](json_writer& w) { w.begin_array().end_object(); }));
  EXPECT_TRUE(fails([](json_writer& w) { w.begin_object().end_array(); }));
  EXPECT_TRUE(fails([](json_writer& w) { w.end_array(); }));
  EXPECT_TRUE(fails([](json_writer& w) { w.begin_object().end_object().begin_object(); }));
  EXPECT_TRUE(fails([](json_writer& w) {
    for (uint32_t i = 0; i <= json_writer::depth_max; ++i) w.begin_array();
  }));
  // Once failed, nothing more is written.
  json_writer w(buf);
  w.begin_array().key("bad");
  size_t size = w.size();
  w.integer(1).end_array();
  EXPECT_EQ(w.size(), size);
  // depth_max itself is fine.
  json_writer deep(buf);
  for (uint32_t i = 0; i < json_writer::depth_max; ++i) deep.begin_array();
  for (uint32_t i = 0; i < json_writer::depth_max; ++i) deep.end_array();
  EXPECT_TRUE(deep.complete());
}

TEST(JsonWriter, KeysAreEscaped) {
  char buf[64];
  json_writer w(buf);
  w.begin_object().key("a\"b\n").integer(1).end_object();
  EXPECT_EQ(w.view(), R"({"a\"b\n":1})");
}

}  // namespace
