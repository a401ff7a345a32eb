// The upstream client through the gateway, each test with its own mockllm and a one-shard ringgate
// configured for it: connection reuse (exactly one upstream connection), the pool's idle_max,
// idle timeout and connections_max (waiting, then 503), the connect, first-byte and total
// deadlines, and the startup error for a host that does not resolve.
// What reached the upstream is read from mockllm's /mock/stats.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "black_hole.hpp"
#include "mock_util.hpp"

namespace rg::itest {
namespace {

constexpr std::string_view chat_body =
    R"({"model":"mock-small","messages":[{"role":"user","content":"hello"}]})";
constexpr std::string_view stream_body =
    R"({"model":"mock-small","stream":true,"messages":[{"role":"user","content":"hello"}]})";

// No [[keys]]: these tests are about the upstream client, not governance.
std::string gateway_config(uint16_t upstream_port, std::string_view provider_extra) {
  return R"(
[auth]
required = false

[[providers]]
name = "mock"
kind = "openai"
base_url = "http://127.0.0.1:)" +
         std::to_string(upstream_port) + R"(/v1"
api_key = "sk-upstream-test"
forward_headers = ["x-mock-*"]
)" + std::string(provider_extra) +
         R"(
[[models]]
name = "mock-small"
targets = [{ provider = "mock", model = "mock-small" }]
)";
}

// Sends `request` on a new connection and leaves the answer to be read later.
client send_on_new_connection(uint16_t port, const std::string& request) {
  client c;
  EXPECT_TRUE(c.connect(port) && c.send(request)) << c.last_error();
  return c;
}

// The OpenAI error body's message and code ("" when the body is not one).
std::pair<std::string, std::string> error_of(const http_response& r) {
  auto j = parse_json(r.body);
  std::string_view msg, code;
  if (!j || j->root["error"]["message"].get(msg) || j->root["error"]["code"].get(code)) return {};
  return {std::string(msg), std::string(code)};
}

class upstream_test : public ::testing::Test {
 protected:
  void SetUp() override {
    _mock = start_mock();
    ASSERT_NE(_mock, nullptr) << "mockllm failed to start";
    _probe = std::make_unique<mock_probe>(_mock->port());
    _probe->reset();  // from here on, the probe's own connection is not among those counted
  }
  void TearDown() override {
    if (_gw) {
      EXPECT_EQ(_gw->stop(10s), 0) << _gw->proc().err_text();
    }
    if (_mock) {
      EXPECT_EQ(_mock->stop(10s), 0) << _mock->proc().err_text();
    }
  }
  // Starts the gateway in front of `upstream_port` (the mock by default).
  void start_gateway(std::string_view provider_extra, uint16_t upstream_port = 0) {
    server_options o;
    o.shards = 1;  // one shard: one pool, so every count below is exact
    o.config_toml = gateway_config(upstream_port ? upstream_port : _mock->port(), provider_extra);
    _gw = server::start(o);
    ASSERT_NE(_gw, nullptr);
  }
  mock_probe& mock() { return *_probe; }
  std::optional<http_response> via_gateway(std::string_view body, std::string_view headers = "") {
    return roundtrip(_gw->port(), post_request("/v1/chat/completions", body, headers));
  }

  std::unique_ptr<server> _mock;
  std::unique_ptr<mock_probe> _probe;
  std::unique_ptr<server> _gw;
};

