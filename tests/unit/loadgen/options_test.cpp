// loadgen's command line: defaults, each flag, and the errors that name the flag.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "options.hpp"
#include "worker.hpp"

using namespace rg::loadgen;

namespace {

std::expected<options, std::string> parse(std::vector<std::string_view> args) {
  return parse_options(args);
}

std::string error_of(std::vector<std::string_view> args) {
  auto o = parse(std::move(args));
  return o ? std::string("(parsed)") : o.error();
}

}  // namespace

TEST(loadgen_options, defaults) {
  auto o = parse({"--url", "http://127.0.0.1:8080/v1/models"});
  ASSERT_TRUE(o) << o.error();
  EXPECT_EQ(o->url.host, "127.0.0.1:8080");
  EXPECT_EQ(o->url.port, 8080);
  EXPECT_EQ(o->url.path, "/v1/models");
  EXPECT_EQ(o->method, "GET");
  EXPECT_EQ(o->connections, 8u);
  EXPECT_EQ(o->duration_s, 10.0);
  EXPECT_EQ(o->rate, 0.0);
  EXPECT_GE(o->threads, 1u);
  EXPECT_LE(o->threads, 8u);
}

TEST(loadgen_options, url_forms) {
  auto a = parse_url("http://localhost");
  ASSERT_TRUE(a) << a.error();
  EXPECT_EQ(a->port, 80);
  EXPECT_EQ(a->path, "/");
  auto b = parse_url("http://[::1]:9000/x?y=1");
  ASSERT_TRUE(b) << b.error();
  EXPECT_EQ(b->port, 9000);
  EXPECT_EQ(b->path, "/x?y=1");
  EXPECT_EQ(b->host, "[::1]:9000");
  EXPECT_NE(parse_url("https://127.0.0.1/").error().find("https is not supported"),
            std::string::npos);
  EXPECT_FALSE(parse_url("ftp://x/"));
  EXPECT_FALSE(parse_url("http://127.0.0.1:99999/"));
  EXPECT_FALSE(parse_url("http://:80/"));
  EXPECT_FALSE(parse_url("http://127.0.0.1/a b"));
}

TEST(loadgen_options, flags) {
  auto o = parse({"--url=http://127.0.0.1:1/",
                  "--connections",
                  "100",
                  "--threads",
                  "2",
                  "--rate",
                  "500.5",
                  "--duration",
                  "1.5",
                  "--warmup",
                  "0.5",
                  "--stream",
                  "--expect-status",
                  "200",
                  "--timeout-ms",
                  "250",
                  "--header",
                  "X-A:  b",
                  "--method",
                  "PUT",
                  "--json",
                  "--cpus",
                  "0,1"});
  ASSERT_TRUE(o) << o.error();
  EXPECT_EQ(o->connections, 100u);
  EXPECT_EQ(o->threads, 2u);
  EXPECT_EQ(o->rate, 500.5);
  EXPECT_EQ(o->duration_s, 1.5);
  EXPECT_EQ(o->warmup_s, 0.5);
  EXPECT_TRUE(o->stream);
  EXPECT_TRUE(o->json);
  EXPECT_EQ(o->expect_status, 200);
  EXPECT_EQ(o->timeout_ms, 250u);
  ASSERT_EQ(o->headers.size(), 1u);
  EXPECT_EQ(o->headers[0], "X-A: b");
  EXPECT_EQ(o->method, "PUT");
  EXPECT_EQ(o->cpus, (std::vector<int>{0, 1}));
}

TEST(loadgen_options, threads_never_exceed_connections) {
  auto o = parse({"--url", "http://127.0.0.1:1/", "--connections", "1", "--threads", "4"});
  ASSERT_TRUE(o);
  EXPECT_EQ(o->threads, 1u);
}

TEST(loadgen_options, requests_alone_means_no_duration) {
  auto o = parse({"--url", "http://127.0.0.1:1/", "--requests", "10"});
  ASSERT_TRUE(o);
  EXPECT_EQ(o->requests, 10u);
  EXPECT_EQ(o->duration_s, 0.0);
}

TEST(loadgen_options, errors_name_the_flag) {
  EXPECT_EQ(error_of({}), "--url is required (see --help)");
  EXPECT_EQ(error_of({"--bogus"}), "unknown argument: --bogus (see --help)");
  const std::string_view url = "--url=http://127.0.0.1:1/";
  EXPECT_EQ(error_of({url, "--connections"}), "--connections: needs a value (see --help)");
  EXPECT_EQ(error_of({url, "--connections", "0"}), "--connections: expected an integer 1..1000000");
  EXPECT_EQ(error_of({url, "--rate", "-1"}), "--rate: expected a positive number of requests/s");
  EXPECT_EQ(error_of({url, "--duration", "abc"}), "--duration: expected a positive number");
  EXPECT_EQ(error_of({url, "--header", "nocolon"}), "--header: expected 'Name: value'");
  EXPECT_EQ(error_of({url, "--header", "Content-Length: 5"}),
            "--header: content-length is set by loadgen");
  EXPECT_EQ(error_of({url, "--header", "Bad Name: x"}), "--header: invalid header name");
  EXPECT_EQ(error_of({url, "--body", "/nonexistent/file"}),
            "--body: cannot read /nonexistent/file");
  EXPECT_EQ(error_of({url, "--rate", "10", "--pipeline", "2"}),
            "--pipeline applies to the closed loop only; drop it or --rate");
  EXPECT_EQ(error_of({url, "--hold"}),
            "--hold needs --duration (how long to keep the connections open)");
  EXPECT_EQ(error_of({url, "--stream=1"}), "--stream: takes no value");
  EXPECT_EQ(error_of({url, "--expect-status", "99"}),
            "--expect-status: expected an integer 100..599");
}

TEST(loadgen_request, built_from_the_options) {
  auto o = parse({"--url", "http://127.0.0.1:8080/v1/chat/completions", "--method", "POST",
                  "--header", "Content-Type: application/json", "--stream"});
  ASSERT_TRUE(o);
  o->body = "{}";
  o->body_given = true;
  EXPECT_EQ(build_request(*o),
            "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
            "Content-Type: application/json\r\nAccept: text/event-stream\r\n"
            "Content-Length: 2\r\n\r\n{}");
  auto g = parse({"--url", "http://127.0.0.1:8080/health"});
  ASSERT_TRUE(g);
  EXPECT_EQ(build_request(*g), "GET /health HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n");
}
