// The proxy path end to end: a client speaking raw HTTP/1.1 to ringgate, which routes to
// tools/mockllm. What the upstream received is read back from mockllm's /mock/stats.
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <thread>

#include "harness.hpp"
#include "sse_util.hpp"

namespace rg::itest {
namespace {

constexpr std::string_view chat_body =
    R"({"model":"mock-small","messages":[{"role":"user","content":"hello"}]})";

std::string stream_body(std::string_view model = "mock-small", bool include_usage = false) {
  std::string b = R"({"model":")" + std::string(model) + R"(","stream":true,)";
  if (include_usage) b += R"("stream_options":{"include_usage":true},)";
  return b + R"("messages":[{"role":"user","content":"hello"}]})";
}

// Replaces per-response identifiers so two streams of the same request compare equal.
std::string normalized(std::string s) {
  s = std::regex_replace(s, std::regex(R"(chatcmpl-mock-[0-9]+)"), "ID");
  return std::regex_replace(s, std::regex(R"("created":[0-9]+)"), "\"created\":0");
}

class proxy_test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_options mock;
    const char* bin = std::getenv("MOCKLLM_BIN");
    mock.binary = bin ? bin : "";
    mock.shards = 1;
    s_mock = server::start(mock);
    if (!s_mock) return;
    server_options gw;
    gw.shards = 1;  // one shard: one upstream pool, so connection reuse is observable
    gw.config_toml = R"(
[[providers]]
name = "mock"
kind = "openai"
base_url = "http://127.0.0.1:)" + std::to_string(s_mock->port()) + R"(/v1"
api_key = "sk-upstream-test"
forward_headers = ["x-mock-*"]
first_byte_timeout_ms = 3000
idle_timeout_ms = 800

[[models]]
name = "mock-small"
targets = [{ provider = "mock", model = "mock-small" }]

[[models]]
name = "alias-model"
targets = [{ provider = "mock", model = "mock-large" }]
)";
    s_gw = server::start(gw);
  }
  static void TearDownTestSuite() {
    if (s_gw) {
      EXPECT_EQ(s_gw->stop(10s), 0) << s_gw->proc().err_text();
    }
    if (s_mock) {
      EXPECT_EQ(s_mock->stop(10s), 0) << s_mock->proc().err_text();
    }
    s_gw.reset();
    s_mock.reset();
  }
  void SetUp() override {
    ASSERT_NE(s_mock, nullptr) << "mockllm failed to start";
    ASSERT_NE(s_gw, nullptr) << "ringgate failed to start";
    reset_mock();
  }

  static std::optional<http_response> exchange(uint16_t port, const std::string& request) {
    client c;
    if (!c.connect(port) || !c.send(request)) return std::nullopt;
    return c.read_response(10s);
  }
  static std::optional<http_response> via_gateway(const std::string& request) {
    return exchange(s_gw->port(), request);
  }
  static void reset_mock() { exchange(s_mock->port(), post_request("/mock/reset", "")); }
  static std::unique_ptr<json_doc> mock_stats() {
    auto r = exchange(s_mock->port(), get_request("/mock/stats"));
    return r ? parse_json(r->body) : nullptr;
  }
  static uint64_t mock_stat(const char* key) {
    auto s = mock_stats();
    uint64_t v = 0;
    if (!s || s->root[key].get(v)) ADD_FAILURE() << "no " << key << " in /mock/stats";
    return v;
  }
  // The last upstream request's header `name` (lowercase match), or "" when absent.
  static std::string upstream_header(std::string_view name) {
    auto s = mock_stats();
    simdjson::dom::array headers;
    if (!s || s->root["last_request"]["headers"].get(headers)) return "<no stats>";
    for (auto pair : headers) {
      std::string_view k, v;
      if (pair.at(0).get(k) || pair.at(1).get(v)) continue;
      std::string lk(k);
      for (char& ch : lk) ch = char(std::tolower(static_cast<unsigned char>(ch)));
      if (lk == name) return std::string(v);
    }
    return "";
  }
  static std::string upstream_body() {
    auto s = mock_stats();
    std::string_view b;
    if (!s || s->root["last_request"]["body"].get(b)) return "<no stats>";
    return std::string(b);
  }
  // Streams a request through the gateway and returns what arrived until the server closed or
  // the stream terminated.
  static partial_stream stream_via_gateway(const std::string& request, bool expect_close) {
    client c;
    EXPECT_TRUE(c.connect(s_gw->port()));
    EXPECT_TRUE(c.send(request));
    if (expect_close) {
      EXPECT_TRUE(c.wait_closed(10s)) << "the gateway must close a failed stream";
    } else {
      auto r = c.read_response(10s);
      EXPECT_TRUE(r) << c.last_error();
      partial_stream p;
      if (r) {
        p.status = r->status;
        p.body = r->body;
        p.terminated = true;
      }
      return p;
    }
    return decode_partial(c.buffered());
  }

  static inline std::unique_ptr<server> s_mock;
  static inline std::unique_ptr<server> s_gw;
};