TEST_F(upstream_test, sequential_requests_reuse_exactly_one_upstream_connection) {
  start_gateway("");
  client c;
  ASSERT_TRUE(c.connect(_gw->port()));
  for (int i = 0; i < 10; ++i) {
    // The gateway releases the upstream connection before it reads the client's next request,
    // so each request finds it idle: no second connection is ever needed.
    ASSERT_TRUE(c.send(post_request("/v1/chat/completions", i % 2 ? chat_body : stream_body)));
    auto r = c.read_response(10s);
    ASSERT_TRUE(r) << c.last_error();
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_EQ(mock().stat("requests_total"), 10u);
  EXPECT_EQ(mock().stat("connections_accepted"), 1u);
}

TEST_F(upstream_test, idle_max_bounds_the_connections_kept_open) {
  start_gateway("pool = { idle_max = 2 }\n");
  std::vector<client> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(send_on_new_connection(
        _gw->port(),
        post_request("/v1/chat/completions", chat_body, "x-mock-first-byte-ms: 3000\r\n")));
  }
  // All four in flight at once: four upstream connections.
  EXPECT_EQ(mock().wait_for("in_flight", 4, 3s), 4u);
  for (auto& c : clients) {
    auto r = c.read_response(10s);
    ASSERT_TRUE(r) << c.last_error();
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_EQ(mock().stat("connections_accepted"), 4u);
  // Released, two stay idle and two are closed: open are those two and the probe's.
  EXPECT_EQ(mock().wait_for("connections_open", 2 + 1), 2u + 1);
}

TEST_F(upstream_test, an_idle_connection_is_closed_after_the_idle_timeout) {
  start_gateway("pool = { idle_timeout_ms = 200 }\n");
  auto r = via_gateway(chat_body);
  ASSERT_TRUE(r && r->status == 200);
  // Only the probe's connection remains once the pool closed its idle one.
  EXPECT_EQ(mock().wait_for("connections_open", 1), 1u);
  r = via_gateway(chat_body);  // and the next request simply connects again
  ASSERT_TRUE(r && r->status == 200);
  EXPECT_EQ(mock().stat("requests_total"), 2u);
  EXPECT_EQ(mock().stat("connections_accepted"), 2u);
}

TEST_F(upstream_test, connections_max_caps_the_upstream_connections) {
  // Requests beyond the cap wait (up to connect_timeout_ms) for a connection to come free.
  start_gateway("connect_timeout_ms = 20000\npool = { connections_max = 2, idle_max = 2 }\n");
  std::vector<client> clients;
  for (int i = 0; i < 6; ++i) {
    clients.push_back(send_on_new_connection(
        _gw->port(),
        post_request("/v1/chat/completions", chat_body, "x-mock-first-byte-ms: 300\r\n")));
  }
  for (auto& c : clients) {
    auto r = c.read_response(20s);
    ASSERT_TRUE(r) << c.last_error();
    EXPECT_EQ(r->status, 200) << r->body;
  }
  EXPECT_EQ(mock().stat("requests_total"), 6u);
  EXPECT_EQ(mock().stat("in_flight_max"), 2u);
  EXPECT_EQ(mock().stat("connections_accepted"), 2u);
}

TEST_F(upstream_test, a_full_pool_answers_503_after_the_connect_timeout) {
  start_gateway("connect_timeout_ms = 300\npool = { connections_max = 1, idle_max = 1 }\n");
  const std::string exhausted =
      R"(ringgate_upstream_errors_total{provider="mock",kind="upstream_pool_exhausted"})";
  client holder = send_on_new_connection(
      _gw->port(),
      post_request("/v1/chat/completions", chat_body, "x-mock-first-byte-ms: 20000\r\n"));
  ASSERT_EQ(mock().wait_for("in_flight", 1), 1u);
  for (int i = 0; i < 2; ++i) {
    auto r = via_gateway(chat_body);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_EQ(error_of(*r), std::make_pair(std::string("upstream connection pool exhausted"),
                                           std::string("upstream_pool_exhausted")))
        << r->body;
    EXPECT_FALSE(r->header("x-request-id").empty());
  }
  EXPECT_EQ(metric_sample(scrape(_gw->admin_port()), exhausted), 2);
  // The only endpoint is not tried again: that would only wait for the same full pool.
  EXPECT_EQ(metric_sample(scrape(_gw->admin_port()),
                          R"(ringgate_retries_total{provider="mock",reason="pool_exhausted"})"),
            0);
  // The client holding the only connection leaves: the connection is closed and the slot freed.
  holder.close();
  ASSERT_EQ(mock().wait_for("in_flight", 0), 0u);
  auto r = via_gateway(chat_body);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  // Logged once: the second refusal fell within the 10 s interval (its line would count it).
  EXPECT_EQ(_gw->stop(10s), 0);
  std::string err = _gw->proc().err_text();
  _gw.reset();
  size_t first = err.find("upstream connection pool exhausted");
  EXPECT_NE(first, std::string::npos) << err;
  EXPECT_EQ(err.find("upstream connection pool exhausted", first + 1), std::string::npos) << err;
}

TEST_F(upstream_test, a_client_gone_while_waiting_leaves_the_connection_pooled) {
  start_gateway("connect_timeout_ms = 10000\npool = { connections_max = 1, idle_max = 1 }\n");
  client holder = send_on_new_connection(
      _gw->port(),
      post_request("/v1/chat/completions", chat_body, "x-mock-first-byte-ms: 1000\r\n"));
  ASSERT_EQ(mock().wait_for("in_flight", 1), 1u);
  // Waits for the only connection, and hangs up meanwhile: when the holder's answer frees the
  // connection, the waiter gets it unused and must give it back rather than close it.
  client quitter =
      send_on_new_connection(_gw->port(), post_request("/v1/chat/completions", chat_body));
  quitter.close();
  auto r = holder.read_response(10s);
  ASSERT_TRUE(r) << holder.last_error();
  EXPECT_EQ(r->status, 200);
  r = via_gateway(chat_body);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(mock().stat("requests_total"), 2u);  // the quitter's request never went upstream
  EXPECT_EQ(mock().stat("connections_accepted"), 1u);
}

TEST_F(upstream_test, first_byte_deadline) {
  start_gateway("first_byte_timeout_ms = 1000\n");
  auto slow = via_gateway(chat_body, "x-mock-fault: delay-headers:5000\r\n");
  ASSERT_TRUE(slow);
  EXPECT_EQ(slow->status, 504);
  EXPECT_EQ(error_of(*slow), std::make_pair(std::string("upstream timed out before responding"),
                                            std::string("upstream_timeout")))
      << slow->body;
  auto in_time = via_gateway(chat_body, "x-mock-fault: delay-headers:100\r\n");
  ASSERT_TRUE(in_time);
  EXPECT_EQ(in_time->status, 200) << in_time->body;
  // A stream's first byte is under the same deadline.
  auto slow_stream = via_gateway(stream_body, "x-mock-fault: delay-headers:5000\r\n");
  ASSERT_TRUE(slow_stream);
  EXPECT_EQ(slow_stream->status, 504);
}

TEST_F(upstream_test, connect_deadline_on_a_listener_that_never_answers) {
  black_hole hole;  // a connect there neither succeeds nor fails until our deadline
  ASSERT_TRUE(hole.ok());
  start_gateway("connect_timeout_ms = 300\n", hole.port());
  auto r = via_gateway(chat_body);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 504);
  EXPECT_EQ(error_of(*r), std::make_pair(std::string("upstream connect timed out"),
                                         std::string("upstream_timeout")))
      << r->body;
}

