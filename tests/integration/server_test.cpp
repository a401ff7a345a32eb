// End-to-end HTTP/1.1 behaviour of the real binary: health endpoints, keep-alive, pipelining,
// request-smuggling and limit rejections (status + Connection: close + closed), and the CLI.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "harness.hpp"

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

// ---- the command line ----

TEST(cli, version_prints_name_and_version) {
  auto r = run_to_exit({ringgate_bin(), "--version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "ringgate " + expected_version() + "\n");
}

TEST(cli, help_exits_zero_and_names_the_flags) {
  auto r = run_to_exit({ringgate_bin(), "--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const char* flag : {"--config", "--listen", "--shards", "--check-config"}) {
    EXPECT_NE((r.out + r.err).find(flag), std::string::npos) << flag << " missing from --help";
  }
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