TEST_F(proxy_test, chat_completion_relayed) {
  auto r = via_gateway(post_request("/v1/chat/completions", chat_body));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_FALSE(r->header("x-request-id").empty());
  auto j = parse_json(r->body);
  ASSERT_TRUE(j) << r->body;
  std::string_view content;
  EXPECT_FALSE(j->root["choices"].at(0)["message"]["content"].get(content));
  EXPECT_FALSE(content.empty());
  int64_t prompt = 0;
  EXPECT_FALSE(j->root["usage"]["prompt_tokens"].get(prompt));
  EXPECT_GT(prompt, 0);
}

TEST_F(proxy_test, stream_identical_to_direct) {
  std::string req = post_request("/v1/chat/completions", stream_body("mock-small", true),
                                 "x-mock-chunks: 12\r\n");
  auto direct = exchange(s_mock->port(), req);
  auto proxied = via_gateway(req);
  ASSERT_TRUE(direct && proxied);
  EXPECT_EQ(proxied->status, 200);
  EXPECT_EQ(proxied->header("content-type"), "text/event-stream");
  auto d = sse_events(direct->body), p = sse_events(proxied->body);
  EXPECT_EQ(count_content_chunks(p), 12u);
  EXPECT_EQ(p.size(), d.size());
  EXPECT_TRUE(normalized(proxied->body) == normalized(direct->body))
      << "proxied and direct streams differ";
  EXPECT_EQ(p.back().data, "[DONE]");
}

TEST_F(proxy_test, usage_chunk_stripped_when_client_did_not_ask) {
  std::string req = post_request("/v1/chat/completions", stream_body(), "x-mock-chunks: 200\r\n");
  auto direct = exchange(s_mock->port(), req);
  auto r = via_gateway(req);
  ASSERT_TRUE(r && direct);
  // What the client sees is exactly what it would have seen going direct without usage.
  EXPECT_TRUE(normalized(r->body) == normalized(direct->body))
      << "proxied and direct streams differ (" << r->body.size() << " vs " << direct->body.size()
      << " bytes)";
  // The gateway asked upstream for usage (it needs it for accounting)…
  EXPECT_NE(upstream_body().find(R"("include_usage":true)"), std::string::npos);
  // …and the client, who did not ask, never sees a usage chunk.
  for (const auto& e : sse_events(r->body)) {
    EXPECT_EQ(e.data.find(R"("usage":{)"), std::string::npos) << e.data;
  }
  EXPECT_EQ(sse_events(r->body).back().data, "[DONE]");
}

