// Tests for rg::http::body_decoder: Content-Length and chunked framing, one row per rule, each row
// decoded whole, byte by byte and split at every offset, with identical payload and verdict.
#include <ringgate/http/request.hpp>

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace rg::http;

struct decoded {
  std::string payload;
  size_t consumed = 0;  // input bytes consumed in total
  bool done = false;
  uint16_t error = 0;
  std::string_view message;
};

bool operator==(const decoded& a, const decoded& b) {
  return a.payload == b.payload && a.consumed == b.consumed && a.done == b.done &&
         a.error == b.error && a.message == b.message;
}

std::ostream& operator<<(std::ostream& os, const decoded& d) {
  return os << "{payload='" << d.payload << "' consumed=" << d.consumed << " done=" << d.done
            << " error=" << d.error << " '" << d.message << "'}";
}

// Feeds `in` in pieces cut at `cuts` (ascending offsets); every step must make progress.
decoded decode(std::string_view in, const std::vector<size_t>& cuts, body_kind kind,
               uint64_t content_length, uint64_t max) {
  body_decoder d;
  d.start(kind, content_length, max);
  decoded out;
  size_t begin = 0;
  for (size_t p = 0; p <= cuts.size() && !out.done && out.error == 0; ++p) {
    const size_t end = p < cuts.size() ? cuts[p] : in.size();
    std::string_view piece = in.substr(begin, end - begin);
    begin = end;
    for (;;) {
      const body_step s = d.step(piece);
      out.consumed += s.consumed;
      out.payload.append(s.data);
      EXPECT_LE(s.consumed, piece.size());
      if (!s.data.empty()) {
        EXPECT_GE(s.data.data(), piece.data());
        EXPECT_LE(s.data.data() + s.data.size(), piece.data() + piece.size());
      }
      piece.remove_prefix(s.consumed);
      if (s.error.status != 0) {
        out.error = s.error.status;
        out.message = s.error.message;
        break;
      }
      if (s.done) {
        out.done = true;
        break;
      }
      if (piece.empty()) break;
      EXPECT_NE(s.consumed, 0u) << "a step with input must make progress";
      if (s.consumed == 0) break;
    }
  }
  EXPECT_EQ(out.done, d.done());
  if (out.error == 0) {
    EXPECT_EQ(d.decoded_bytes(), out.payload.size());
  }
  return out;
}

struct row {
  const char* name;
  std::string input;
  std::string payload;                  // expected decoded bytes when valid
  uint16_t expected;                    // 0 = done, else error status
  size_t consumed = std::string::npos;  // expected consumed bytes; npos = all
  uint64_t max = 1 << 20;
};

