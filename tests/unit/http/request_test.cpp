// Tests for rg::http::request_parser: one table row per RFC 9112 rule and smuggling vector; every
// row is also fed one byte at a time and split at every offset, and must give the same verdict.
#include <ringgate/http/request.hpp>

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace rg::http;
using namespace std::string_literals;

constexpr uint16_t ok = 0;  // expected "complete"

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
std::string describe(const request_head& h) {
  std::string s = std::string(h.method_text) + "|" + std::string(h.target) + "|" +
                  std::to_string(int(h.ver)) + "|" + std::to_string(int(h.body)) + "|" +
                  std::to_string(h.content_length) + "|" + std::to_string(h.keep_alive) +
                  std::to_string(h.expect_continue) + "|" + std::string(h.host) + "|";
  for (size_t i = 0; i < h.header_count; ++i) {
    s += std::string(h.headers[i].name) + ":" + std::string(h.headers[i].value) + ";";
  }
  return s;
}

outcome parse_once(std::string_view in, const request_limits& limits, request_head& out) {
  request_parser p(limits);
  return to_outcome(p.parse(in, out));
}

// Feeds `in` as a growing buffer: first `first` bytes, then one byte at a time.
outcome parse_growing(std::string_view in, const request_limits& limits, request_head& out,
                      size_t first) {
  request_parser p(limits);
  head_result r;
  for (size_t k = first; k <= in.size(); ++k) {
    r = p.parse(in.substr(0, k), out);
    if (r.status != parse_status::incomplete) break;
  }
  return to_outcome(r);
}

struct row {
  const char* name;
  std::string input;
  uint16_t expected;     // ok or the error status
  std::string_view why;  // the error message, pinned so a row cannot pass for another reason
  request_limits limits = {};
};

request_limits small_limits() {
  request_limits l;
  l.request_line_bytes_max = 32;
  l.head_bytes_max = 128;
  l.headers_max = 3;
  l.body_bytes_max = 100;
  return l;
}

const std::string host = "Host: a\r\n";

std::string get(std::string fields) {
  return "GET / HTTP/1.1\r\n" + fields + "\r\n";
}
std::string get_host(std::string fields) {
  return get(host + fields);
}
std::string post(std::string fields) {
  return "POST /v1/x HTTP/1.1\r\n" + host + fields + "\r\n";
}