TEST_F(proxy_test, embeddings_and_models) {
  auto r = via_gateway(post_request("/v1/embeddings", R"({"model":"mock-small","input":["a","b"]})"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  auto j = parse_json(r->body);
  ASSERT_TRUE(j) << r->body;
  simdjson::dom::array data;
  ASSERT_FALSE(j->root["data"].get(data));
  EXPECT_EQ(data.size(), 2u);

  auto m = exchange(s_gw->port(), get_request("/v1/models"));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 200);
  EXPECT_NE(m->body.find(R"("id":"mock-small")"), std::string::npos);
  EXPECT_NE(m->body.find(R"("id":"alias-model")"), std::string::npos);
}

TEST_F(proxy_test, alias_rewrites_model_and_provider_form_routes) {
  ASSERT_TRUE(via_gateway(post_request("/v1/chat/completions",
                                       R"({"model":"alias-model","messages":[]})")));
  EXPECT_EQ(upstream_body(), R"({"model":"mock-large","messages":[]})");
  ASSERT_TRUE(via_gateway(post_request("/v1/chat/completions",
                                       R"({"model":"mock/anything-else","messages":[]})")));
  EXPECT_EQ(upstream_body(), R"({"model":"anything-else","messages":[]})");
}

TEST_F(proxy_test, upstream_headers_come_from_an_allowlist) {
  auto r = via_gateway(post_request("/v1/chat/completions", chat_body,
                                    "Authorization: Bearer client-secret\r\n"
                                    "Cookie: session=abc\r\n"
                                    "X-Custom: nope\r\n"
                                    "User-Agent: itest/1\r\n"
                                    "X-Request-Id: req-from-client-1\r\n"
                                    "Connection: keep-alive\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(upstream_header("authorization"), "Bearer sk-upstream-test");
  EXPECT_EQ(upstream_header("cookie"), "");
  EXPECT_EQ(upstream_header("x-custom"), "");
  EXPECT_EQ(upstream_header("user-agent"), "itest/1");
  EXPECT_EQ(upstream_header("x-request-id"), "req-from-client-1");
  EXPECT_EQ(r->header("x-request-id"), "req-from-client-1");
  EXPECT_EQ(upstream_header("connection"), "");
}

TEST_F(proxy_test, bad_requests_are_rejected_in_openai_shape) {
  for (std::string_view body : {std::string_view(R"({"messages":[]})"),
                                std::string_view(R"({"model":"no-such-model"})"),
                                std::string_view(R"({"model":"mock-small","stream":"yes"})"),
                                std::string_view(R"({"model":"a","model":"b"})"),
                                std::string_view(R"({"model":)")}) {
    auto r = via_gateway(post_request("/v1/chat/completions", body));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << body;
    auto j = parse_json(r->body);
    ASSERT_TRUE(j) << r->body;
    std::string_view msg;
    EXPECT_FALSE(j->root["error"]["message"].get(msg)) << r->body;
  }
  EXPECT_EQ(mock_stat("requests_total"), 0u) << "nothing invalid may reach the upstream";
}

TEST_F(proxy_test, upstream_error_status_and_retry_after_relayed) {
  auto r = via_gateway(post_request("/v1/chat/completions", chat_body,
                                    "x-mock-status: 503\r\nx-mock-retry-after: 2\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->header("retry-after"), "2");
  auto j = parse_json(r->body);
  ASSERT_TRUE(j);
  std::string_view msg;
  EXPECT_FALSE(j->root["error"]["message"].get(msg));

  // A body that is not OpenAI-shaped is wrapped into one.
  r = via_gateway(post_request("/v1/chat/completions", chat_body,
                               "x-mock-status: 500\r\nx-mock-error-body: <html>oops</html>\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  j = parse_json(r->body);
  ASSERT_TRUE(j) << r->body;
  EXPECT_FALSE(j->root["error"]["message"].get(msg));
  EXPECT_NE(msg.find("oops"), std::string_view::npos);
}

TEST_F(proxy_test, close_before_headers_is_a_502) {
  auto r = via_gateway(post_request("/v1/chat/completions", chat_body,
                                    "x-mock-fault: close-before-headers\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502);
}

// Mid-stream failures: the client gets the events so far, one error event, no [DONE], an
// unterminated chunked body, and a closed connection.
void expect_failed_stream(const partial_stream& p, size_t content_chunks) {
  EXPECT_EQ(p.status, 200);
  EXPECT_FALSE(p.terminated) << "the chunked body must stay unterminated";
  auto evs = sse_events(p.body);
  ASSERT_FALSE(evs.empty()) << p.body;
  EXPECT_EQ(count_content_chunks(evs), content_chunks) << p.body;
  EXPECT_NE(evs.back().data.find(R"("error")"), std::string::npos) << p.body;
  for (const auto& e : evs) EXPECT_NE(e.data, "[DONE]");
}

TEST_F(proxy_test, reset_mid_stream) {
  expect_failed_stream(
      stream_via_gateway(post_request("/v1/chat/completions", stream_body(),
                                      "x-mock-fault: reset-after:3\r\nx-mock-chunks: 8\r\n"),
                         true),
      3);
}

TEST_F(proxy_test, close_mid_stream) {
  expect_failed_stream(
      stream_via_gateway(post_request("/v1/chat/completions", stream_body(),
                                      "x-mock-fault: close-after:2\r\nx-mock-chunks: 8\r\n"),
                         true),
      2);
}

TEST_F(proxy_test, eof_without_terminator) {
  expect_failed_stream(
      stream_via_gateway(post_request("/v1/chat/completions", stream_body(),
                                      "x-mock-fault: eof-after:4\r\nx-mock-chunks: 8\r\n"),
                         true),
      4);
}

TEST_F(proxy_test, stalled_stream_ends_at_the_idle_deadline) {
  expect_failed_stream(
      stream_via_gateway(post_request("/v1/chat/completions", stream_body(),
                                      "x-mock-fault: stall-after:2\r\nx-mock-chunks: 8\r\n"),
                         true),
      2);
}

TEST_F(proxy_test, oversized_sse_line_fails_the_stream) {
  auto p = stream_via_gateway(post_request("/v1/chat/completions", stream_body(),
                                           "x-mock-fault: oversized-line:2097152\r\n"),
                              true);
  EXPECT_EQ(p.status, 200);
  EXPECT_FALSE(p.terminated);
  auto evs = sse_events(p.body);
  ASSERT_FALSE(evs.empty());
  EXPECT_NE(evs.back().data.find(R"("error")"), std::string::npos);
}

TEST_F(proxy_test, malformed_json_is_relayed_as_sent) {
  auto r = via_gateway(post_request("/v1/chat/completions", chat_body,
                                    "x-mock-fault: malformed-json\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_FALSE(parse_json(r->body));
}

TEST_F(proxy_test, client_disconnect_closes_the_upstream_at_once) {
  client c;
  ASSERT_TRUE(c.connect(s_gw->port()));
  ASSERT_TRUE(c.send(post_request("/v1/chat/completions", stream_body(),
                                  "x-mock-chunks: 50\r\nx-mock-delay-ms: 100\r\n")));
  // Wait for the first event, then hang up.
  auto deadline = steady::now() + 5s;
  while (c.buffered().find("data: ") == std::string::npos && steady::now() < deadline) {
    c.wait_closed(50ms);  // reads whatever arrives within 50 ms
  }
  ASSERT_NE(c.buffered().find("data: "), std::string::npos);
  EXPECT_EQ(mock_stat("in_flight"), 1u);
  c.close();
  auto gone_by = steady::now() + 1s;
  while (mock_stat("in_flight") != 0 && steady::now() < gone_by) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(mock_stat("in_flight"), 0u) << "the upstream stream must end within 1 s";
}

TEST_F(proxy_test, sequential_requests_reuse_one_upstream_connection) {
  // Let idle connections from earlier tests age out of the count: reset, then measure.
  reset_mock();
  uint64_t before = mock_stat("connections_accepted");
  client c;
  ASSERT_TRUE(c.connect(s_gw->port()));
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(c.send(post_request("/v1/chat/completions", i % 2 ? chat_body : stream_body())));
    auto r = c.read_response(10s);
    ASSERT_TRUE(r) << c.last_error();
    EXPECT_EQ(r->status, 200);
  }
  // /mock/stats itself is one more connection, made by the test.
  EXPECT_LE(mock_stat("connections_accepted") - before, 2u);
}

TEST_F(proxy_test, pooled_connection_closed_by_the_server_costs_no_error) {
  client c;
  ASSERT_TRUE(c.connect(s_gw->port()));
  for (int i = 0; i < 20; ++i) {
    // Every answer is keep-alive, then the server closes: each next request finds (or races with)
    // a dead pooled connection.
    ASSERT_TRUE(c.send(post_request("/v1/chat/completions", chat_body,
                                    "x-mock-fault: close-after-response\r\n")));
    auto r = c.read_response(10s);
    ASSERT_TRUE(r) << c.last_error();
    EXPECT_EQ(r->status, 200) << r->body;
  }
}

}  // namespace
}  // namespace rg::itest