std::vector<row> chunked_rows() {
  return {
      {"single_chunk", "5\r\nhello\r\n0\r\n\r\n", "hello", 0},
      {"two_chunks", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world", 0},
      {"empty_body", "0\r\n\r\n", "", 0},
      {"hex_sizes_any_case", "a\r\n0123456789\r\nB\r\nabcdefghijk\r\n0\r\n\r\n",
       "0123456789abcdefghijk", 0},
      {"leading_zeros", "0005\r\nhello\r\n000\r\n\r\n", "hello", 0},
      {"sixteen_digits", "0000000000000003\r\nabc\r\n0\r\n\r\n", "abc", 0},
      {"extension", "5;name=value\r\nhello\r\n0;last\r\n\r\n", "hello", 0},
      {"extension_quoted", "5;a=\"x;y \\\" z\"\r\nhello\r\n0\r\n\r\n", "hello", 0},
      {"extension_bws", "5 \t;a\r\nhello\r\n0\r\n\r\n", "hello", 0},
      {"trailers_dropped", "5\r\nhello\r\n0\r\nX-T: 1\r\nY: 2\r\n\r\n", "hello", 0},
      {"stops_at_body_end", "5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n", "hello", 0, 15},
      {"crlf_inside_data", "4\r\n\r\n\r\n\r\n0\r\n\r\n", "\r\n\r\n", 0},
      {"at_body_max", "5\r\nhello\r\n0\r\n\r\n", "hello", 0, std::string::npos, 5},

      {"size_overflow_digits", "00000000000000005\r\nhello\r\n0\r\n\r\n", "", 400},
      {"size_overflow_value", "10000000000000000\r\n", "", 400},
      {"size_garbage", "x\r\n", "", 400},
      {"size_hex_prefix", "0x5\r\nhello\r\n0\r\n\r\n", "", 400},
      {"size_negative", "-5\r\n", "", 400},
      {"size_plus", "+5\r\n", "", 400},
      {"size_empty", "\r\nhello\r\n0\r\n\r\n", "", 400},
      {"size_empty_with_ext", ";a\r\n", "", 400},
      {"size_leading_space", " 5\r\nhello\r\n", "", 400},
      {"size_trailing_space", "5 \r\nhello\r\n0\r\n\r\n", "", 400},
      {"size_two_numbers", "5 5\r\nhello\r\n", "", 400},
      {"bare_lf_after_size", "5\nhello\r\n0\r\n\r\n", "", 400},
      {"bare_cr_after_size", "5\rhello\r\n0\r\n\r\n", "", 400},
      {"bare_lf_in_extension", "5;a\nhello\r\n", "", 400},
      {"ctl_in_extension", "5;a\x01\r\nhello\r\n", "", 400},
      {"bare_lf_after_data", "5\r\nhello\n0\r\n\r\n", "hello", 400},
      {"missing_crlf_after_data", "5\r\nhelloX\r\n0\r\n\r\n", "hello", 400},
      {"data_longer_than_size", "3\r\nhello\r\n0\r\n\r\n", "hel", 400},
      {"bare_lf_last_chunk", "0\n\r\n", "", 400},
      {"bare_lf_end", "0\r\n\n", "", 400},
      {"bare_lf_trailer", "0\r\nX: 1\n\r\n", "", 400},
      {"bare_cr_trailer", "0\r\nX: 1\rY\r\n\r\n", "", 400},
      {"trailer_obs_fold", "0\r\nX: 1\r\n 2\r\n\r\n", "", 400},
      {"trailer_nul", std::string("0\r\nX: \0\r\n\r\n", 11), "", 400},
      {"chunk_line_too_long", "5;" + std::string(chunk_line_bytes_max, 'e') + "\r\nhello\r\n", "",
       400},
      {"trailers_too_large",
       "0\r\n" + std::string("X: ") + std::string(trailer_bytes_max, 't') + "\r\n\r\n", "", 400},
      {"over_body_max_one_chunk", "6\r\nhello!\r\n0\r\n\r\n", "", 413, std::string::npos, 5},
      {"over_body_max_total", "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n", "abc", 413, std::string::npos,
       5},
      {"huge_size", "ffffffffffffffff\r\n", "", 413},
  };
}

class chunked_table : public testing::TestWithParam<row> {};

TEST_P(chunked_table, every_split_gives_the_same_result) {
  const row& r = GetParam();
  const decoded whole = decode(r.input, {}, body_kind::chunked, 0, r.max);
  EXPECT_EQ(whole.error, r.expected) << whole;
  EXPECT_EQ(whole.payload, r.payload);
  if (r.expected == 0) {
    EXPECT_TRUE(whole.done);
    EXPECT_EQ(whole.consumed, r.consumed == std::string::npos ? r.input.size() : r.consumed);
  } else {
    EXPECT_FALSE(whole.done);
  }
  std::vector<size_t> every_byte;
  for (size_t i = 1; i < r.input.size(); ++i) every_byte.push_back(i);
  ASSERT_EQ(decode(r.input, every_byte, body_kind::chunked, 0, r.max), whole) << "byte by byte";
  for (size_t cut = 0; cut <= r.input.size(); ++cut) {
    ASSERT_EQ(decode(r.input, {cut}, body_kind::chunked, 0, r.max), whole) << "cut at " << cut;
  }
  for (size_t a = 1; a < r.input.size() && r.input.size() < 64; ++a) {
    for (size_t b = a; b < r.input.size(); ++b) {
      ASSERT_EQ(decode(r.input, {a, b}, body_kind::chunked, 0, r.max), whole)
          << "cuts at " << a << "," << b;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(rfc9112, chunked_table, testing::ValuesIn(chunked_rows()),
                         [](const testing::TestParamInfo<row>& info) { return info.param.name; });

TEST(body_decoder, content_length_stops_at_the_end) {
  const std::string in = "hello worldGET /";
  for (size_t cut = 0; cut <= in.size(); ++cut) {
    const decoded d = decode(in, {cut}, body_kind::content_length, 11, 100);
    EXPECT_TRUE(d.done);
    EXPECT_EQ(d.payload, "hello world");
    EXPECT_EQ(d.consumed, 11u);
  }
}

TEST(body_decoder, content_length_needs_more) {
  body_decoder d;
  d.start(body_kind::content_length, 10, 100);
  body_step s = d.step("abc");
  EXPECT_EQ(s.consumed, 3u);
  EXPECT_EQ(s.data, "abc");
  EXPECT_FALSE(s.done);
  s = d.step("");
  EXPECT_EQ(s.consumed, 0u);
  EXPECT_FALSE(s.done);
  s = d.step("defghijklm");
  EXPECT_EQ(s.data, "defghij");
  EXPECT_TRUE(s.done);
  EXPECT_EQ(d.decoded_bytes(), 10u);
  s = d.step("more");
  EXPECT_EQ(s.consumed, 0u);
  EXPECT_TRUE(s.done);
}

TEST(body_decoder, empty_bodies_are_done_at_start) {
  body_decoder d;
  d.start(body_kind::none, 0, 100);
  EXPECT_TRUE(d.done());
  EXPECT_TRUE(d.step("x").done);
  EXPECT_EQ(d.step("x").consumed, 0u);
  d.start(body_kind::content_length, 0, 100);
  EXPECT_TRUE(d.done());
}

TEST(body_decoder, declared_length_over_max_fails_first_step) {
  body_decoder d;
  d.start(body_kind::content_length, 101, 100);
  EXPECT_FALSE(d.done());
  const body_step s = d.step("abc");
  EXPECT_EQ(s.error.status, 413);
  EXPECT_EQ(s.error.code, "payload_too_large");
  EXPECT_EQ(s.consumed, 0u);
}

TEST(body_decoder, one_data_view_per_step) {
  body_decoder d;
  d.start(body_kind::chunked, 0, 100);
  const std::string_view in = "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
  body_step s = d.step(in);
  EXPECT_EQ(s.data, "abc");
  EXPECT_EQ(s.consumed, 6u);
  s = d.step(in.substr(6));
  EXPECT_EQ(s.data, "de");
  EXPECT_EQ(s.consumed, 7u);
  s = d.step(in.substr(13));
  EXPECT_TRUE(s.done);
  EXPECT_TRUE(s.data.empty());
  EXPECT_EQ(s.consumed, in.size() - 13);
}

TEST(body_decoder, errors_are_sticky_until_start) {
  body_decoder d;
  d.start(body_kind::chunked, 0, 100);
  EXPECT_EQ(d.step("z\r\n").error.status, 400);
  const body_step again = d.step("5\r\nhello\r\n0\r\n\r\n");
  EXPECT_EQ(again.error.status, 400);
  EXPECT_EQ(again.consumed, 0u);
  d.start(body_kind::chunked, 0, 100);
  EXPECT_EQ(decode("5\r\nhello\r\n0\r\n\r\n", {}, body_kind::chunked, 0, 100).payload, "hello");
}

TEST(body_decoder, large_chunk_in_pieces) {
  const std::string data(100000, 'q');
  const std::string in = "186a0\r\n" + data + "\r\n0\r\n\r\n";
  const decoded d = decode(in, {1000, 50000, 99999}, body_kind::chunked, 0, 1 << 20);
  EXPECT_TRUE(d.done);
  EXPECT_EQ(d.payload, data);
}

}  // namespace
