// tools/mockllm end to end, started on port 0 through the harness ($MOCKLLM_BIN names it):
// OpenAI and Anthropic answers parsed as JSON, stream shapes, /mock/stats, and every fault mode as
// a client sees it (status, closed before headers, RST, stall, early EOF, malformed, oversized);
// concurrent requests in in_flight_max; the command-line defaults and their error messages;
// faults armed for the next N requests, and abandoned requests.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "sse_util.hpp"

namespace rg::itest {
namespace {

// Short local names for the shared helpers in sse_util.hpp.
using json = json_doc;
std::unique_ptr<json> parse(std::string_view text) { return parse_json(text); }
std::string post(std::string_view path, std::string_view body, std::string_view headers = "") {
  return post_request(path, body, headers);
}
std::vector<sse_event> events_of(std::string_view body) { return sse_events(body); }

constexpr std::string_view chat_body =
    R"({"model":"mock-small","messages":[{"role":"user","content":"hello"}]})";
constexpr std::string_view stream_body =
    R"({"model":"mock-small","stream":true,"messages":[{"role":"user","content":"hello"}]})";
constexpr std::string_view messages_body =
    R"({"model":"claude-mock","max_tokens":100,"messages":[{"role":"user","content":"hi"}]})";

class mockllm_test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_options opts;
    const char* bin = std::getenv("MOCKLLM_BIN");
    opts.binary = bin ? bin : "";
    if (opts.binary.empty()) ADD_FAILURE() << "MOCKLLM_BIN is not set (run through `meson test`)";
    opts.shards = 2;
    s_server = server::start(opts);
  }
  static void TearDownTestSuite() {
    if (!s_server) return;
    auto code = s_server->stop(10s);
    EXPECT_EQ(code, 0) << "mockllm did not exit 0 on SIGTERM\n" << s_server->proc().err_text();
    s_server.reset();
  }
  void SetUp() override { ASSERT_NE(s_server, nullptr) << "mockllm failed to start"; }

  uint16_t port() const { return s_server->port(); }

  client connect() {
    client c;
    EXPECT_TRUE(c.connect(port())) << c.last_error();
    return c;
  }
  // One request on a fresh connection.
  std::optional<http_response> exchange(const std::string& request) {
    client c = connect();
    if (!c.send(request)) return std::nullopt;
    auto r = c.read_response(10s);
    EXPECT_TRUE(r) << c.last_error();
    return r;
  }
  std::unique_ptr<json> stats() {
    auto r = http_get(port(), "/mock/stats");
    if (!r || r->status != 200) return nullptr;
    return parse(r->body);
  }
  void reset() {
    auto r = exchange(post("/mock/reset", ""));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
  }
  uint64_t stat(std::string_view key) {
    auto s = stats();
    if (!s) return UINT64_MAX;
    return uint64_t(s->root[key]);
  }

  static inline std::unique_ptr<server> s_server;
};

