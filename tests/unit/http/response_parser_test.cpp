// Tests for rg::http::response_parser and the upstream side of body_decoder: one table row per
// RFC 9112 rule, each fed whole, byte by byte and split at every offset, with the same verdict.
#include <ringgate/http/response_parser.hpp>

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace rg::http;
using namespace std::string_literals;

constexpr request_kind normal = request_kind::normal;
constexpr request_kind head_req = request_kind::head_method;

struct outcome {
  parse_status status = parse_status::incomplete;
  size_t head_bytes = 0;
  uint16_t error_status = 0;
  std::string_view message;
};

bool operator==(const outcome& a, const outcome& b) {
  return a.status == b.status && a.head_bytes == b.head_bytes && a.error_status == b.error_status &&
         a.message == b.message;
}

std::ostream& operator<<(std::ostream& os, const outcome& o) {
  return os << "{status=" << int(o.status) << " head_bytes=" << o.head_bytes
            << " error=" << o.error_status << " '" << o.message << "'}";
}

outcome to_outcome(const head_result& r) {
  return {r.status, r.head_bytes, r.error.status, r.error.message};
}

// The head as comparable plain data.
std::string describe(const response_head& h) {
  std::string s = std::to_string(h.status) + "|" + std::to_string(int(h.ver)) + "|" +
                  std::string(h.reason) + "|" + std::to_string(int(h.body)) + "|" +
                  std::to_string(h.content_length) + "|" + std::to_string(h.keep_alive) + "|";
  for (size_t i = 0; i < h.header_count; ++i) {
    s += std::string(h.headers[i].name) + ":" + std::string(h.headers[i].value) + ";";
  }
  return s;
}

// Feeds `in` as a growing buffer: first `first` bytes, then one byte at a time.
outcome parse_growing(std::string_view in, const response_limits& limits, request_kind req,
                      response_head& out, size_t first) {
  response_parser p(limits);
  head_result r;
  for (size_t k = first; k <= in.size(); ++k) {
    r = p.parse(in.substr(0, k), out, req);
    if (r.status != parse_status::incomplete) break;
  }
  return to_outcome(r);
}

struct framing {
  uint16_t status = 200;
  body_kind body = body_kind::none;
  uint64_t content_length = 0;
  bool keep_alive = true;
};

struct row {
  const char* name;
  std::string input;
  std::string_view error;  // empty: the head must complete with `expect`
  framing expect = {};
  request_kind req = normal;
  response_limits limits = {};
};

void PrintTo(const row& r, std::ostream* os) {
  *os << r.name;
}

response_limits small_limits() {
  response_limits l;
  l.head_bytes_max = 128;
  l.headers_max = 3;
  l.body_bytes_max = 100;
  return l;
}

std::string ok(std::string fields) {
  return "HTTP/1.1 200 OK\r\n" + fields + "\r\n";
}
std::string status(std::string line, std::string fields = "") {
  return "HTTP/1.1 " + line + "\r\n" + fields + "\r\n";
}

constexpr body_kind none = body_kind::none;
constexpr body_kind cl = body_kind::content_length;
constexpr body_kind chunked = body_kind::chunked;
constexpr body_kind until_close = body_kind::until_close;
const std::string cl5 = "Content-Length: 5\r\n";
const std::string te = "Transfer-Encoding: chunked\r\n";

