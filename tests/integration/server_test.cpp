// End-to-end HTTP/1.1 behaviour of the real binary: health endpoints, keep-alive, pipelining,
// request-smuggling and limit rejections (status + Connection: close + closed), a chunked body
// with trailers through to a real upstream, and the CLI (flags, errors, log formats).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "harness.hpp"
#include "sse_util.hpp"

namespace rg::itest {
namespace {

// Small limits so 413/414/431 are cheap to provoke.
constexpr std::string_view small_limits_toml = R"(# server_test.cpp
[server]
drain_timeout_ms = 5000

[server.limits]
request_line_bytes_max = 1024
head_bytes_max = 4096
headers_max = 20
body_bytes_max = 1024

[log]
level = "info"
format = "text"
)";

std::string expected_version() {
  const char* v = std::getenv("RINGGATE_VERSION");
  return v ? v : "0.1.0";
}

// One server for the whole suite: every test opens its own connections.
class server_test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_options opts;
    opts.config_toml = std::string(small_limits_toml);
    _server = server::start(opts);
  }
  static void TearDownTestSuite() {
    if (!_server) return;
    auto code = _server->stop(10s);
    EXPECT_EQ(code, 0) << "ringgate did not exit 0 on SIGTERM\n" << _server->proc().err_text();
    _server.reset();
  }
  void SetUp() override { ASSERT_NE(_server, nullptr) << "server failed to start"; }

  uint16_t port() const { return _server->port(); }

  client connect() {
    client c;
    EXPECT_TRUE(c.connect(port())) << c.last_error();
    return c;
  }

  // Sends `bytes` on a fresh connection; expects one error response with `status`, the OpenAI
  // error shape, Connection: close, and then the server closing the connection.
  void expect_rejected(std::string_view bytes, int status) {
    client c = connect();
    ASSERT_TRUE(c.send(bytes)) << c.last_error();
    auto r = c.read_response();
    ASSERT_TRUE(r) << c.last_error();
    EXPECT_EQ(r->status, status) << r->body;
    EXPECT_TRUE(r->connection_close()) << "no Connection: close on " << r->status;
    EXPECT_TRUE(r->body.starts_with(R"({"error":{"message":)")) << r->body;
    EXPECT_NE(r->body.find(R"("type":)"), std::string::npos) << r->body;
    EXPECT_NE(r->body.find(R"("code":)"), std::string::npos) << r->body;
    EXPECT_TRUE(c.wait_closed(3s)) << c.last_error();
  }

  static inline std::unique_ptr<server> _server;
};

TEST_F(server_test, health_is_ok) {
  auto r = http_get(port(), "/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"status":"ok"})");
  EXPECT_NE(r->header("content-type").find("application/json"), std::string::npos);
  EXPECT_FALSE(r->connection_close());
}

TEST_F(server_test, ready_is_ready) {
  auto r = http_get(port(), "/ready");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"status":"ready"})");
}

TEST_F(server_test, unknown_path_is_404_in_openai_error_shape) {
  auto r = http_get(port(), "/no/such/path");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_TRUE(r->body.starts_with(R"({"error":{"message":")")) << r->body;
  EXPECT_TRUE(r->body.ends_with(R"(","type":"not_found_error","code":"not_found"}})")) << r->body;
}

TEST_F(server_test, keep_alive_serves_three_requests_on_one_connection) {
  client c = connect();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.send(get_request("/health"))) << "request " << i << ": " << c.last_error();
    auto r = c.read_response();
    ASSERT_TRUE(r) << "request " << i << ": " << c.last_error();
    EXPECT_EQ(r->status, 200);
    EXPECT_FALSE(r->connection_close());
  }
}

TEST_F(server_test, pipelined_requests_are_answered_in_order) {
  client c = connect();
  ASSERT_TRUE(c.send(get_request("/health") + get_request("/nope") + get_request("/ready")));
  int expected[] = {200, 404, 200};
  for (int want : expected) {
    auto r = c.read_response();
    ASSERT_TRUE(r) << c.last_error();
    EXPECT_EQ(r->status, want) << r->body;
  }
  EXPECT_FALSE(c.readable(50ms)) << "unexpected extra bytes: " << c.buffered();
}