TEST_F(mockllm_test, chat_completion_has_openai_shape) {
  auto r = exchange(post("/v1/chat/completions", chat_body, "x-mock-words: 7\r\n"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->header("content-type"), "application/json");
  auto j = parse(r->body);
  ASSERT_TRUE(j) << r->body;
  auto& d = j->root;
  EXPECT_TRUE(std::string_view(d["id"]).starts_with("chatcmpl-mock-"));
  EXPECT_EQ(std::string_view(d["object"]), "chat.completion");
  EXPECT_GT(int64_t(d["created"]), 0);
  EXPECT_EQ(std::string_view(d["model"]), "mock-small");
  auto choice = d["choices"].at(0);
  EXPECT_EQ(std::string_view(choice["message"]["role"]), "assistant");
  std::string_view content = choice["message"]["content"];
  EXPECT_EQ(content, "the quick brown fox jumps over lazy");
  EXPECT_EQ(std::string_view(choice["finish_reason"]), "stop");
  EXPECT_EQ(uint64_t(d["usage"]["prompt_tokens"]), chat_body.size() / 4);
  EXPECT_EQ(uint64_t(d["usage"]["completion_tokens"]), 7u);
  EXPECT_EQ(uint64_t(d["usage"]["total_tokens"]), chat_body.size() / 4 + 7);
}

TEST_F(mockllm_test, max_tokens_cuts_the_answer) {
  auto r = exchange(post("/v1/chat/completions", R"({"model":"m","max_tokens":3,"messages":[]})"));
  ASSERT_TRUE(r);
  auto j = parse(r->body);
  ASSERT_TRUE(j) << r->body;
  EXPECT_EQ(std::string_view(j->root["choices"].at(0)["message"]["content"]), "the quick brown");
  EXPECT_EQ(std::string_view(j->root["choices"].at(0)["finish_reason"]), "length");
}

TEST_F(mockllm_test, stream_has_n_chunks_and_done_without_usage) {
  auto r = exchange(post("/v1/chat/completions", stream_body, "x-mock-chunks: 5\r\n"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-type"), "text/event-stream");
  EXPECT_EQ(r->header("transfer-encoding"), "chunked");
  auto evs = events_of(r->body);
  ASSERT_EQ(evs.size(), 1u + 5 + 1 + 1) << r->body;  // role, content×5, finish, [DONE]
  EXPECT_EQ(evs.back().data, "[DONE]");
  std::string text;
  for (size_t i = 0; i + 1 < evs.size(); ++i) {
    auto j = parse(evs[i].data);
    ASSERT_TRUE(j) << evs[i].data;
    EXPECT_EQ(std::string_view(j->root["object"]), "chat.completion.chunk");
    EXPECT_NE(j->root["usage"].error(), simdjson::SUCCESS) << "usage without include_usage";
    auto delta = j->root["choices"].at(0)["delta"];
    if (i == 0) {
      EXPECT_EQ(std::string_view(delta["role"]), "assistant");
    } else if (i <= 5) {
      text += std::string_view(delta["content"]);
    } else {
      EXPECT_EQ(std::string_view(j->root["choices"].at(0)["finish_reason"]), "stop");
    }
  }
  auto full = exchange(post("/v1/chat/completions", chat_body));
  ASSERT_TRUE(full);
  auto j = parse(full->body);
  ASSERT_TRUE(j);
  EXPECT_EQ(text, std::string_view(j->root["choices"].at(0)["message"]["content"]));
}

TEST_F(mockllm_test, stream_include_usage_adds_a_usage_chunk) {
  constexpr std::string_view body =
      R"({"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[]})";
  auto r = exchange(post("/v1/chat/completions", body, "x-mock-chunks: 3\r\n"));
  ASSERT_TRUE(r);
  auto evs = events_of(r->body);
  ASSERT_EQ(evs.size(), 1u + 3 + 1 + 1 + 1) << r->body;  // role, content×3, finish, usage, DONE
  EXPECT_EQ(evs.back().data, "[DONE]");
  for (size_t i = 0; i + 2 < evs.size(); ++i) {
    auto j = parse(evs[i].data);
    ASSERT_TRUE(j);
    EXPECT_TRUE(j->root["usage"].is_null()) << evs[i].data;
  }
  auto u = parse(evs[evs.size() - 2].data);
  ASSERT_TRUE(u);
  EXPECT_EQ(simdjson::dom::array(u->root["choices"]).size(), 0u);
  EXPECT_EQ(uint64_t(u->root["usage"]["completion_tokens"]), 24u);
  EXPECT_EQ(uint64_t(u->root["usage"]["prompt_tokens"]), body.size() / 4);
}

TEST_F(mockllm_test, embeddings_one_per_input) {
  auto r = exchange(post("/v1/embeddings", R"({"model":"mock-embed","input":["a","b","c"]})"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto j = parse(r->body);
  ASSERT_TRUE(j) << r->body;
  EXPECT_EQ(std::string_view(j->root["object"]), "list");
  EXPECT_EQ(std::string_view(j->root["model"]), "mock-embed");
  simdjson::dom::array data = j->root["data"];
  ASSERT_EQ(data.size(), 3u);
  uint64_t index = 0;
  for (auto item : data) {
    EXPECT_EQ(std::string_view(item["object"]), "embedding");
    EXPECT_EQ(uint64_t(item["index"]), index++);
    EXPECT_EQ(simdjson::dom::array(item["embedding"]).size(), 8u);
  }
  EXPECT_GT(uint64_t(j->root["usage"]["prompt_tokens"]), 0u);

  auto b =
      exchange(post("/v1/embeddings", R"({"model":"e","input":"x","encoding_format":"base64"})"));
  ASSERT_TRUE(b);
  auto jb = parse(b->body);
  ASSERT_TRUE(jb) << b->body;
  std::string_view b64 = jb->root["data"].at(0)["embedding"];
  EXPECT_EQ(b64.size(), 44u);  // 8 float32 = 32 bytes
}

TEST_F(mockllm_test, models_lists_the_mock_models) {
  auto r = http_get(port(), "/v1/models");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  auto j = parse(r->body);
  ASSERT_TRUE(j);
  std::vector<std::string> ids;
  for (auto m : simdjson::dom::array(j->root["data"])) ids.emplace_back(std::string_view(m["id"]));
  EXPECT_EQ(ids, (std::vector<std::string>{"mock-small", "mock-large", "mock-embed"}));
}

TEST_F(mockllm_test, anthropic_message_and_tool_use) {
  auto r = exchange(post("/v1/messages", messages_body, "x-api-key: sk-ant-test\r\n"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto j = parse(r->body);
  ASSERT_TRUE(j) << r->body;
  EXPECT_TRUE(std::string_view(j->root["id"]).starts_with("msg_mock_"));
  EXPECT_EQ(std::string_view(j->root["type"]), "message");
  EXPECT_EQ(std::string_view(j->root["role"]), "assistant");
  EXPECT_EQ(std::string_view(j->root["model"]), "claude-mock");
  EXPECT_EQ(std::string_view(j->root["content"].at(0)["type"]), "text");
  EXPECT_EQ(std::string_view(j->root["stop_reason"]), "end_turn");
  EXPECT_TRUE(j->root["stop_sequence"].is_null());
  EXPECT_EQ(uint64_t(j->root["usage"]["output_tokens"]), 24u);

  constexpr std::string_view with_tools =
      R"({"model":"c","max_tokens":9,"messages":[],"tools":[{"name":"get_weather","input_schema":{"type":"object"}}]})";
  auto t = exchange(post("/v1/messages", with_tools, "x-mock-words: 2\r\n"));
  ASSERT_TRUE(t);
  auto jt = parse(t->body);
  ASSERT_TRUE(jt) << t->body;
  auto tool = jt->root["content"].at(1);
  EXPECT_EQ(std::string_view(tool["type"]), "tool_use");
  EXPECT_TRUE(std::string_view(tool["id"]).starts_with("toolu_mock_"));
  EXPECT_EQ(std::string_view(tool["name"]), "get_weather");
  EXPECT_EQ(std::string_view(jt->root["stop_reason"]), "tool_use");
}

TEST_F(mockllm_test, anthropic_stream_event_order) {
  constexpr std::string_view body =
      R"({"model":"c","stream":true,"max_tokens":50,"messages":[],"tools":[{"name":"lookup"}]})";
  auto r = exchange(post("/v1/messages", body, "x-mock-chunks: 2\r\n"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  std::vector<std::string> names;
  for (const auto& e : events_of(r->body)) {
    names.push_back(e.name);
    auto j = parse(e.data);
    ASSERT_TRUE(j) << e.data;
    EXPECT_EQ(std::string_view(j->root["type"]), e.name);
  }
  EXPECT_EQ(names,
            (std::vector<std::string>{
                "message_start", "content_block_start", "ping", "content_block_delta",
                "content_block_delta", "content_block_stop", "content_block_start",
                "content_block_delta", "content_block_stop", "message_delta", "message_stop"}));
  EXPECT_NE(r->body.find(R"("stop_reason":"tool_use")"), std::string::npos);
  EXPECT_NE(r->body.find(R"("name":"lookup")"), std::string::npos);
}

TEST_F(mockllm_test, stats_reflect_the_last_request) {
  reset();
  std::string text(5000, 'a');  // more than the 4 KiB of body kept
  std::string body = R"({"model":"m","messages":[{"role":"user","content":")" + text + "\"}]}";
  auto r = exchange(
      post("/v1/chat/completions", body, "Authorization: Bearer sk-upstream\r\nX-Trace: abc\r\n"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto s = stats();
  ASSERT_TRUE(s);
  EXPECT_EQ(uint64_t(s->root["requests_total"]), 1u);
  EXPECT_EQ(uint64_t(s->root["requests_by_path"]["/v1/chat/completions"]), 1u);
  EXPECT_EQ(uint64_t(s->root["in_flight"]), 0u);
  EXPECT_EQ(uint64_t(s->root["in_flight_max"]), 1u);
  EXPECT_GE(uint64_t(s->root["connections_accepted"]), 1u);
  auto last = s->root["last_request"];
  EXPECT_EQ(std::string_view(last["method"]), "POST");
  EXPECT_EQ(std::string_view(last["path"]), "/v1/chat/completions");
  std::vector<std::pair<std::string, std::string>> headers;
  for (auto h : simdjson::dom::array(last["headers"])) {
    headers.emplace_back(std::string_view(h.at(0)), std::string_view(h.at(1)));
  }
  std::vector<std::pair<std::string, std::string>> expected = {
      {"Host", "gateway.test"},
      {"Content-Type", "application/json"},
      {"Authorization", "Bearer sk-upstream"},
      {"X-Trace", "abc"},
      {"Content-Length", std::to_string(body.size())},
  };
  EXPECT_EQ(headers, expected);
  EXPECT_EQ(uint64_t(last["body_bytes"]), body.size());
  EXPECT_EQ(std::string_view(last["body"]), std::string_view(body).substr(0, 4096));
  auto j = parse(r->body);
  ASSERT_TRUE(j);
  EXPECT_EQ(uint64_t(j->root["usage"]["prompt_tokens"]), body.size() / 4);
}

// The body arrives in many reads after the head (httpd keeps the head's bytes alive meanwhile).
TEST_F(mockllm_test, large_prompt_is_accepted) {
  std::string big(200 * 1024, 'a');
  std::string body = R"({"model":"m","messages":[{"role":"user","content":")" + big + "\"}]}";
  auto r = exchange(post("/v1/chat/completions", body));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto j = parse(r->body);
  ASSERT_TRUE(j);
  EXPECT_EQ(uint64_t(j->root["usage"]["prompt_tokens"]), body.size() / 4);
}

TEST_F(mockllm_test, in_flight_max_counts_concurrent_requests) {
  reset();
  constexpr size_t n = 5;
  std::vector<client> clients;
  for (size_t i = 0; i < n; ++i) {
    // Held before the head until the client leaves (the mock watches the connection meanwhile).
    clients.push_back(connect());
    ASSERT_TRUE(clients.back().send(
        post("/v1/chat/completions", chat_body, "x-mock-first-byte-ms: 60000\r\n")));
  }
  auto deadline = steady::now() + 5s;
  while (stat("in_flight") != n && steady::now() < deadline) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(stat("in_flight"), n);
  EXPECT_EQ(stat("in_flight_max"), n);
  for (auto& c : clients) c.close();
  deadline = steady::now() + 5s;
  while (stat("in_flight") != 0 && steady::now() < deadline) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(stat("in_flight"), 0u);
  EXPECT_EQ(stat("in_flight_max"), n);  // a maximum: it stays until the next reset
  reset();
  EXPECT_EQ(stat("in_flight_max"), 0u);
}

TEST_F(mockllm_test, command_line_defaults_shape_every_answer) {
  server_options opts;
  const char* bin = std::getenv("MOCKLLM_BIN");
  opts.binary = bin ? bin : "";
  opts.shards = 1;
  opts.args = {"--chunks", "3", "--words", "6", "--delay-ms", "30", "--first-byte-ms", "50"};
  auto mock = server::start(opts);
  ASSERT_NE(mock, nullptr);
  auto ask = [&](std::string_view body, std::string_view headers = "") {
    client c;
    EXPECT_TRUE(c.connect(mock->port()) && c.send(post("/v1/chat/completions", body, headers)));
    return c.read_response(10s);
  };
  auto start = steady::now();
  auto s = ask(stream_body);
  ASSERT_TRUE(s);
  auto evs = events_of(s->body);
  EXPECT_EQ(count_content_chunks(evs), 3u) << s->body;  // --chunks
  std::string text;
  for (const auto& e : evs) {
    if (auto j = parse(e.data)) {
      std::string_view piece;
      if (!j->root["choices"].at(0)["delta"]["content"].get(piece)) text += piece;
    }
  }
  EXPECT_EQ(text, "the quick brown fox jumps over");  // --words
  // --first-byte-ms before the head, --delay-ms before each of the 3 events: at least this long.
  EXPECT_GE(steady::now() - start, 50ms + 3 * 30ms);
  auto full = ask(chat_body);
  ASSERT_TRUE(full);
  auto j = parse(full->body);
  ASSERT_TRUE(j) << full->body;
  EXPECT_EQ(uint64_t(j->root["usage"]["completion_tokens"]), 6u);
  // Per-request headers override the flags.
  auto over =
      ask(stream_body, "x-mock-chunks: 2\r\nx-mock-delay-ms: 0\r\nx-mock-first-byte-ms: 0\r\n");
  ASSERT_TRUE(over);
  EXPECT_EQ(count_content_chunks(events_of(over->body)), 2u);
  EXPECT_EQ(mock->stop(10s), 0);
}

TEST(mockllm_cli, bad_flags_are_refused_with_a_clear_message) {
  const char* bin = std::getenv("MOCKLLM_BIN");
  ASSERT_NE(bin, nullptr);
  struct bad {
    std::vector<std::string> args;
    std::string message;
  };
  for (const bad& b : {bad{{"--chunks", "x"}, "mockllm: --chunks: expected 0..1048576"},
                       bad{{"--delay-ms", "600001"}, "mockllm: --delay-ms: expected 0..600000"},
                       bad{{"--first-byte-ms=-1"}, "mockllm: --first-byte-ms: expected 0..600000"},
                       bad{{"--words"}, "mockllm: --words needs a value (see --help)"},
                       bad{{"--nope"}, "mockllm: unknown argument: --nope (see --help)"}}) {
    std::vector<std::string> argv = {bin};
    argv.insert(argv.end(), b.args.begin(), b.args.end());
    auto r = run_to_exit(argv);
    ASSERT_TRUE(r.exit_code) << b.message;
    EXPECT_EQ(*r.exit_code, 2) << b.message;
    EXPECT_EQ(r.err, b.message + "\n");
  }
  auto help = run_to_exit({bin, "--help"});
  ASSERT_TRUE(help.exit_code);
  EXPECT_EQ(*help.exit_code, 0);
  for (const char* flag : {"--chunks", "--delay-ms", "--first-byte-ms", "--words"}) {
    EXPECT_NE(help.out.find(flag), std::string::npos) << flag;
  }
}

TEST_F(mockllm_test, injected_status_with_retry_after) {
  reset();
  auto r = exchange(post("/v1/chat/completions", chat_body,
                         "x-mock-status: 503\r\nx-mock-retry-after: 2\r\n"
                         "x-mock-retry-after-ms: 150\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->header("retry-after"), "2");
  EXPECT_EQ(r->header("retry-after-ms"), "150");
  auto j = parse(r->body);
  ASSERT_TRUE(j) << r->body;
  EXPECT_EQ(std::string_view(j->root["error"]["type"]), "server_error");

  auto custom = exchange(post("/v1/chat/completions", chat_body,
                              "x-mock-status: 429\r\nx-mock-error-body: {\"custom\":1}\r\n"));
  ASSERT_TRUE(custom);
  EXPECT_EQ(custom->status, 429);
  EXPECT_EQ(custom->body, R"({"custom":1})");

  auto anthropic = exchange(post("/v1/messages", messages_body, "x-mock-status: 529\r\n"));
  ASSERT_TRUE(anthropic);
  EXPECT_EQ(anthropic->status, 529);
  auto ja = parse(anthropic->body);
  ASSERT_TRUE(ja) << anthropic->body;
  EXPECT_EQ(std::string_view(ja->root["type"]), "error");
  EXPECT_EQ(std::string_view(ja->root["error"]["type"]), "overloaded_error");
  EXPECT_EQ(stat("faults_injected"), 3u);
}

TEST_F(mockllm_test, armed_faults_apply_to_the_next_n_requests_on_every_shard) {
  reset();
  auto armed = exchange(post("/mock/arm", "",
                             "x-mock-arm-count: 3\r\nx-mock-status: 503\r\n"
                             "x-mock-retry-after-ms: 40\r\n"));
  ASSERT_TRUE(armed);
  EXPECT_EQ(armed->status, 200);
  EXPECT_EQ(armed->body, R"({"ok":true,"armed":3})");
  // Fresh connections land on either shard: the count is shared.
  for (int i = 0; i < 3; ++i) {
    auto r = exchange(post("/v1/chat/completions", chat_body));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503) << i;
    EXPECT_EQ(r->header("retry-after-ms"), "40");
  }
  auto r = exchange(post("/v1/chat/completions", chat_body));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  // A fault (not only a status), disarmed before it is used up.
  exchange(post("/mock/arm", "", "x-mock-arm-count: 5\r\nx-mock-fault: close-before-headers\r\n"));
  client c = connect();
  ASSERT_TRUE(c.send(post("/v1/chat/completions", chat_body)));
  EXPECT_TRUE(c.wait_closed(5s));
  exchange(post("/mock/arm", "", "x-mock-arm-count: 0\r\n"));
  r = exchange(post("/v1/chat/completions", chat_body));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  auto bad = exchange(post("/mock/arm", "", "x-mock-status: 503\r\n"));
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);  // no count
  bad = exchange(post("/mock/arm", "", "x-mock-arm-count: 1\r\nx-mock-fault: nope\r\n"));
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
}

TEST_F(mockllm_test, a_client_leaving_during_a_delay_counts_as_abandoned) {
  reset();
  client c = connect();
  ASSERT_TRUE(c.send(post("/v1/chat/completions", chat_body, "x-mock-first-byte-ms: 20000\r\n")));
  auto deadline = steady::now() + 5s;
  while (stat("in_flight") != 1 && steady::now() < deadline) std::this_thread::sleep_for(10ms);
  c.close();
  while (stat("requests_abandoned") != 1 && steady::now() < deadline + 5s) {
    std::this_thread::sleep_for(10ms);  // polling, not an assertion
  }
  EXPECT_EQ(stat("requests_abandoned"), 1u);
  EXPECT_EQ(stat("in_flight"), 0u);
}

TEST_F(mockllm_test, close_before_headers) {
  client c = connect();
  ASSERT_TRUE(
      c.send(post("/v1/chat/completions", chat_body, "x-mock-fault: close-before-headers\r\n")));
  EXPECT_TRUE(c.wait_closed(5s)) << c.last_error();
  EXPECT_EQ(c.buffered(), "");
  EXPECT_EQ(c.last_error(), "") << "expected a clean close (FIN), not a reset";
}

TEST_F(mockllm_test, reset_after_k_chunks) {
  client c = connect();
  ASSERT_TRUE(c.send(post("/v1/chat/completions", stream_body,
                          "x-mock-fault: reset-after:3\r\nx-mock-chunks: 8\r\n")));
  EXPECT_TRUE(c.wait_closed(5s));
  EXPECT_EQ(c.last_error(), "connection reset by peer");
  auto p = decode_partial(c.buffered());
  EXPECT_EQ(p.status, 200);
  EXPECT_FALSE(p.terminated);
  EXPECT_EQ(count_content_chunks(events_of(p.body)), 3u) << p.body;
}

TEST_F(mockllm_test, stall_then_client_close_is_noticed) {
  reset();
  client c = connect();
  ASSERT_TRUE(c.send(post("/v1/chat/completions", stream_body,
                          "x-mock-fault: stall-after:2\r\nx-mock-chunks: 6\r\n")));
  EXPECT_FALSE(c.wait_closed(500ms)) << "the stalled stream must stay open";
  auto p = decode_partial(c.buffered());
  EXPECT_FALSE(p.terminated);
  EXPECT_EQ(count_content_chunks(events_of(p.body)), 2u) << p.body;
  EXPECT_EQ(stat("in_flight"), 1u);
  c.close();
  auto deadline = steady::now() + 5s;
  while (stat("in_flight") != 0 && steady::now() < deadline) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(stat("in_flight"), 0u) << "the mock did not notice the client leaving";
  EXPECT_EQ(stat("faults_injected"), 1u);
}

TEST_F(mockllm_test, eof_after_ends_the_body_without_done) {
  client c = connect();
  ASSERT_TRUE(c.send(post("/v1/chat/completions", stream_body,
                          "x-mock-fault: eof-after:2\r\nx-mock-chunks: 5\r\n")));
  auto r = c.read_response(5s);
  ASSERT_TRUE(r) << c.last_error();  // a complete chunked body…
  auto evs = events_of(r->body);
  EXPECT_EQ(count_content_chunks(evs), 2u);
  EXPECT_EQ(r->body.find("[DONE]"), std::string::npos);  // …without the SSE terminator
  EXPECT_EQ(r->body.find(R"("finish_reason":"stop")"), std::string::npos);
  // The framing is intact, so the connection stays usable.
  ASSERT_TRUE(c.send(post("/v1/chat/completions", chat_body)));
  auto again = c.read_response(5s);
  ASSERT_TRUE(again) << c.last_error();
  EXPECT_EQ(again->status, 200);
}

TEST_F(mockllm_test, close_after_leaves_the_chunked_body_open) {
  client c = connect();
  ASSERT_TRUE(c.send(post("/v1/chat/completions", stream_body, "x-mock-fault: close-after:1\r\n")));
  EXPECT_TRUE(c.wait_closed(5s));
  EXPECT_EQ(c.last_error(), "");
  auto p = decode_partial(c.buffered());
  EXPECT_EQ(p.status, 200);
  EXPECT_FALSE(p.terminated);
  EXPECT_EQ(count_content_chunks(events_of(p.body)), 1u);
}

TEST_F(mockllm_test, malformed_json) {
  auto r = exchange(post("/v1/chat/completions", chat_body, "x-mock-fault: malformed-json\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_FALSE(parse(r->body)) << r->body;

  auto s = exchange(post("/v1/chat/completions", stream_body, "x-mock-fault: malformed-json\r\n"));
  ASSERT_TRUE(s);
  EXPECT_NE(s->body.find("data: {not json\n\n"), std::string::npos);
  EXPECT_TRUE(s->body.ends_with("data: [DONE]\n\n"));
}

TEST_F(mockllm_test, oversized_line) {
  constexpr size_t line_bytes = 2 << 20;
  auto r = exchange(post("/v1/chat/completions", stream_body,
                         "x-mock-fault: oversized-line:" + std::to_string(line_bytes) + "\r\n"));
  ASSERT_TRUE(r);
  size_t longest = 0;
  std::string_view body = r->body;
  for (size_t pos = 0; pos < body.size();) {
    size_t nl = body.find('\n', pos);
    if (nl == std::string_view::npos) nl = body.size();
    longest = std::max(longest, nl - pos);
    pos = nl + 1;
  }
  EXPECT_EQ(longest, line_bytes);
  EXPECT_TRUE(r->body.ends_with("data: [DONE]\n\n"));
}

TEST_F(mockllm_test, delays_pace_the_answer) {
  auto start = steady::now();
  auto r = exchange(post("/v1/chat/completions", chat_body, "x-mock-fault: delay-headers:150\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_GE(steady::now() - start, 150ms);

  start = steady::now();
  auto s =
      exchange(post("/v1/chat/completions", stream_body,
                    "x-mock-chunks: 4\r\nx-mock-delay-ms: 40\r\nx-mock-first-byte-ms: 20\r\n"));
  ASSERT_TRUE(s);
  EXPECT_EQ(count_content_chunks(events_of(s->body)), 4u);
  EXPECT_GE(steady::now() - start, 180ms);
}

TEST_F(mockllm_test, errors_are_openai_shaped) {
  auto nf = exchange(post("/v1/nothing", "{}"));
  ASSERT_TRUE(nf);
  EXPECT_EQ(nf->status, 404);
  EXPECT_TRUE(nf->body.starts_with(R"({"error":{"message":)")) << nf->body;
  auto bad_json = exchange(post("/v1/chat/completions", "{not json"));
  ASSERT_TRUE(bad_json);
  EXPECT_EQ(bad_json->status, 400);
  auto bad_fault = exchange(post("/v1/chat/completions", chat_body, "x-mock-fault: nope\r\n"));
  ASSERT_TRUE(bad_fault);
  EXPECT_EQ(bad_fault->status, 400);
  auto wrong_method = http_get(port(), "/v1/chat/completions");
  ASSERT_TRUE(wrong_method);
  EXPECT_EQ(wrong_method->status, 405);
}

TEST_F(mockllm_test, keep_alive_and_pipelining) {
  client c = connect();
  std::string batch = post("/v1/chat/completions", stream_body, "x-mock-chunks: 2\r\n") +
                      post("/v1/chat/completions", chat_body) + get_request("/v1/models");
  ASSERT_TRUE(c.send(batch));
  auto a = c.read_response(5s);
  auto b = c.read_response(5s);
  auto m = c.read_response(5s);
  ASSERT_TRUE(a && b && m) << c.last_error();
  EXPECT_TRUE(a->body.ends_with("data: [DONE]\n\n"));
  EXPECT_TRUE(parse(b->body));
  EXPECT_TRUE(parse(m->body));
  EXPECT_FALSE(m->connection_close());
}

}  // namespace
}  // namespace rg::itest
