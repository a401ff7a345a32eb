// The proxy path end to end: a client speaking raw HTTP/1.1 to ringgate, which routes to
// tools/mockllm. What the upstream received is read back from mockllm's /mock/stats.
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <thread>

#include "mock_util.hpp"

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
    s_mock = start_mock();
    if (!s_mock) return;
    s_probe = std::make_unique<mock_probe>(s_mock->port());
    const std::string mock_url = "http://127.0.0.1:" + std::to_string(s_mock->port()) + "/v1";
    server_options gw;
    gw.shards = 1;  // one shard: one upstream pool
    // No [[keys]]: these tests are about the proxy path; governance has its own
    // (governance_test.cpp).
    gw.config_toml = R"(
[auth]
required = false

[[providers]]
name = "mock"
kind = "openai"
base_url = ")" + mock_url + R"("
api_key = "sk-upstream-test"
forward_headers = ["x-mock-*"]
first_byte_timeout_ms = 3000
idle_timeout_ms = 800
# These tests are about relaying each upstream answer as it is: no circuit, no retries.
circuit = { failures = 0, failure_rate_percent = 0 }

# Prefix rules that would match every header the gateway never forwards.
[[providers]]
name = "leaky"
kind = "openai"
base_url = ")" + mock_url + R"("
api_key = "sk-upstream-test"
forward_headers = ["up*", "cook*", "x-api*", "proxy-*", "ex*", "t*", "keep*", "auth*", "api*",
                   "x-goog-*", "hos*", "content-*", "conn*", "accept-*", "x-request*"]

[[models]]
name = "mock-small"
targets = [{ provider = "mock", model = "mock-small" }]
retry = { attempts = 1 }