TEST_F(upstream_test, total_deadline_ends_a_slow_stream) {
  // Never silent for idle_timeout_ms, but longer than total_timeout_ms in all.
  start_gateway("idle_timeout_ms = 5000\ntotal_timeout_ms = 1000\n");
  client c = send_on_new_connection(_gw->port(),
                                    post_request("/v1/chat/completions", stream_body,
                                                 "x-mock-chunks: 100\r\nx-mock-delay-ms: 100\r\n"));
  EXPECT_TRUE(c.wait_closed(10s)) << "the gateway must close a failed stream";
  auto p = decode_partial(c.buffered());
  EXPECT_EQ(p.status, 200);
  EXPECT_FALSE(p.terminated);
  auto evs = sse_events(p.body);
  ASSERT_FALSE(evs.empty());
  EXPECT_LT(count_content_chunks(evs), 100u);
  EXPECT_NE(evs.back().data.find("upstream exceeded the total timeout"), std::string::npos)
      << evs.back().data;
  for (const auto& e : evs) EXPECT_NE(e.data, "[DONE]");
}

// The key is named too (providers may list several base_urls).
TEST(upstream_startup, a_host_that_does_not_resolve_stops_the_start_naming_provider_and_host) {
  temp_dir dir;
  std::string path = dir.write("ringgate.toml", R"(
[[providers]]
name = "far-away"
kind = "openai"
base_url = "http://no-such-host.invalid:8080/v1"
)");
  auto r = run_to_exit(
      {ringgate_bin(), "--config", path, "--listen", "127.0.0.1:0", "--admin-listen", "off"});
  ASSERT_TRUE(r.exit_code);
  EXPECT_EQ(*r.exit_code, 1);
  EXPECT_NE(
      r.err.find(
          "ringgate: providers.far-away.base_url: cannot resolve host \"no-such-host.invalid\""),
      std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace rg::itest