std::vector<row> rows() {
  return {
      // Framing (RFC 9112 §6.3) and connection reuse.
      {"content_length", ok(cl5), {}, {200, cl, 5, true}},
      {"content_length_zero", ok("Content-Length: 0\r\n"), {}, {200, none, 0, true}},
      {"content_length_19_digits", ok("Content-Length: 0000000000000000005\r\n"), {}, {200, cl, 5}},
      {"chunked", ok(te), {}, {200, chunked, 0, true}},
      {"chunked_any_case", ok("transfer-ENCODING:  ChUnKeD \r\n"), {}, {200, chunked}},
      {"until_close", ok("Content-Type: text/plain\r\n"), {}, {200, until_close, 0, false}},
      {"until_close_keep_alive_asked",
       ok("Connection: keep-alive\r\n"),
       {},
       {200, until_close, 0, false}},
      {"connection_close", ok(cl5 + "Connection: Keep-Alive, CLOSE\r\n"), {}, {200, cl, 5, false}},
      {"http10_closes", "HTTP/1.0 200 OK\r\n" + cl5 + "\r\n", {}, {200, cl, 5, false}},
      {"http10_keep_alive",
       "HTTP/1.0 200 OK\r\n" + cl5 + "Connection: keep-alive\r\n\r\n",
       {},
       {200, cl, 5, true}},
      {"http10_until_close",
       "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n",
       {},
       {200, until_close, 0, false}},
      {"http19_is_http11", "HTTP/1.9 200 OK\r\n" + cl5 + "\r\n", {}, {200, cl, 5, true}},
      {"status_100", status("100 Continue"), {}, {100}},
      {"status_103_with_fields",
       status("103 Early Hints", "Link: </a.css>; rel=preload\r\n"),
       {},
       {103}},
      {"status_204", status("204 No Content"), {}, {204}},
      {"status_204_content_length_0", status("204 No Content", "Content-Length: 0\r\n"), {}, {204}},
      {"status_304_content_length",
       status("304 Not Modified", "Content-Length: 123\r\n"),
       {},
       {304}},
      {"status_304_chunked", status("304 Not Modified", te), {}, {304}},
      {"head_content_length", ok("Content-Length: 1000\r\n"), {}, {200}, head_req},
      {"head_chunked", ok(te), {}, {200}, head_req},
      {"head_no_framing_keeps_alive", ok(""), {}, {200}, head_req},
      {"head_content_length_over_limit",
       ok("Content-Length: 101\r\n"),
       {},
       {200},
       head_req,
       small_limits()},
      {"error_status_with_body", status("429 Too Many Requests", cl5), {}, {429, cl, 5}},
      {"status_599", status("599 Whatever", cl5), {}, {599, cl, 5}},
      {"content_length_at_limit",
       ok("Content-Length: 100\r\n"),
       {},
       {200, cl, 100},
       normal,
       small_limits()},

      // Status line.
      {"empty_reason", "HTTP/1.1 200 \r\n" + cl5 + "\r\n", {}, {200, cl, 5}},
      {"missing_sp_before_empty_reason", "HTTP/1.1 200\r\n" + cl5 + "\r\n", {}, {200, cl, 5}},
      {"reason_spaces_tab_obs_text",
       "HTTP/1.1 200  O K\t\xc3\xa9\xff\r\n" + cl5 + "\r\n",
       {},
       {200, cl, 5}},
      {"reason_glued", "HTTP/1.1 200OK\r\n\r\n", "upstream sent an invalid status line"},
      {"double_space_before_code", "HTTP/1.1  200 OK\r\n\r\n",
       "upstream sent an invalid status line"},
      {"tab_before_code", "HTTP/1.1\t200 OK\r\n\r\n", "upstream sent an invalid status line"},
      {"two_digit_code", "HTTP/1.1 20 OK\r\n\r\n", "upstream sent an invalid status line"},
      {"four_digit_code", "HTTP/1.1 2000 OK\r\n\r\n", "upstream sent an invalid status line"},
      {"code_not_digits", "HTTP/1.1 2x0 OK\r\n\r\n", "upstream sent an invalid status line"},
      {"version_lowercase", "http/1.1 200 OK\r\n\r\n", "upstream sent an invalid status line"},
      {"version_two_digits", "HTTP/11 200 OK\r\n\r\n", "upstream sent an invalid status line"},
      {"leading_space", " HTTP/1.1 200 OK\r\n\r\n", "upstream sent an invalid status line"},
      {"leading_empty_line", "\r\nHTTP/1.1 200 OK\r\n\r\n", "upstream sent an invalid status line"},
      {"not_http", "SSH-2.0-OpenSSH_9.2\r\n\r\n", "upstream sent an invalid status line"},
      {"version_2_0", "HTTP/2.0 200 OK\r\n\r\n", "upstream sent an unsupported HTTP version"},
      {"version_0_9", "HTTP/0.9 200 OK\r\n\r\n", "upstream sent an unsupported HTTP version"},
      {"status_099", status("099 Low"), "upstream sent an invalid status code"},
      {"status_600", status("600 High"), "upstream sent an invalid status code"},
      {"status_101", status("101 Switching Protocols", "Upgrade: websocket\r\n"),
       "upstream switched protocols unasked"},
      {"reason_ctl", status("200 O\x01K"), "upstream sent an invalid reason phrase"},
      {"reason_nul", status("200 O\0K"s), "upstream sent an invalid reason phrase"},
      {"reason_del", status("200 O\x7fK"), "upstream sent an invalid reason phrase"},

      // Line endings.
      {"bare_lf_status_line", "HTTP/1.1 200 OK\n\r\n",
       "upstream sent a bare LF in the response head"},
      {"bare_lf_field_line", ok("X: 1\n"), "upstream sent a bare LF in the response head"},
      {"lf_lf_end", "HTTP/1.1 200 OK\nX: 1\n\n", "upstream sent a bare LF in the response head"},
      {"bare_cr_status_line", "HTTP/1.1 200 OK\rX\r\n\r\n",
       "upstream sent a bare CR in the response head"},
      {"bare_cr_in_value", ok("X: a\rb\r\n"), "upstream sent a bare CR in the response head"},

      // Field lines.
      {"obs_fold", ok("X: a\r\n b\r\n"), "upstream sent obsolete line folding"},
      {"obs_fold_tab", ok("X: a\r\n\tb\r\n"), "upstream sent obsolete line folding"},
      {"space_before_colon", ok("Content-Length : 5\r\n"),
       "upstream sent an invalid header field name"},
      {"name_empty", ok(": a\r\n"), "upstream sent an invalid header field name"},
      {"name_no_colon", ok("Xyz\r\n"), "upstream sent an invalid header field name"},
      {"name_non_token", ok("X@Y: a\r\n"), "upstream sent an invalid header field name"},
      {"nul_in_value", ok("X: a\0b\r\n"s), "upstream sent an invalid character in a header value"},
      {"del_in_value", ok("X: a\x7f\r\n"), "upstream sent an invalid character in a header value"},

      // Limits.
      {"limits_exact_header_count",
       ok("A: 1\r\nB: 2\r\nC: 3\r\n"),
       {},
       {200, until_close, 0, false},
       normal,
       small_limits()},
      {"too_many_fields",
       ok("A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n"),
       "upstream sent too many header fields",
       {},
       normal,
       small_limits()},
      {"limits_exact_head_bytes",
       ok("X: " + std::string(128 - 17 - 2 - 5, 'v') + "\r\n"),
       {},
       {200, until_close, 0, false},
       normal,
       small_limits()},
      {"head_one_over",
       ok("X: " + std::string(128 - 17 - 2 - 4, 'v') + "\r\n"),
       "upstream response head too large",
       {},
       normal,
       small_limits()},
      {"head_too_large_no_end",
       ok("X: " + std::string(200, 'v')).substr(0, 190),
       "upstream response head too large",
       {},
       normal,
       small_limits()},
      {"content_length_over_limit",
       ok("Content-Length: 101\r\n"),
       "upstream response body too large",
       {},
       normal,
       small_limits()},

      // Content-Length.
      {"duplicate_cl_equal", ok(cl5 + cl5), "upstream sent multiple Content-Length fields"},
      {"duplicate_cl_different", ok(cl5 + "content-length: 6\r\n"),
       "upstream sent multiple Content-Length fields"},
      {"cl_plus", ok("Content-Length: +5\r\n"), "upstream sent an invalid Content-Length"},
      {"cl_empty", ok("Content-Length:\r\n"), "upstream sent an invalid Content-Length"},
      {"cl_list", ok("Content-Length: 5, 5\r\n"), "upstream sent an invalid Content-Length"},
      {"cl_20_digits", ok("Content-Length: 00000000000000000005\r\n"),
       "upstream sent an invalid Content-Length"},
      {"cl_on_204", status("204 No Content", cl5),
       "upstream sent a Content-Length in a 1xx or 204 response"},
      {"cl_on_100", status("100 Continue", cl5),
       "upstream sent a Content-Length in a 1xx or 204 response"},
      {"cl_invalid_on_head",
       ok("Content-Length: x\r\n"),
       "upstream sent an invalid Content-Length",
       {},
       head_req},

      // Transfer-Encoding.
      {"cl_and_te", ok(cl5 + te), "upstream sent both Content-Length and Transfer-Encoding"},
      {"te_and_cl", ok(te + cl5), "upstream sent both Content-Length and Transfer-Encoding"},
      {"te_and_cl_on_head",
       ok(te + cl5),
       "upstream sent both Content-Length and Transfer-Encoding",
       {},
       head_req},
      {"te_gzip", ok("Transfer-Encoding: gzip\r\n"),
       "upstream sent an unsupported Transfer-Encoding"},
      {"te_gzip_chunked", ok("Transfer-Encoding: gzip, chunked\r\n"),
       "upstream sent an unsupported Transfer-Encoding"},
      {"te_chunked_twice", ok("Transfer-Encoding: chunked, chunked\r\n"),
       "upstream sent an unsupported Transfer-Encoding"},
      {"te_chunked_params", ok("Transfer-Encoding: chunked;x=1\r\n"),
       "upstream sent an unsupported Transfer-Encoding"},
      {"te_empty", ok("Transfer-Encoding:\r\n"), "upstream sent an unsupported Transfer-Encoding"},
      {"te_duplicate", ok(te + te), "upstream sent multiple Transfer-Encoding fields"},
      {"te_in_http10", "HTTP/1.0 200 OK\r\n" + te + "\r\n",
       "upstream sent Transfer-Encoding in an HTTP/1.0 response"},
      {"te_on_204", status("204 No Content", te),
       "upstream sent Transfer-Encoding in a 1xx or 204 response"},
      {"te_on_103", status("103 Early Hints", te),
       "upstream sent Transfer-Encoding in a 1xx or 204 response"},
  };
}