TEST_F(server_test, http10_without_host_is_answered_then_closed) {
  client c = connect();
  ASSERT_TRUE(c.send("GET /health HTTP/1.0\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r) << c.last_error();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"status":"ok"})");
  EXPECT_TRUE(c.wait_closed(3s)) << c.last_error();
}

TEST_F(server_test, connection_close_from_the_client_is_honoured) {
  client c = connect();
  ASSERT_TRUE(c.send(get_request("/health", "Connection: close\r\n")));
  auto r = c.read_response();
  ASSERT_TRUE(r) << c.last_error();
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(r->connection_close());
  EXPECT_TRUE(c.wait_closed(3s)) << c.last_error();
}

TEST_F(server_test, unsupported_http_version_is_505) {
  expect_rejected("GET /health HTTP/2.0\r\nHost: a\r\n\r\n", 505);
}

TEST_F(server_test, garbage_after_a_pipelined_request_gets_400_then_close) {
  client c = connect();
  ASSERT_TRUE(c.send(get_request("/health") + "GARBAGE\x01 NOT HTTP\r\n\r\n"));
  auto first = c.read_response();
  ASSERT_TRUE(first) << c.last_error();
  EXPECT_EQ(first->status, 200);
  auto second = c.read_response();
  ASSERT_TRUE(second) << c.last_error();
  EXPECT_EQ(second->status, 400) << second->body;
  EXPECT_TRUE(second->connection_close());
  EXPECT_TRUE(c.wait_closed(3s)) << c.last_error();
}

// Request smuggling (RFC 9112 §6.3): ambiguous framing is rejected and the connection dropped.
TEST_F(server_test, content_length_with_transfer_encoding_is_400) {
  expect_rejected(
      "POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
      "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      400);
}

TEST_F(server_test, conflicting_duplicate_content_length_is_400) {
  expect_rejected(
      "POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
      "Content-Length: 5\r\n\r\nabcde",
      400);
}

TEST_F(server_test, unknown_transfer_coding_is_501) {
  expect_rejected(
      "POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
      501);
}

TEST_F(server_test, declared_body_over_limit_is_413_before_the_body_is_sent) {
  // body_bytes_max = 1024; the body itself is never sent.
  expect_rejected("POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n",
                  413);
}

TEST_F(server_test, long_request_line_is_414) {
  expect_rejected("GET /" + std::string(2000, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", 414);
}

TEST_F(server_test, oversized_head_is_431) {
  expect_rejected(
      "GET /health HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(5000, 'b') + "\r\n\r\n", 431);
}

TEST_F(server_test, too_many_headers_is_431) {
  std::string req = "GET /health HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 30; ++i) req += "X-H" + std::to_string(i) + ": v\r\n";
  expect_rejected(req + "\r\n", 431);
}

// Every framing rule of the parser and the chunked decoder, over a real socket: each is answered
// with its status in the OpenAI error shape and Connection: close, then the connection closes.
// (The unit tables in tests/unit/http pin the exact verdicts; this proves the server acts on them.)
struct rejection {
  const char* name;
  std::string request;
  int status;
};

std::string post_with(std::string_view fields, std::string_view body = "") {
  return "POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\n" + std::string(fields) + "\r\n" +
         std::string(body);
}
std::string get_with(std::string_view fields) {
  return "GET /health HTTP/1.1\r\nHost: a\r\n" + std::string(fields) + "\r\n";
}
std::string chunked_post(std::string_view chunks) {
  return post_with("Transfer-Encoding: chunked\r\n", chunks);
}

std::vector<rejection> rejections() {
  using namespace std::string_literals;
  return {
      // Content-Length that is not exactly 1*DIGIT (RFC 9112 §6.3).
      {"cl_plus", post_with("Content-Length: +5\r\n", "hello"), 400},
      {"cl_hex", post_with("Content-Length: 0x5\r\n", "hello"), 400},
      {"cl_negative", post_with("Content-Length: -1\r\n"), 400},
      {"cl_empty", post_with("Content-Length:\r\n"), 400},
      {"cl_two_values", post_with("Content-Length: 5 5\r\n", "hello"), 400},
      {"cl_list", post_with("Content-Length: 5, 5\r\n", "hello"), 400},
      {"cl_20_digits", post_with("Content-Length: 00000000000000000005\r\n", "hello"), 400},
      {"cl_overflow", post_with("Content-Length: 99999999999999999999\r\n"), 400},
      {"cl_equal_duplicates", post_with("Content-Length: 5\r\nContent-Length: 5\r\n", "hello"),
       400},
      // Field lines.
      {"obs_fold", get_with("X-A: a\r\n b\r\n"), 400},
      {"obs_fold_tab", get_with("X-A: a\r\n\tb\r\n"), 400},
      {"space_before_colon", post_with("Content-Length : 5\r\n", "hello"), 400},
      {"tab_before_colon", get_with("X-A\t: 1\r\n"), 400},
      {"cr_in_value", get_with("X-A: a\rb\r\n"), 400},
      {"lf_in_value", get_with("X-A: a\nb\r\n"), 400},
      {"nul_in_value", get_with("X-A: a\0b\r\n"s), 400},
      {"ctl_in_value", get_with("X-A: a\x01\r\n"), 400},
      {"name_paren", get_with("X(: a\r\n"), 400},
      {"name_at", get_with("X@Y: a\r\n"), 400},
      {"name_non_ascii", get_with("X\xc3\xa9: a\r\n"), 400},
      {"name_empty", get_with(": a\r\n"), 400},
      {"bare_lf_line_end", "GET /health HTTP/1.1\nHost: a\n\n", 400},
      // Host on HTTP/1.1: exactly one.
      {"missing_host", "GET /health HTTP/1.1\r\n\r\n", 400},
      {"duplicate_host", get_with("Host: a\r\n"), 400},
      {"duplicate_host_different", get_with("Host: b\r\n"), 400},
      // Transfer-Encoding: exactly `chunked`, once, HTTP/1.1 only.
      {"te_chunked_not_last", post_with("Transfer-Encoding: chunked, gzip\r\n"), 400},
      {"te_chunked_twice", post_with("Transfer-Encoding: chunked, chunked\r\n"), 400},
      {"te_duplicate",
       post_with("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"), 400},
      {"te_in_http10",
       "POST /v1/chat/completions HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"te_identity", post_with("Transfer-Encoding: identity\r\n"), 501},
      {"te_empty", post_with("Transfer-Encoding:\r\n"), 400},
      // Expectations other than 100-continue.
      {"expect_unknown", post_with("Content-Length: 5\r\nExpect: foo\r\n", "hello"), 417},
      // The chunked body, found only after the head was accepted.
      {"chunk_line_bare_lf", chunked_post("5\nhello\r\n0\r\n\r\n"), 400},
      {"chunk_data_bare_lf", chunked_post("5\r\nhello\n0\r\n\r\n"), 400},
      {"chunk_last_bare_lf", chunked_post("5\r\nhello\r\n0\n\r\n"), 400},
      {"chunk_size_overflow_digits", chunked_post("00000000000000005\r\nhello\r\n0\r\n\r\n"), 400},
      {"chunk_size_overflow_value", chunked_post("10000000000000000\r\n"), 400},
      {"chunk_size_garbage", chunked_post("x\r\nhello\r\n0\r\n\r\n"), 400},
      {"chunk_size_hex_prefix", chunked_post("0x5\r\nhello\r\n0\r\n\r\n"), 400},
      {"chunk_size_negative", chunked_post("-5\r\nhello\r\n0\r\n\r\n"), 400},
      {"chunk_size_empty", chunked_post("\r\nhello\r\n0\r\n\r\n"), 400},
      {"chunk_data_longer_than_size", chunked_post("3\r\nhello\r\n0\r\n\r\n"), 400},
      {"chunk_trailer_obs_fold", chunked_post("0\r\nX-T: 1\r\n 2\r\n\r\n"), 400},
      {"chunked_over_body_max", chunked_post("800\r\n" + std::string(2048, 'a') + "\r\n0\r\n\r\n"),
       413},
  };
}

class rejection_test : public server_test, public ::testing::WithParamInterface<rejection> {};

TEST_P(rejection_test, is_answered_with_its_status_and_the_connection_closes) {
  expect_rejected(GetParam().request, GetParam().status);
}

INSTANTIATE_TEST_SUITE_P(socket, rejection_test, ::testing::ValuesIn(rejections()),
                         [](const ::testing::TestParamInfo<rejection>& info) {
                           return std::string(info.param.name);
                         });

TEST_F(server_test, expect_continue_gets_100_before_the_body) {
  client c = connect();
  ASSERT_TRUE(
      c.send("POST /no/such/path HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
             "Expect: 100-continue\r\n\r\n"));
  auto interim = c.read_response();
  ASSERT_TRUE(interim) << c.last_error();
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(c.send("hello"));
  auto r = c.read_response();
  ASSERT_TRUE(r) << c.last_error();
  EXPECT_EQ(r->status, 404) << r->body;
  // The body was read in full, so the connection stays usable.
  ASSERT_TRUE(c.send(get_request("/health")));
  auto again = c.read_response();
  ASSERT_TRUE(again) << c.last_error();
  EXPECT_EQ(again->status, 200);
}

// A valid chunked request with chunk extensions and trailers, through ringgate to a real
// upstream: the de-chunked body is what the upstream receives, the answer is a 200, and the
// trailers are consumed exactly (the next request on the connection is served).
TEST(chunked, post_with_trailers_reaches_the_upstream_de_chunked) {
  const char* mock_bin = std::getenv("MOCKLLM_BIN");
  if (!mock_bin || !*mock_bin) GTEST_SKIP() << "MOCKLLM_BIN not set (mockllm not built)";
  server_options mock_opts;
  mock_opts.binary = mock_bin;
  mock_opts.shards = 1;
  auto mock = server::start(mock_opts);
  ASSERT_NE(mock, nullptr);
  server_options gw_opts;
  gw_opts.shards = 1;
  gw_opts.config_toml = R"(
[auth]
required = false

[[providers]]
name = "mock"
kind = "openai"
base_url = "http://127.0.0.1:)" + std::to_string(mock->port()) + R"(/v1"
api_key = "sk-chunked-test"

[[models]]
name = "mock-small"
targets = [{ provider = "mock", model = "mock-small" }]
)";
  auto gw = server::start(gw_opts);
  ASSERT_NE(gw, nullptr);

  const std::string body =
      R"({"model":"mock-small","messages":[{"role":"user","content":"hello chunked"}]})";
  // Three chunks that split the JSON mid-token, one with an extension, then two trailer fields.
  std::string chunks;
  auto chunk = [&](std::string_view data, std::string_view ext = "") {
    char size[16];
    snprintf(size, sizeof size, "%zx", data.size());
    chunks += std::string(size) + std::string(ext) + "\r\n" + std::string(data) + "\r\n";
  };
  chunk(std::string_view(body).substr(0, 7));
  chunk(std::string_view(body).substr(7, 30), ";ext=\"a b\"");
  chunk(std::string_view(body).substr(37));
  chunks += "0\r\nX-Trailer-One: 1\r\nX-Trailer-Two: two\r\n\r\n";

  client c;
  ASSERT_TRUE(c.connect(gw->port())) << c.last_error();
  ASSERT_TRUE(
      c.send("POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\n"
             "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
             chunks));
  auto r = c.read_response(10s);
  ASSERT_TRUE(r) << c.last_error();
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_NE(r->body.find(R"("object":"chat.completion")"), std::string::npos) << r->body;
  EXPECT_FALSE(r->connection_close());
  ASSERT_TRUE(c.send(get_request("/health")));
  auto next = c.read_response();
  ASSERT_TRUE(next) << "the trailers were not consumed exactly: " << c.last_error();
  EXPECT_EQ(next->status, 200);

  client stats;
  ASSERT_TRUE(stats.connect(mock->port()));
  ASSERT_TRUE(stats.send(get_request("/mock/stats")));
  auto st = stats.read_response();
  ASSERT_TRUE(st) << stats.last_error();
  auto doc = parse_json(st->body);
  ASSERT_NE(doc, nullptr) << st->body;
  std::string_view upstream_body;
  ASSERT_FALSE(doc->root["last_request"]["body"].get(upstream_body)) << st->body;
  EXPECT_EQ(upstream_body, body);
  EXPECT_EQ(gw->stop(), 0) << gw->proc().err_text();
  EXPECT_EQ(mock->stop(), 0) << mock->proc().err_text();
}

// ---- the command line ----

TEST(cli, version_prints_name_and_version) {
  auto r = run_to_exit({ringgate_bin(), "--version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "ringgate " + expected_version() + "\n");
}

TEST(cli, help_exits_zero_and_names_every_flag) {
  auto r = run_to_exit({ringgate_bin(), "--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out.starts_with("usage: ringgate")) << r.out;
  EXPECT_EQ(r.err, "");
  for (const char* flag : {"--config", "--listen", "--admin-listen", "--shards", "--log-level",
                           "--log-format", "--check-config", "--version", "--help"}) {
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag << " missing from --help";
  }
}

// Bad command lines exit 2 with one "ringgate: ..." line naming the flag, and start nothing.
TEST(cli, bad_arguments_exit_2_with_a_clear_message) {
  struct bad {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<bad> cases = {
      {{"--shards", "abc"}, "ringgate: --shards: expected 0..1024\n"},
      {{"--shards", "2000"}, "ringgate: --shards: expected 0..1024\n"},
      {{"--shards", "-1"}, "ringgate: --shards: expected 0..1024\n"},
      {{"--shards=12345"}, "ringgate: --shards: expected 0..1024\n"},
      {{"--shards"}, "ringgate: --shards needs a number\n"},
      {{"--log-format", "xml"}, "ringgate: --log-format: expected json or text\n"},
      {{"--log-level", "loud"}, "ringgate: --log-level: expected debug, info, warn or error\n"},
      {{"--no-such-flag"}, "ringgate: unknown argument: --no-such-flag (see --help)\n"},
      {{"stray"}, "ringgate: unknown argument: stray (see --help)\n"},
      {{"--listen", "nowhere"}, "ringgate: --listen: "},
  };
  for (const auto& c : cases) {
    std::vector<std::string> argv = {ringgate_bin()};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    auto r = run_to_exit(argv);
    std::string shown = c.args[0] + (c.args.size() > 1 ? " " + c.args[1] : "");
    EXPECT_EQ(r.exit_code, 2) << shown << "\n" << r.err;
    EXPECT_TRUE(r.err.starts_with(c.message)) << shown << ": stderr was: " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << shown << ": " << r.err;
    EXPECT_EQ(r.out, "") << shown;
  }
}

TEST(cli, log_format_json_writes_one_json_object_per_line) {
  server_options opts;
  opts.args = {"--log-format", "json"};  // after the harness's "--log-format text": overrides it
  auto s = server::start(opts);
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(s->stop(), 0) << s->proc().err_text();
  std::string err = s->proc().err_text();
  size_t lines = 0;
  bool saw_listening = false;
  for (size_t at = 0; at < err.size();) {
    size_t nl = err.find('\n', at);
    ASSERT_NE(nl, std::string::npos) << "unterminated last line: " << err.substr(at);
    std::string line = err.substr(at, nl - at);
    at = nl + 1;
    ++lines;
    auto doc = parse_json(line);
    ASSERT_NE(doc, nullptr) << "not JSON: " << line;
    std::string_view level, msg, ts;
    EXPECT_FALSE(doc->root["level"].get(level)) << line;
    EXPECT_FALSE(doc->root["msg"].get(msg)) << line;
    EXPECT_FALSE(doc->root["ts"].get(ts)) << line;
    if (msg.starts_with("listening on 127.0.0.1:")) saw_listening = true;
  }
  EXPECT_GE(lines, 2u) << err;
  EXPECT_TRUE(saw_listening) << err;
}

TEST(cli, check_config_accepts_a_valid_file) {
  temp_dir dir;
  std::string file = dir.write("good.toml", small_limits_toml);
  auto r = run_to_exit({ringgate_bin(), "--check-config", file});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(file + ": ok"), std::string::npos) << "stdout: " << r.out;
}

TEST(cli, check_config_names_file_line_and_key_of_an_error) {
  temp_dir dir;
  std::string file = dir.write("bad.toml",
                               "[server]\n"
                               "listen = \"127.0.0.1:0\"\n"
                               "no_such_key = 1\n");
  auto r = run_to_exit({ringgate_bin(), "--check-config", file});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find(file + ":3:"), std::string::npos) << "stderr: " << r.err;
  EXPECT_NE(r.err.find("no_such_key"), std::string::npos) << "stderr: " << r.err;
}

TEST(cli, runs_on_built_in_defaults_without_a_config_file) {
  auto s = server::start({});
  ASSERT_NE(s, nullptr);
  auto r = http_get(s->port(), "/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(s->stop(), 0) << s->proc().err_text();
}

}  // namespace
}  // namespace rg::itest