std::vector<row> rows() {
  return {
      // Valid heads.
      {"simple_get", get_host(""), ok},
      {"http10_without_host", "GET / HTTP/1.0\r\n\r\n", ok},
      {"leading_empty_lines", "\r\n\r\n" + get_host(""), ok},
      {"options_asterisk", "OPTIONS * HTTP/1.1\r\n" + host + "\r\n", ok},
      {"absolute_form", "GET http://example.com/x?y HTTP/1.1\r\n" + host + "\r\n", ok},
      {"absolute_form_https_port", "GET HTTPS://a.b:8443 HTTP/1.1\r\n" + host + "\r\n", ok},
      {"unknown_method_token", "PURGE / HTTP/1.1\r\n" + host + "\r\n", ok},
      {"content_length", post("Content-Length: 5\r\n"), ok},
      {"content_length_zero", post("Content-Length: 0\r\n"), ok},
      {"content_length_19_digits", post("Content-Length: 0000000000000000005\r\n"), ok},
      {"content_length_ows", post("Content-Length: \t 5 \t\r\n"), ok},
      {"chunked", post("Transfer-Encoding: chunked\r\n"), ok},
      {"chunked_mixed_case", post("transfer-ENCODING: ChUnKeD\r\n"), ok},
      {"empty_value", get_host("X-Empty:\r\n"), ok},
      {"obs_text_value", get_host("X-Name: caf\xc3\xa9 \x80\xff\r\n"), ok},
      {"htab_inside_value", get_host("X: a\tb\r\n"), ok},
      {"empty_host_value", get("Host:\r\n"), ok},
      {"host_ipv6_port", get("Host: [::1]:8080\r\n"), ok},
      {"expect_continue", post("Expect: 100-Continue\r\nContent-Length: 3\r\n"), ok},
      {"http10_expect_ignored", "GET / HTTP/1.0\r\nExpect: foo\r\n\r\n", ok},
      {"connection_close", get_host("Connection: keep-alive, Close\r\n"), ok},
      {"limits_exact_request_line",
       "GET /" + std::string(13, 'a') + " HTTP/1.0\r\n\r\n",
       ok,
       {},
       [] {
         auto l = small_limits();
         l.request_line_bytes_max = 27;
         return l;
       }()},
      {"limits_exact_header_count", get_host("A: 1\r\nB: 2\r\n"), ok, {}, small_limits()},
      {"limits_exact_head_bytes",
       get_host("X: " + std::string(128 - 16 - 9 - 2 - 5, 'v') + "\r\n"),
       ok,
       {},
       small_limits()},
      {"limits_declared_body_at_max", post("Content-Length: 100\r\n"), ok, {}, small_limits()},

      // Request line.
      {"double_space_after_method", "GET  / HTTP/1.1\r\n" + host + "\r\n", 400,
       "empty request target"},
      {"double_space_before_version", "GET /  HTTP/1.1\r\n" + host + "\r\n", 400,
       "malformed HTTP version"},
      {"tab_separator", "GET\t/ HTTP/1.1\r\n" + host + "\r\n", 400, "invalid method"},
      {"missing_version", "GET /\r\n" + host + "\r\n", 400, "missing HTTP version"},
      {"trailing_space_after_version", "GET / HTTP/1.1 \r\n" + host + "\r\n", 400,
       "malformed HTTP version"},
      {"leading_space", " GET / HTTP/1.1\r\n" + host + "\r\n", 400, "invalid method"},
      {"bad_method_byte", "G(T / HTTP/1.1\r\n" + host + "\r\n", 400, "invalid method"},
      {"target_control_byte", "GET /a\x01 HTTP/1.1\r\n" + host + "\r\n", 400,
       "invalid request target"},
      {"target_non_ascii", "GET /caf\xc3\xa9 HTTP/1.1\r\n" + host + "\r\n", 400,
       "invalid request target"},
      {"target_fragment", "GET /a#b HTTP/1.1\r\n" + host + "\r\n", 400, "invalid request target"},
      {"target_relative", "GET a/b HTTP/1.1\r\n" + host + "\r\n", 400,
       "unsupported request target form"},
      {"asterisk_not_options", "GET * HTTP/1.1\r\n" + host + "\r\n", 400,
       "'*' target is only valid for OPTIONS"},
      {"authority_form_connect", "CONNECT a.b:443 HTTP/1.1\r\n" + host + "\r\n", 400,
       "unsupported request target form"},
      {"absolute_empty_authority", "GET http:///x HTTP/1.1\r\n" + host + "\r\n", 400,
       "invalid authority in request target"},
      {"absolute_userinfo", "GET http://u@a/ HTTP/1.1\r\n" + host + "\r\n", 400,
       "invalid authority in request target"},
      {"absolute_other_scheme", "GET ftp://a/ HTTP/1.1\r\n" + host + "\r\n", 400,
       "unsupported request target form"},
      {"version_lowercase", "GET / http/1.1\r\n" + host + "\r\n", 400, "malformed HTTP version"},
      {"version_two_digits", "GET / HTTP/11\r\n" + host + "\r\n", 400, "malformed HTTP version"},
      {"version_junk", "GET / HTTP/1.1x\r\n" + host + "\r\n", 400, "malformed HTTP version"},
      {"version_2_0", "GET / HTTP/2.0\r\n" + host + "\r\n", 505, "HTTP version not supported"},
      {"version_1_2", "GET / HTTP/1.2\r\n" + host + "\r\n", 505, "HTTP version not supported"},
      {"version_0_9", "GET / HTTP/0.9\r\n" + host + "\r\n", 505, "HTTP version not supported"},
      {"request_line_too_long", "GET /" + std::string(40, 'a') + " HTTP/1.1\r\n\r\n", 414,
       "request line too long", small_limits()},
      {"request_line_too_long_no_crlf", "GET /" + std::string(40, 'a'), 414,
       "request line too long", small_limits()},
      {"request_line_one_over", "GET /" + std::string(14, 'a') + " HTTP/1.0\r\n\r\n", 414,
       "request line too long",
       [] {
         auto l = small_limits();
         l.request_line_bytes_max = 27;
         return l;
       }()},

      // Line endings.
      {"bare_lf_request_line", "GET / HTTP/1.1\n" + host + "\r\n", 400, "bare LF in request head"},
      {"bare_lf_field_line", "GET / HTTP/1.1\r\nHost: a\n\r\n", 400, "bare LF in request head"},
      {"bare_lf_final_line", "GET / HTTP/1.1\r\nHost: a\r\n\n", 400, "bare LF in request head"},
      {"bare_cr_request_line", "GET / HTTP/1.1\rX\r\n" + host + "\r\n", 400,
       "bare CR in request head"},
      {"bare_cr_in_value", get_host("X: a\rb\r\n"), 400, "bare CR in request head"},
      {"bare_lf_in_value", get_host("X: a\nb\r\n"), 400, "bare LF in request head"},
      {"lf_lf_end", "GET / HTTP/1.1\nHost: a\n\n", 400, "bare LF in request head"},

      // Field lines.
      {"obs_fold", get_host("X: a\r\n b\r\n"), 400, "obsolete line folding"},
      {"obs_fold_tab", get_host("X: a\r\n\tb\r\n"), 400, "obsolete line folding"},
      {"whitespace_before_first_field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400,
       "obsolete line folding"},
      {"space_before_colon", get_host("Content-Length : 5\r\n"), 400, "invalid header field name"},
      {"tab_before_colon", get_host("X\t: 5\r\n"), 400, "invalid header field name"},
      {"nul_in_value", get_host("X: a\0b\r\n"s), 400, "invalid character in header value"},
      {"ctl_in_value", get_host("X: a\x01\r\n"), 400, "invalid character in header value"},
      {"del_in_value", get_host("X: a\x7f\r\n"), 400, "invalid character in header value"},
      {"name_paren", get_host("X(: a\r\n"), 400, "invalid header field name"},
      {"name_at", get_host("X@Y: a\r\n"), 400, "invalid header field name"},
      {"name_space", get_host("X Y: a\r\n"), 400, "invalid header field name"},
      {"name_non_ascii", get_host("X\xc3\xa9: a\r\n"), 400, "invalid header field name"},
      {"name_empty", get_host(": a\r\n"), 400, "invalid header field name"},
      {"name_no_colon", get_host("Xyz\r\n"), 400, "invalid header field name"},
      {"too_many_fields", get_host("A: 1\r\nB: 2\r\nC: 3\r\n"), 431, "too many header fields",
       small_limits()},
      {"head_too_large", get_host("X: " + std::string(200, 'v') + "\r\n"), 431,
       "request head too large", small_limits()},
      {"head_one_over", get_host("X: " + std::string(128 - 16 - 9 - 2 - 4, 'v') + "\r\n"), 431,
       "request head too large", small_limits()},
      {"head_too_large_no_end", get_host("X: " + std::string(200, 'v')), 431,
       "request head too large", small_limits()},
      {"empty_lines_count_toward_head",
       [] {
         std::string s;
         for (int i = 0; i < 65; ++i) s += "\r\n";
         return s;
       }(),
       431, "request head too large", small_limits()},

      // Host.
      {"missing_host", get(""), 400, "missing Host header"},
      {"two_hosts", get_host(host), 400, "multiple Host headers"},
      {"two_hosts_http10", "GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", 400,
       "multiple Host headers"},
      {"host_with_space", get("Host: a b\r\n"), 400, "invalid Host header"},
      {"host_with_slash", get("Host: a/b\r\n"), 400, "invalid Host header"},
      {"host_with_userinfo", get("Host: u@a\r\n"), 400, "invalid Host header"},

      // Content-Length.
      {"cl_and_te", post("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"), 400,
       "both Content-Length and Transfer-Encoding"},
      {"te_and_cl", post("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"), 400,
       "both Content-Length and Transfer-Encoding"},
      {"duplicate_cl_equal", post("Content-Length: 5\r\nContent-Length: 5\r\n"), 400,
       "multiple Content-Length headers"},
      {"duplicate_cl_different", post("Content-Length: 5\r\ncontent-length: 6\r\n"), 400,
       "multiple Content-Length headers"},
      {"cl_plus", post("Content-Length: +5\r\n"), 400, "invalid Content-Length"},
      {"cl_hex", post("Content-Length: 0x5\r\n"), 400, "invalid Content-Length"},
      {"cl_negative", post("Content-Length: -1\r\n"), 400, "invalid Content-Length"},
      {"cl_empty", post("Content-Length:\r\n"), 400, "invalid Content-Length"},
      {"cl_empty_ows", post("Content-Length:  \r\n"), 400, "invalid Content-Length"},
      {"cl_two_values_space", post("Content-Length: 5 5\r\n"), 400, "invalid Content-Length"},
      {"cl_list", post("Content-Length: 5, 5\r\n"), 400, "invalid Content-Length"},
      {"cl_20_digits", post("Content-Length: 00000000000000000005\r\n"), 400,
       "invalid Content-Length"},
      {"cl_overflow", post("Content-Length: 99999999999999999999\r\n"), 400,
       "invalid Content-Length"},
      {"cl_exponent", post("Content-Length: 1e3\r\n"), 400, "invalid Content-Length"},
      {"cl_over_limit", post("Content-Length: 101\r\n"), 413, "request body too large",
       small_limits()},
      {"cl_huge_declared", post("Content-Length: 9999999999999999999\r\n"), 413,
       "request body too large"},

      // Transfer-Encoding.
      {"te_gzip", post("Transfer-Encoding: gzip\r\n"), 501, "unsupported Transfer-Encoding"},
      {"te_identity", post("Transfer-Encoding: identity\r\n"), 501,
       "unsupported Transfer-Encoding"},
      {"te_unknown", post("Transfer-Encoding: foo\r\n"), 501, "unsupported Transfer-Encoding"},
      {"te_gzip_chunked", post("Transfer-Encoding: gzip, chunked\r\n"), 501,
       "unsupported Transfer-Encoding"},
      {"te_chunked_params", post("Transfer-Encoding: chunked;x=1\r\n"), 501,
       "unsupported Transfer-Encoding"},
      {"te_chunked_twice", post("Transfer-Encoding: chunked, chunked\r\n"), 400,
       "chunked is not the final transfer coding"},
      {"te_chunked_not_last", post("Transfer-Encoding: chunked, gzip\r\n"), 400,
       "chunked is not the final transfer coding"},
      {"te_empty", post("Transfer-Encoding:\r\n"), 400, "empty Transfer-Encoding"},
      {"te_empty_element", post("Transfer-Encoding: , chunked\r\n"), 400,
       "malformed Transfer-Encoding"},
      {"te_trailing_comma", post("Transfer-Encoding: chunked,\r\n"), 400,
       "chunked is not the final transfer coding"},
      {"te_not_token", post("Transfer-Encoding: \"chunked\"\r\n"), 400,
       "malformed Transfer-Encoding"},
      {"te_duplicate", post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"), 400,
       "multiple Transfer-Encoding headers"},
      {"te_in_http10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
       "Transfer-Encoding in an HTTP/1.0 request"},
      {"te_vertical_tab",
       post("Transfer-Encoding: \x0b"
            "chunked\r\n"),
       400, "invalid character in header value"},

      // Expect.
      {"expect_unknown", post("Expect: foo\r\n"), 417, "unsupported Expect value"},
      {"expect_continue_list", post("Expect: 100-continue, foo\r\n"), 417,
       "unsupported Expect value"},
  };
}