class response_table : public testing::TestWithParam<row> {};

TEST_P(response_table, verdict_is_exact_and_split_independent) {
  const row& r = GetParam();
  response_head once;
  response_parser parser(r.limits);
  const outcome expected = to_outcome(parser.parse(r.input, once, r.req));
  if (r.error.empty()) {
    ASSERT_EQ(expected.status, parse_status::complete) << expected;
    EXPECT_EQ(expected.head_bytes, r.input.size());
    EXPECT_EQ(once.status, r.expect.status);
    EXPECT_EQ(once.body, r.expect.body);
    EXPECT_EQ(once.content_length, r.expect.content_length);
    EXPECT_EQ(once.keep_alive, r.expect.keep_alive);
    EXPECT_EQ(once.interim(), r.expect.status < 200);
  } else {
    ASSERT_EQ(expected.status, parse_status::error) << expected;
    EXPECT_EQ(expected.error_status, 502) << expected;
    EXPECT_EQ(expected.message, r.error);
  }
  for (size_t first = 0; first <= r.input.size(); ++first) {
    response_head grown;
    const outcome got = parse_growing(r.input, r.limits, r.req, grown, first);
    ASSERT_EQ(got, expected) << "first piece " << first << " bytes";
    if (got.status == parse_status::complete) {
      ASSERT_EQ(describe(grown), describe(once));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(rfc9112, response_table, testing::ValuesIn(rows()),
                         [](const testing::TestParamInfo<row>& info) { return info.param.name; });

TEST(response_parser, fills_the_head) {
  const std::string in =
      "HTTP/1.1 200 OK\r\nDate: Tue, 01 Jul 2025 10:00:00 GMT\r\n"
      "Content-Type: text/event-stream; charset=utf-8\r\nTransfer-Encoding: chunked\r\n"
      "X-Trim:  \t v a l \t \r\nX-Empty:\r\n\r\n";
  response_head h;
  response_parser p({});
  const head_result r = p.parse(in, h, normal);
  ASSERT_EQ(r.status, parse_status::complete);
  EXPECT_EQ(r.head_bytes, in.size());
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.ver, version::http11);
  EXPECT_EQ(h.reason, "OK");
  EXPECT_EQ(h.body, body_kind::chunked);
  ASSERT_EQ(h.header_count, 5u);
  EXPECT_EQ(h.headers[3].name, "X-Trim");
  EXPECT_EQ(h.headers[3].value, "v a l");
  EXPECT_EQ(h.headers[4].value, "");
  ASSERT_NE(h.find("CONTENT-type"), nullptr);
  EXPECT_EQ(h.find("content-type")->value, "text/event-stream; charset=utf-8");
  EXPECT_EQ(h.find("x-missing"), nullptr);
  EXPECT_FALSE(h.interim());
}

TEST(response_parser, results_are_sticky_and_survive_a_moved_buffer) {
  const std::string in = ok(cl5) + "hello";
  response_parser p({});
  response_head h;
  ASSERT_EQ(p.parse(std::string_view(in).substr(0, 20), h, normal).status,
            parse_status::incomplete);
  const std::string moved = in;  // same bytes, another address
  const head_result r = p.parse(moved, h, normal);
  ASSERT_EQ(r.status, parse_status::complete);
  EXPECT_EQ(h.find("content-length")->value.data(), moved.data() + 17 + 16);
  response_head again;
  EXPECT_EQ(p.parse(moved, again, normal).head_bytes, r.head_bytes);
  EXPECT_EQ(describe(again), describe(h));

  response_parser bad({});
  EXPECT_EQ(bad.parse("HTTP/9.9 200 OK\r\n", h, normal).status, parse_status::error);
  EXPECT_EQ(bad.parse(in, h, normal).error.message, "upstream sent an unsupported HTTP version");
  bad.reset();
  EXPECT_EQ(bad.parse(in, h, normal).status, parse_status::complete);
}

// A gateway's upstream read loop in miniature: for each expected request kind, parse heads
// (skipping interim responses) and decode the body, with the bytes arriving in pieces cut at
// `cuts`; EOF comes after the last byte. Returns a transcript to compare across splits.
std::string run_exchange(std::string_view stream, const std::vector<request_kind>& reqs,
                         const std::vector<size_t>& cuts) {
  std::string log;
  size_t avail = cuts.empty() ? stream.size() : cuts[0];
  size_t next_cut = 1;
  const auto more = [&] {  // one more read; false at EOF
    if (avail == stream.size()) return false;
    avail = next_cut < cuts.size() ? cuts[next_cut++] : stream.size();
    return true;
  };
  size_t pos = 0;
  response_parser parser({});
  response_head h;
  body_decoder dec;
  for (request_kind req : reqs) {
    head_result r;
    for (;;) {
      parser.reset();
      while ((r = parser.parse(stream.substr(pos, avail - pos), h, req)).status ==
                 parse_status::incomplete &&
             more()) {
      }
      if (r.status != parse_status::complete) break;
      pos += r.head_bytes;
      log += std::to_string(h.status) + (h.interim() ? " interim;" : ";");
      if (!h.interim()) break;
    }
    if (r.status != parse_status::complete) return log + "head " + std::string(r.error.message);
    dec.start(h.body, h.content_length, 1000, body_origin::upstream);
    body_step s{0, {}, dec.done(), {}};
    while (!s.done && s.error.status == 0) {
      s = dec.step(stream.substr(pos, avail - pos));
      pos += s.consumed;
      log += std::string(s.data);
      if (!s.done && s.error.status == 0 && pos == avail && !more()) s = dec.finish_eof();
    }
    if (s.error.status != 0) return log + "|body " + std::string(s.error.message);
    log += "|done ka=" + std::to_string(h.keep_alive) + ";";
  }
  return log + "rest=" + std::to_string(stream.size() - pos);
}

void expect_same_for_every_split(std::string_view stream, const std::vector<request_kind>& reqs,
                                 const std::string& expected) {
  ASSERT_EQ(run_exchange(stream, reqs, {}), expected);
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    ASSERT_EQ(run_exchange(stream, reqs, {cut}), expected) << "cut at " << cut;
  }
  std::vector<size_t> every_byte;
  for (size_t i = 0; i <= stream.size(); ++i) every_byte.push_back(i);
  ASSERT_EQ(run_exchange(stream, reqs, every_byte), expected) << "byte by byte";
}

TEST(response_exchange, continue_then_ok) {
  const std::string stream =
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
  expect_same_for_every_split(stream, {normal}, "100 interim;103 interim;200;hi|done ka=1;rest=0");
}

TEST(response_exchange, head_204_304_and_chunked_on_one_connection) {
  const std::string stream = ok("Content-Length: 9\r\n") +  // HEAD: no body follows
                             status("204 No Content") + status("304 Not Modified", cl5) + ok(te) +
                             "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n" + ok(cl5) + "hello";
  expect_same_for_every_split(stream, {head_req, normal, normal, normal, normal},
                              "200;|done ka=1;204;|done ka=1;304;|done ka=1;200;abcde|done ka=1;"
                              "200;hello|done ka=1;rest=0");
}

TEST(response_exchange, until_close_body_ends_at_eof) {
  const std::string stream = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it";
  expect_same_for_every_split(stream, {normal}, "200;all of it|done ka=0;rest=0");
}

TEST(response_exchange, truncated_bodies_fail_at_eof) {
  expect_same_for_every_split(ok(cl5) + "hel", {normal},
                              "200;hel|body upstream closed before the end of the body");
  expect_same_for_every_split(ok(te) + "5\r\nhello\r\n", {normal},
                              "200;hello|body upstream closed before the end of the body");
  expect_same_for_every_split(ok(te) + "5\r\nhello\r\n0\r\n", {normal},
                              "200;hello|body upstream closed before the end of the body");
  expect_same_for_every_split(ok(te), {normal},
                              "200;|body upstream closed before the end of the body");
}

TEST(response_exchange, broken_upstream_framing_is_502) {
  expect_same_for_every_split(ok(te) + "5\r\nhelloX", {normal},
                              "200;hello|body upstream sent invalid chunked framing");
  expect_same_for_every_split(ok(te) + "fffff\r\n", {normal},
                              "200;|body upstream response body too large");
  expect_same_for_every_split(ok("Content-Length: 1\r\n") + "ab", {normal},
                              "200;a|done ka=1;rest=1");
  body_decoder d;
  d.start(body_kind::chunked, 0, 100, body_origin::upstream);
  const body_step s = d.step("z\r\n");
  EXPECT_EQ(s.error.status, 502);
  EXPECT_EQ(s.error.code, "bad_gateway");
  EXPECT_EQ(s.error.message, "upstream sent invalid chunked framing");
  d.start(body_kind::content_length, 101, 100, body_origin::upstream);
  EXPECT_EQ(d.step("x").error.message, "upstream response body too large");
}

TEST(body_decoder_until_close, passes_every_byte_up_to_the_limit) {
  const std::string in(1000, 'x');
  for (size_t cut = 0; cut <= in.size(); cut += 7) {
    body_decoder d;
    d.start(body_kind::until_close, 0, 100, body_origin::upstream);
    EXPECT_FALSE(d.done());
    std::string got;
    std::string_view rest = in;
    body_step s;
    for (std::string_view piece : {rest.substr(0, cut), rest.substr(cut)}) {
      while (!piece.empty() && s.error.status == 0) {
        s = d.step(piece);
        got += s.data;
        piece.remove_prefix(s.consumed);
      }
    }
    ASSERT_EQ(got.size(), 100u) << "cut at " << cut;
    EXPECT_EQ(s.error.status, 502);
    EXPECT_EQ(s.error.message, "upstream response body too large");
    EXPECT_EQ(d.finish_eof().error.status, 502);  // sticky
  }
  body_decoder d;
  d.start(body_kind::until_close, 0, 3, body_origin::upstream);
  EXPECT_EQ(d.step("abc").data, "abc");
  EXPECT_FALSE(d.step("").done);
  EXPECT_TRUE(d.finish_eof().done);
  EXPECT_EQ(d.decoded_bytes(), 3u);
  EXPECT_TRUE(d.step("more").done);
}

TEST(body_decoder_until_close, finish_eof_on_other_kinds) {
  body_decoder d;
  d.start(body_kind::none, 0, 100);
  EXPECT_TRUE(d.finish_eof().done);
  d.start(body_kind::content_length, 4, 100);
  EXPECT_EQ(d.step("abcd").data, "abcd");
  EXPECT_TRUE(d.finish_eof().done);
  d.start(body_kind::content_length, 4, 100);  // a client hanging up mid-body
  const body_step s = d.finish_eof();
  EXPECT_EQ(s.error.status, 400);
  EXPECT_EQ(s.error.message, "client closed before the end of the body");
  EXPECT_EQ(s.error.code, "invalid_request");
}

}  // namespace