[[models]]
name = "alias-model"
targets = [{ provider = "mock", model = "mock-large" }]
retry = { attempts = 1 }
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
    s_probe.reset();
    s_mock.reset();
  }
  void SetUp() override {
    ASSERT_NE(s_mock, nullptr) << "mockllm failed to start";
    ASSERT_NE(s_gw, nullptr) << "ringgate failed to start";
    s_probe->reset();
  }

  static std::optional<http_response> via_gateway(const std::string& request) {
    return roundtrip(s_gw->port(), request);
  }
  static std::optional<http_response> via_mock(const std::string& request) {
    return roundtrip(s_mock->port(), request);
  }
  static uint64_t mock_stat(const char* key) { return s_probe->stat(key); }
  // The last upstream request's headers, names lowercased, in order.
  static std::vector<std::pair<std::string, std::string>> upstream_headers() {
    std::vector<std::pair<std::string, std::string>> out;
    auto s = s_probe->stats();
    simdjson::dom::array headers;
    if (!s || s->root["last_request"]["headers"].get(headers)) return out;
    for (auto pair : headers) {
      std::string_view k, v;
      if (pair.at(0).get(k) || pair.at(1).get(v)) continue;
      std::string lk(k);
      for (char& ch : lk) ch = char(std::tolower(static_cast<unsigned char>(ch)));
      out.emplace_back(std::move(lk), std::string(v));
    }
    return out;
  }
  // The last upstream request's header `name` (lowercase), or "" when absent.
  static std::string upstream_header(std::string_view name) {
    for (auto& [k, v] : upstream_headers()) {
      if (k == name) return v;
    }
    return "";
  }
  // The access-log line (stdout) of the request with id `id`, waiting for the log writer.
  static std::unique_ptr<json_doc> access_line(std::string_view id) {
    const std::string needle = R"("request_id":")" + std::string(id) + '"';
    auto give_up = steady::now() + 5s;
    for (;;) {
      std::string out = s_gw->proc().out_text();
      if (size_t at = out.find(needle); at != std::string::npos) {
        size_t begin = out.rfind('\n', at);
        begin = begin == std::string::npos ? 0 : begin + 1;
        return parse_json(out.substr(begin, out.find('\n', at) - begin));
      }
      if (steady::now() > give_up) return nullptr;
      std::this_thread::sleep_for(10ms);
    }
  }
  static std::string upstream_body() {
    auto s = s_probe->stats();
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
  static inline std::unique_ptr<mock_probe> s_probe;
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
  auto direct = via_mock(req);
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
  auto direct = via_mock(req);
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

  auto m = roundtrip(s_gw->port(), get_request("/v1/models"));
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

TEST_F(proxy_test, no_rule_forwards_credentials_hop_by_hop_headers_or_expect) {
  // Provider "leaky" has a prefix rule matching each of these; the gateway must refuse them all.
  client c;
  ASSERT_TRUE(c.connect(s_gw->port()));
  ASSERT_TRUE(c.send(post_request("/v1/chat/completions",
                                  R"({"model":"leaky/mock-small","messages":[]})",
                                  "Authorization: Bearer client-secret-1\r\n"
                                  "Proxy-Authorization: Basic client-secret-2\r\n"
                                  "X-Api-Key: client-secret-3\r\n"
                                  "Api-Key: client-secret-4\r\n"
                                  "X-Goog-Api-Key: client-secret-5\r\n"
                                  "Cookie: session=client-secret-6\r\n"
                                  "Expect: 100-continue\r\n"
                                  "Upgrade: websocket\r\n"
                                  "TE: trailers\r\n"
                                  "Trailer: x-checksum\r\n"
                                  "Keep-Alive: timeout=5\r\n"
                                  "Proxy-Connection: keep-alive\r\n"
                                  "X-Request-Id: req-leaky-1\r\n"
                                  "X-Api-Version: 7\r\n"
                                  "Upgrade-Insecure-Requests: 1\r\n")));
  auto r = c.read_response(10s);
  while (r && r->status == 100) r = c.read_response(10s);  // the interim answer to Expect
  ASSERT_TRUE(r) << c.last_error();
  EXPECT_EQ(r->status, 200) << r->body;
  auto headers = upstream_headers();
  ASSERT_FALSE(headers.empty());
  for (const char* never : {"proxy-authorization", "x-api-key", "api-key", "x-goog-api-key", "cookie",
                            "expect", "upgrade", "te", "trailer", "keep-alive", "proxy-connection"}) {
    EXPECT_EQ(upstream_header(never), "") << never << " reached the upstream";
  }
  size_t ids = 0, auths = 0;
  for (const auto& [name, value] : headers) {
    EXPECT_EQ(value.find("client-secret"), std::string::npos) << name << ": " << value;
    ids += name == "x-request-id";
    auths += name == "authorization";
  }
  EXPECT_EQ(auths, 1u);
  EXPECT_EQ(upstream_header("authorization"), "Bearer sk-upstream-test");
  EXPECT_EQ(ids, 1u);  // the gateway's own, carrying the client's valid id
  EXPECT_EQ(upstream_header("x-request-id"), "req-leaky-1");
  // The rules do work for headers that are not on the list.
  EXPECT_EQ(upstream_header("x-api-version"), "7");
  EXPECT_EQ(upstream_header("upgrade-insecure-requests"), "1");
}

TEST_F(proxy_test, malformed_json_in_a_stream_is_relayed_as_sent) {
  std::string req = post_request("/v1/chat/completions", stream_body(),
                                 "x-mock-fault: malformed-json\r\nx-mock-chunks: 3\r\n");
  auto d = via_mock(req);
  auto r = via_gateway(req);
  ASSERT_TRUE(d && r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-type"), "text/event-stream");
  // The relay inspects only what it needs (usage, [DONE]): a bad event passes through untouched,
  // and the stream is otherwise what the client would have seen going direct.
  EXPECT_NE(r->body.find("data: {not json\n\n"), std::string::npos) << r->body;
  EXPECT_TRUE(r->body.ends_with("data: [DONE]\n\n")) << r->body;
  EXPECT_EQ(count_content_chunks(sse_events(r->body)), 3u);
  EXPECT_TRUE(normalized(r->body) == normalized(d->body)) << "proxied and direct streams differ";
}

TEST_F(proxy_test, a_cut_answer_that_is_not_streamed_is_an_error_in_openai_shape) {
  struct cut {
    const char* fault;
    int status;
    const char* code;
  };
  for (const cut& k : {cut{"reset-after:1", 502, "upstream_error"},
                       cut{"close-after:1", 502, "upstream_error"},
                       cut{"eof-after:1", 502, "upstream_error"},
                       cut{"stall-after:1", 504, "upstream_timeout"}}) {
    auto r = via_gateway(post_request("/v1/chat/completions", chat_body,
                                      "x-mock-fault: " + std::string(k.fault) + "\r\n"));
    ASSERT_TRUE(r) << k.fault;
    EXPECT_EQ(r->status, k.status) << k.fault << ": " << r->body;
    auto j = parse_json(r->body);
    ASSERT_TRUE(j) << r->body;
    std::string_view msg, code;
    EXPECT_FALSE(j->root["error"]["message"].get(msg)) << r->body;
    EXPECT_FALSE(j->root["error"]["code"].get(code)) << r->body;
    EXPECT_EQ(code, k.code) << k.fault;
  }
  // An oversized answer is still a whole answer: relayed.
  constexpr size_t big = 2 << 20;
  auto r = via_gateway(post_request("/v1/chat/completions", chat_body,
                                    "x-mock-fault: oversized-line:" + std::to_string(big) + "\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  auto j = parse_json(r->body);
  ASSERT_TRUE(j) << r->body.substr(0, 200);
  std::string_view content;
  EXPECT_FALSE(j->root["choices"].at(0)["message"]["content"].get(content));
  EXPECT_EQ(content.size(), big);
}

TEST_F(proxy_test, a_large_prompt_goes_through) {
  std::string big(200 * 1024, 'a');
  std::string body = R"({"model":"mock-small","messages":[{"role":"user","content":")" + big + "\"}]}";
  auto r = via_gateway(post_request("/v1/chat/completions", body));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(mock_stat("requests_total"), 1u);
  auto s = s_probe->stats();
  ASSERT_TRUE(s);
  uint64_t received = 0;
  EXPECT_FALSE(s->root["last_request"]["body_bytes"].get(received));
  EXPECT_EQ(received, body.size());  // no model rewrite: the same bytes
  auto j = parse_json(r->body);
  ASSERT_TRUE(j);
  uint64_t prompt = 0;
  EXPECT_FALSE(j->root["usage"]["prompt_tokens"].get(prompt));
  EXPECT_EQ(prompt, body.size() / 4);
}

// Tokens of a streamed answer are read from its final usage chunk, whether the client asked for
// it or the gateway did (and then stripped it): access log and metrics count them.
TEST_F(proxy_test, streamed_usage_is_counted_whether_asked_for_or_injected) {
  const std::string in = R"(ringgate_tokens_total{model="mock-small",provider="mock",direction="in"})";
  const std::string out =
      R"(ringgate_tokens_total{model="mock-small",provider="mock",direction="out"})";
  double in_before = std::max(0.0, metric_sample(scrape(s_gw->admin_port()), in));
  double out_before = std::max(0.0, metric_sample(scrape(s_gw->admin_port()), out));
  int64_t in_sum = 0, out_sum = 0;
  for (bool asked : {true, false}) {
    std::string id = asked ? "usage-asked-1" : "usage-injected-1";
    auto r = via_gateway(post_request("/v1/chat/completions", stream_body("mock-small", asked),
                                      "x-request-id: " + id + "\r\nx-mock-words: 12\r\n"));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
    // What the mock reported: prompt = the bytes it received / 4, completion = the words.
    auto s = s_probe->stats();
    ASSERT_TRUE(s);
    uint64_t received = 0;
    ASSERT_FALSE(s->root["last_request"]["body_bytes"].get(received));
    const int64_t prompt = int64_t(received / 4), completion = 12;
    bool usage_seen = r->body.find(R"("usage":{)") != std::string::npos;
    EXPECT_EQ(usage_seen, asked) << "the usage chunk reaches only a client that asked for it";
    auto line = access_line(id);
    ASSERT_TRUE(line) << "no access-log line for " << id << "\n" << s_gw->proc().out_text();
    int64_t tokens_in = -1, tokens_out = -1;
    EXPECT_FALSE(line->root["tokens_in"].get(tokens_in));
    EXPECT_FALSE(line->root["tokens_out"].get(tokens_out));
    EXPECT_EQ(tokens_in, prompt) << id;
    EXPECT_EQ(tokens_out, completion) << id;
    in_sum += prompt;
    out_sum += completion;
  }
  std::string after = scrape(s_gw->admin_port());
  EXPECT_EQ(metric_sample(after, in) - in_before, double(in_sum));
  EXPECT_EQ(metric_sample(after, out) - out_before, double(out_sum));
}

// Evidence for the zero-copy passthrough: of a stream's upstream bytes, at most those read
// together with a response head that did not arrive whole in one receive buffer (one input
// block) are copied; the rest go to the client straight from the receive buffers.
TEST_F(proxy_test, stream_bytes_are_relayed_from_the_receive_buffers) {
  const std::string zero_copy = R"(ringgate_stream_relay_bytes_total{path="zero_copy"})";
  const std::string copied = R"(ringgate_stream_relay_bytes_total{path="copied"})";
  std::string before = scrape(s_gw->admin_port());
  // Paced (1 ms between events), so the head leaves the mock ahead of most of the body.
  auto r = via_gateway(post_request("/v1/chat/completions", stream_body(),
                                    "x-mock-chunks: 400\r\nx-mock-words: 80000\r\n"
                                    "x-mock-delay-ms: 1\r\n"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  ASSERT_GT(r->body.size(), 400u * 1024);
  std::string after = scrape(s_gw->admin_port());
  double zc = metric_sample(after, zero_copy) - metric_sample(before, zero_copy);
  double cp = metric_sample(after, copied) - metric_sample(before, copied);
  EXPECT_LE(cp, 64.0 * 1024) << "copied beyond the head's input block";
  EXPECT_GE(zc + cp, double(r->body.size()));  // every byte was taken in one way or the other
  EXPECT_GT(zc, 0.85 * (zc + cp));
}

// A burst (every event written at once, most of them arriving with the head): the head is parsed
// in the receive buffer it came in, and the events after it are sent from there too.
TEST_F(proxy_test, events_that_arrive_with_the_head_are_not_copied) {
  const std::string zero_copy = R"(ringgate_stream_relay_bytes_total{path="zero_copy"})";
  const std::string copied = R"(ringgate_stream_relay_bytes_total{path="copied"})";
  std::string before = scrape(s_gw->admin_port());
  auto r =
      via_gateway(post_request("/v1/chat/completions", stream_body(), "x-mock-chunks: 64\r\n"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  ASSERT_NE(r->body.find("data: [DONE]"), std::string::npos);
  std::string after = scrape(s_gw->admin_port());
  double zc = metric_sample(after, zero_copy) - metric_sample(before, zero_copy);
  double cp = metric_sample(after, copied) - metric_sample(before, copied);
  EXPECT_EQ(cp, 0.0);
  EXPECT_GE(zc, double(r->body.size()));
}

}  // namespace
}  // namespace rg::itest