class request_table : public testing::TestWithParam<row> {};

TEST_P(request_table, verdict_is_exact_and_split_independent) {
  const row& r = GetParam();
  request_head once;
  const outcome expected = parse_once(r.input, r.limits, once);
  if (r.expected == ok) {
    ASSERT_EQ(expected.status, parse_status::complete) << expected;
    EXPECT_EQ(expected.head_bytes, r.input.size());
  } else {
    ASSERT_EQ(expected.status, parse_status::error) << expected;
    EXPECT_EQ(expected.error_status, r.expected) << expected;
    EXPECT_EQ(expected.message, r.why);
  }
  // Byte by byte, and every two-piece split, must reach the same verdict and the same head.
  for (size_t first = 0; first <= r.input.size(); ++first) {
    request_head grown;
    const outcome got = parse_growing(r.input, r.limits, grown, first);
    ASSERT_EQ(got, expected) << "first piece " << first << " bytes";
    if (got.status == parse_status::complete) {
      ASSERT_EQ(describe(grown), describe(once));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(rfc9112, request_table, testing::ValuesIn(rows()),
                         [](const testing::TestParamInfo<row>& info) { return info.param.name; });

head_result parse_all(std::string_view in, request_head& out, request_limits limits = {}) {
  request_parser p(limits);
  return p.parse(in, out);
}

TEST(request_parser, fills_the_head) {
  const std::string in =
      "POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: api.local:8080\r\n"
      "Content-Length: 42\r\nX-Trim:  \t v a l \t \r\n\r\n";
  request_head h;
  const head_result r = parse_all(in, h);
  ASSERT_EQ(r.status, parse_status::complete);
  EXPECT_EQ(r.head_bytes, in.size());
  EXPECT_EQ(h.meth, method::post);
  EXPECT_EQ(h.method_text, "POST");
  EXPECT_EQ(h.target, "/v1/chat/completions?x=1");
  EXPECT_EQ(h.path(), "/v1/chat/completions");
  EXPECT_EQ(h.ver, version::http11);
  EXPECT_EQ(h.host, "api.local:8080");
  EXPECT_EQ(h.body, body_kind::content_length);
  EXPECT_EQ(h.content_length, 42u);
  EXPECT_TRUE(h.keep_alive);
  EXPECT_FALSE(h.expect_continue);
  ASSERT_EQ(h.header_count, 3u);
  EXPECT_EQ(h.headers[2].name, "X-Trim");
  EXPECT_EQ(h.headers[2].value, "v a l");
  ASSERT_NE(h.find("content-LENGTH"), nullptr);
  EXPECT_EQ(h.find("content-length")->value, "42");
  EXPECT_EQ(h.find("x-missing"), nullptr);
}

TEST(request_parser, methods) {
  const std::pair<const char*, method> cases[] = {
      {"GET", method::get},     {"HEAD", method::head},      {"POST", method::post},
      {"PUT", method::put},     {"DELETE", method::delete_}, {"OPTIONS", method::options},
      {"PATCH", method::patch}, {"TRACE", method::trace},    {"get", method::other},
      {"PURGE", method::other}};
  for (const auto& [text, m] : cases) {
    request_head h;
    const std::string in = std::string(text) + " / HTTP/1.1\r\nHost: a\r\n\r\n";
    ASSERT_EQ(parse_all(in, h).status, parse_status::complete) << text;
    EXPECT_EQ(h.meth, m) << text;
    EXPECT_EQ(h.method_text, text);
    if (m != method::other) {
      EXPECT_EQ(method_name(m), text);
    }
  }
  EXPECT_EQ(method_name(method::other), "OTHER");
}

TEST(request_parser, body_kinds) {
  request_head h;
  ASSERT_EQ(parse_all(post("Content-Length: 0\r\n"), h).status, parse_status::complete);
  EXPECT_EQ(h.body, body_kind::none);  // documented: Content-Length 0 is reported as none
  EXPECT_EQ(h.content_length, 0u);
  ASSERT_EQ(parse_all(post("Transfer-Encoding: chunked\r\n"), h).status, parse_status::complete);
  EXPECT_EQ(h.body, body_kind::chunked);
  ASSERT_EQ(parse_all(post(""), h).status, parse_status::complete);
  EXPECT_EQ(h.body, body_kind::none);
}

TEST(request_parser, keep_alive_rules) {
  struct ka_case {
    std::string in;
    bool keep_alive;
  } cases[] = {
      {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: CLOSE\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade,  close \r\n\r\n", false},
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n", true},
      {"GET / HTTP/1.0\r\n\r\n", false},
      {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
      {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true},
      {"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", false},
  };
  for (const auto& c : cases) {
    request_head h;
    ASSERT_EQ(parse_all(c.in, h).status, parse_status::complete) << c.in;
    EXPECT_EQ(h.keep_alive, c.keep_alive) << c.in;
  }
}

TEST(request_parser, expect_handling) {
  request_head h;
  ASSERT_EQ(parse_all(post("Expect: 100-continue\r\nContent-Length: 1\r\n"), h).status,
            parse_status::complete);
  EXPECT_TRUE(h.expect_continue);
  ASSERT_EQ(parse_all("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", h).status,
            parse_status::complete);
  EXPECT_FALSE(h.expect_continue);  // HTTP/1.0: the expectation is ignored
  const head_result r = parse_all(post("Expect: 200-ok\r\n"), h);
  EXPECT_EQ(r.error.status, 417);
  EXPECT_EQ(r.error.code, "expectation_failed");
}

TEST(request_parser, absolute_form_uses_target_authority) {
  request_head h;
  const std::string in = "GET http://up.stream:81/v1/models?q HTTP/1.1\r\nHost: other\r\n\r\n";
  ASSERT_EQ(parse_all(in, h).status, parse_status::complete);
  EXPECT_EQ(h.host, "up.stream:81");
  EXPECT_EQ(h.path(), "/v1/models");
  ASSERT_EQ(parse_all("GET http://a?x HTTP/1.1\r\nHost: a\r\n\r\n", h).status,
            parse_status::complete);
  EXPECT_EQ(h.path(), "/");
  ASSERT_EQ(parse_all("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", h).status, parse_status::complete);
  EXPECT_EQ(h.path(), "*");
}

TEST(request_parser, error_codes) {
  request_head h;
  const auto code_of = [&](std::string in, request_limits l = {}) {
    return std::string(parse_all(in, h, l).error.code);
  };
  EXPECT_EQ(code_of(get("")), "invalid_request");
  EXPECT_EQ(code_of("GET / HTTP/2.0\r\n\r\n"), "http_version_not_supported");
  EXPECT_EQ(code_of(post("Transfer-Encoding: gzip\r\n")), "not_implemented");
  EXPECT_EQ(code_of(post("Content-Length: 101\r\n"), small_limits()), "payload_too_large");
  EXPECT_EQ(code_of("GET /" + std::string(64, 'a'), small_limits()), "uri_too_long");
  EXPECT_EQ(code_of(get_host("A: 1\r\nB: 2\r\nC: 3\r\n"), small_limits()),
            "request_header_fields_too_large");
  EXPECT_EQ(parse_all(post("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"), h).error.message,
            "both Content-Length and Transfer-Encoding");
}

TEST(request_parser, incomplete_until_final_crlf) {
  const std::string in = get_host("");
  request_parser p({});
  request_head h;
  h.method_text = "untouched";
  for (size_t k = 0; k < in.size(); ++k) {
    ASSERT_EQ(p.parse(std::string_view(in).substr(0, k), h).status, parse_status::incomplete);
  }
  EXPECT_EQ(h.method_text, "untouched");  // `out` is written only on completion
  EXPECT_EQ(p.parse(in, h).status, parse_status::complete);
}

TEST(request_parser, limits_are_detected_without_waiting_for_crlf) {
  const request_limits l = small_limits();
  request_head h;
  // 33 bytes of request line: one over the 32-byte limit, no CRLF yet.
  EXPECT_EQ(parse_all("GET /" + std::string(27, 'a'), h, l).status, parse_status::incomplete);
  EXPECT_EQ(parse_all("GET /" + std::string(28, 'a'), h, l).error.status, 414);
  // A CR right at the limit is still allowed to end the line.
  EXPECT_EQ(parse_all("GET /" + std::string(27, 'a') + "\r", h, l).status,
            parse_status::incomplete);
  // Head bytes: the 129th byte without a completed head is a 431.
  const std::string head = "GET / HTTP/1.1\r\nX: " + std::string(200, 'v');
  EXPECT_EQ(parse_all(head.substr(0, 128), h, l).status, parse_status::incomplete);
  EXPECT_EQ(parse_all(head.substr(0, 129), h, l).error.status, 431);
}

TEST(request_parser, pipelined_requests) {
  const std::string first = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::string second = "POST /b HTTP/1.1\r\nHost: b\r\nContent-Length: 2\r\n\r\n";
  const std::string buffer = first + second + "hi";
  request_parser p({});
  request_head h;
  head_result r = p.parse(buffer, h);
  ASSERT_EQ(r.status, parse_status::complete);
  EXPECT_EQ(r.head_bytes, first.size());
  EXPECT_EQ(h.target, "/a");
  // A complete result is sticky.
  EXPECT_EQ(p.parse(buffer, h).head_bytes, first.size());
  p.reset();
  const std::string_view rest = std::string_view(buffer).substr(r.head_bytes);
  r = p.parse(rest, h);
  ASSERT_EQ(r.status, parse_status::complete);
  EXPECT_EQ(r.head_bytes, second.size());
  EXPECT_EQ(h.target, "/b");
  EXPECT_EQ(h.content_length, 2u);
  EXPECT_EQ(rest.substr(r.head_bytes), "hi");
}

TEST(request_parser, valid_request_then_garbage) {
  const std::string first = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::string buffer = first + "\x16\x03\x01 garbage\r\n\r\n";
  request_parser p({});
  request_head h;
  head_result r = p.parse(buffer, h);
  ASSERT_EQ(r.status, parse_status::complete);
  EXPECT_EQ(r.head_bytes, first.size());
  p.reset();
  r = p.parse(std::string_view(buffer).substr(r.head_bytes), h);
  EXPECT_EQ(r.status, parse_status::error);
  EXPECT_EQ(r.error.status, 400);
  // An error is sticky too.
  EXPECT_EQ(p.parse(std::string_view(buffer).substr(first.size()), h).error.status, 400);
}

TEST(request_parser, buffer_may_move_between_calls) {
  const std::string in = get_host("X-A: 1\r\n");
  std::string moving = in.substr(0, 20);
  request_parser p({});
  request_head h;
  ASSERT_EQ(p.parse(moving, h).status, parse_status::incomplete);
  moving = std::string(in);  // new storage, same contents
  ASSERT_EQ(p.parse(moving, h).status, parse_status::complete);
  EXPECT_EQ(h.headers[1].value, "1");
  EXPECT_EQ(h.headers[1].value.data(), moving.data() + in.find(": 1") + 2);
}

// Exhaustive byte classes, at every offset of a 24-byte value/name so the 8-byte fast paths see
// the byte in every lane of a word, and at the word edges.
TEST(request_parser, every_byte_at_every_offset) {
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    const bool vchar = (b >= 0x20 && b != 0x7F) || b == '\t';
    const bool tchar = (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') ||
                       std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    for (size_t pos = 0; pos < 24; ++pos) {
      std::string value(24, 'v');
      value[pos] = c;
      request_head h;
      head_result r = parse_all(get_host("X: " + value + "\r\n"), h);
      if (vchar) {
        ASSERT_EQ(r.status, parse_status::complete) << "value byte " << b << " at " << pos;
        const bool edge_ws = (c == ' ' || c == '\t') && (pos == 0 || pos == 23);
        EXPECT_EQ(h.headers[1].value.size(), edge_ws ? 23u : 24u);
      } else {
        ASSERT_EQ(r.error.status, 400) << "value byte " << b << " at " << pos;
      }
      if (c == ':' || c == '\r' || c == '\n') continue;
      std::string name(24, 'n');
      name[pos] = c;
      r = parse_all(get_host(name + ": v\r\n"), h);
      ASSERT_EQ(r.status == parse_status::complete, tchar) << "name byte " << b << " at " << pos;
    }
  }
}

TEST(request_parser, headers_max_is_capped) {
  request_limits l;
  l.headers_max = 1000;  // more than headers_cap
  l.head_bytes_max = 64 * 1024;
  std::string fields;
  for (size_t i = 0; i < headers_cap; ++i) fields += "X: v\r\n";
  request_head h;
  ASSERT_EQ(parse_all(get(fields.substr(6) + host), h, l).status, parse_status::complete);
  EXPECT_EQ(h.header_count, headers_cap);
  EXPECT_EQ(parse_all(get(fields + host), h, l).error.status, 431);
}

}  // namespace
