// Retries, fallbacks, circuit breakers and health checks end to end: ringgate in front of
// several mockllm instances whose faults are armed for their next N requests, so every outcome
// is deterministic. What the upstreams saw comes from /mock/stats; what ringgate decided from
// /admin/providers and /metrics. Also: a retry's preference for an untried endpoint, a full
// connection pool retried elsewhere, and a health check bounded by its timeout, connect included.
#include <chrono>

#include "black_hole.hpp"
#include "resilience_util.hpp"

namespace rg::itest {
namespace {

class resilience_test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    for (auto& m : s_mocks) {
      m = start_mock();
      if (!m.srv) return;
    }
  }
  static void TearDownTestSuite() {
    for (auto& m : s_mocks) m.srv.reset();
  }
  void SetUp() override {
    for (auto& m : s_mocks) {
      ASSERT_TRUE(m.srv) << "mockllm failed to start";
      m.reset();
    }
  }
  static const mock& a() { return s_mocks[0]; }
  static const mock& b() { return s_mocks[1]; }
  static inline mock s_mocks[2];
};

// A model "m" on provider "pa" (mock a) with `retry` and provider `extra` settings.
std::string one_model(const mock& m, std::string_view retry, std::string_view extra = "") {
  return provider("pa", {m.url()}, extra) +
         "[[models]]\nname = \"m\"\ntargets = [{ provider = \"pa\", model = \"up-m\" }]\nretry = " +
         std::string(retry) + "\n";
}

constexpr std::string_view fast_retry = "{ attempts = 3, backoff_base_ms = 1, backoff_max_ms = 5 }";

TEST_F(resilience_test, a_503_then_success_is_retried) {
  auto gw = start_gateway(one_model(a(), fast_retry));
  ASSERT_TRUE(gw);
  a().arm(2, "x-mock-status: 503\r\n");
  auto r = roundtrip(gw->port(), chat("m"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(a().chats(), 3u);
  EXPECT_EQ(metric(*gw, R"(ringgate_retries_total{provider="pa",reason="status"})"), 2);
  // Attempts run out: the last upstream answer is relayed as it is.
  a().arm(3, "x-mock-status: 502\r\n");
  r = roundtrip(gw->port(), chat("m"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502);
  EXPECT_EQ(a().chats(), 6u);
}

TEST_F(resilience_test, retry_after_is_honoured_and_capped) {
  auto gw = start_gateway(one_model(
      a(), "{ attempts = 2, backoff_base_ms = 1, backoff_max_ms = 1, max_retry_after_ms = 1500 }"));
  ASSERT_TRUE(gw);
  // retry-after-ms under the cap: waited, then retried.
  a().arm(1, "x-mock-status: 429\r\nx-mock-retry-after-ms: 300\r\n");
  auto t0 = steady::now();
  auto r = roundtrip(gw->port(), chat("m"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_GE(steady::now() - t0, 300ms) << "the retry came before the upstream's retry-after-ms";
  EXPECT_EQ(a().chats(), 2u);
  // Retry-After in seconds, under the cap.
  a().arm(1, "x-mock-status: 503\r\nx-mock-retry-after: 1\r\n");
  t0 = steady::now();
  r = roundtrip(gw->port(), chat("m"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_GE(steady::now() - t0, 1000ms);
  EXPECT_EQ(a().chats(), 4u);
  // Over the cap, and no other endpoint: the client gets the answer and its Retry-After.
  a().arm(1, "x-mock-status: 429\r\nx-mock-retry-after: 30\r\n");
  r = roundtrip(gw->port(), chat("m"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(r->header("retry-after"), "30");
  EXPECT_EQ(a().chats(), 5u);
}

TEST_F(resilience_test, statuses_that_mean_a_bad_request_are_never_retried) {
  auto gw = start_gateway(one_model(a(), fast_retry));
  ASSERT_TRUE(gw);
  uint64_t seen = 0;
  for (int status : {400, 401, 403, 404, 413, 422}) {
    a().arm(1, "x-mock-status: " + std::to_string(status) + "\r\n");
    auto r = roundtrip(gw->port(), chat("m"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status);
    EXPECT_EQ(a().chats(), ++seen) << status << " was sent more than once";
  }
}

TEST_F(resilience_test, no_retry_once_a_byte_reached_the_client) {
  auto gw = start_gateway(one_model(a(), fast_retry));
  ASSERT_TRUE(gw);
  a().arm(1, "x-mock-fault: reset-after:2\r\n");
  client c;
  ASSERT_TRUE(c.connect(gw->port()));
  ASSERT_TRUE(c.send(stream_chat("m", "x-mock-chunks: 6\r\n")));
  ASSERT_TRUE(c.wait_closed(10s));
  partial_stream p = decode_partial(c.buffered());
  EXPECT_EQ(p.status, 200);
  EXPECT_FALSE(p.terminated);
  auto evs = sse_events(p.body);
  ASSERT_FALSE(evs.empty());
  EXPECT_EQ(count_content_chunks(evs), 2u);
  EXPECT_NE(evs.back().data.find(R"("error")"), std::string::npos) << p.body;
  for (const auto& e : evs) EXPECT_NE(e.data, "[DONE]");
  EXPECT_EQ(a().chats(), 1u) << "a stream that had started must not be retried";
}

TEST_F(resilience_test, a_connect_failure_is_retried_on_another_endpoint) {
  // Port 1 on loopback refuses at once: the first endpoint of the pool never answers.
  auto gw = start_gateway(
      provider("pa", {"http://127.0.0.1:1/v1", a().url()}) +
      "[[models]]\nname = \"m\"\ntargets = [{ provider = \"pa\", model = \"up-m\" }]\n"
      "retry = " +
      std::string(fast_retry) + "\n");
  ASSERT_TRUE(gw);
  for (int i = 0; i < 6; ++i) {
    auto r = roundtrip(gw->port(), chat("m"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
  }
  EXPECT_EQ(a().chats(), 6u);
  EXPECT_GE(metric(*gw, R"(ringgate_retries_total{provider="pa",reason="connect_error"})"), 1);
}

TEST_F(resilience_test, a_429_fails_over_to_the_fallback_model_with_its_upstream_model) {
  std::string toml = provider("pa", {a().url()}) + provider("pb", {b().url()}) + R"(
[[models]]
name = "primary"
targets = [{ provider = "pa", model = "primary-upstream" }]
fallbacks = ["backup"]
retry = { attempts = 2, backoff_base_ms = 1, backoff_max_ms = 1 }

[[models]]
name = "backup"
targets = [{ provider = "pb", model = "backup-upstream" }]
)";
  auto gw = start_gateway(toml);
  ASSERT_TRUE(gw);
  a().arm(100, "x-mock-status: 429\r\n");
  auto r = roundtrip(gw->port(), chat("primary"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(a().chats(), 2u);
  EXPECT_EQ(b().chats(), 1u);
  // The fallback's body names the fallback's upstream model (spliced per attempt).
  EXPECT_NE(b().last_body().find(R"("model":"backup-upstream")"), std::string::npos)
      << b().last_body();
  EXPECT_NE(a().last_body().find(R"("model":"primary-upstream")"), std::string::npos);
  EXPECT_EQ(metric(*gw, R"(ringgate_fallbacks_total{model="primary"})"), 1);
  // A bad request does not fail over.
  a().arm(1, "x-mock-status: 400\r\n");
  r = roundtrip(gw->port(), chat("primary"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(b().chats(), 1u);
}

TEST_F(resilience_test, the_circuit_opens_half_opens_after_the_cooldown_and_closes_on_success) {
  auto gw = start_gateway(
      one_model(a(), "{ attempts = 1 }",
                "circuit = { failures = 3, failure_rate_percent = 0, cooldown_ms = 400 }"));
  ASSERT_TRUE(gw);
  const std::string state_series =
      R"(ringgate_circuit_state{provider="pa",endpoint=")" + a().url() + R"("})";
  EXPECT_EQ(circuit(*gw, "pa"), "closed");
  a().arm(3, "x-mock-status: 503\r\n");
  for (int i = 0; i < 3; ++i) {
    auto r = roundtrip(gw->port(), chat("m"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
  }
  EXPECT_EQ(circuit(*gw, "pa"), "open");
  EXPECT_EQ(metric(*gw, state_series), 2);
  // Open: refused at once, OpenAI-shaped, without reaching the upstream.
  auto r = roundtrip(gw->port(), chat("m"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(error_code(*r), "upstream_unavailable");
  EXPECT_EQ(a().chats(), 3u);
  EXPECT_EQ(metric(*gw, R"(ringgate_requests_refused_total{model="m",reason="no_endpoint"})"), 1);
  // After the cooldown the next request probes; its success closes the circuit.
  ASSERT_TRUE(eventually([&] { return circuit(*gw, "pa") == "half_open"; }));
  r = roundtrip(gw->port(), chat("m"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(circuit(*gw, "pa"), "closed");
  EXPECT_EQ(metric(*gw, state_series), 0);
  const std::string to =
      R"(ringgate_circuit_transitions_total{provider="pa",endpoint=")" + a().url() + R"(",to=")";
  EXPECT_EQ(metric(*gw, to + "open\"}"), 1);
  EXPECT_EQ(metric(*gw, to + "half_open\"}"), 1);
  EXPECT_EQ(metric(*gw, to + "closed\"}"), 1);
}

TEST_F(resilience_test, a_failed_probe_opens_the_circuit_again) {
  auto gw = start_gateway(
      one_model(a(), "{ attempts = 1 }",
                "circuit = { failures = 1, failure_rate_percent = 0, cooldown_ms = 300 }"));
  ASSERT_TRUE(gw);
  a().arm(2, "x-mock-status: 500\r\n");
  auto r = roundtrip(gw->port(), chat("m"));
  ASSERT_TRUE(r && r->status == 500);
  EXPECT_EQ(circuit(*gw, "pa"), "open");
  ASSERT_TRUE(eventually([&] { return circuit(*gw, "pa") == "half_open"; }));
  r = roundtrip(gw->port(), chat("m"));  // the probe fails
  ASSERT_TRUE(r && r->status == 500);
  EXPECT_EQ(circuit(*gw, "pa"), "open");
  ASSERT_TRUE(eventually([&] { return circuit(*gw, "pa") == "half_open"; }));
  r = roundtrip(gw->port(), chat("m"));
  ASSERT_TRUE(r && r->status == 200);
  EXPECT_EQ(circuit(*gw, "pa"), "closed");
}

TEST_F(resilience_test, every_endpoint_of_every_fallback_open_fails_fast_with_503) {
  std::string toml =
      provider("pa", {a().url()}, "circuit = { failures = 1, cooldown_ms = 60000 }") +
      provider("pb", {b().url()}, "circuit = { failures = 1, cooldown_ms = 60000 }") + R"(
[[models]]
name = "primary"
targets = [{ provider = "pa", model = "x" }]
fallbacks = ["backup"]
retry = { attempts = 1 }

[[models]]
name = "backup"
targets = [{ provider = "pb", model = "y" }]
retry = { attempts = 1 }
)";
  auto gw = start_gateway(toml);
  ASSERT_TRUE(gw);
  a().arm(1, "x-mock-status: 503\r\n");
  b().arm(1, "x-mock-status: 503\r\n");
  auto r = roundtrip(gw->port(), chat("primary"));  // a fails, then its fallback b fails
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(circuit(*gw, "pa"), "open");
  EXPECT_EQ(circuit(*gw, "pb"), "open");
  r = roundtrip(gw->port(), chat("primary"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(error_code(*r), "upstream_unavailable");
  auto j = parse_json(r->body);
  std::string_view msg;
  ASSERT_TRUE(j && !j->root["error"]["message"].get(msg)) << r->body;
  EXPECT_EQ(a().chats() + b().chats(), 2u) << "nothing may reach an open circuit";
}

TEST_F(resilience_test, the_retry_budget_bounds_the_total) {
  auto gw = start_gateway(
      one_model(a(), "{ attempts = 10, backoff_base_ms = 1, backoff_max_ms = 1, budget_ms = 500 }",
                "circuit = { failures = 0, failure_rate_percent = 0 }"));
  ASSERT_TRUE(gw);
  a().arm(10, "x-mock-status: 503\r\nx-mock-retry-after-ms: 200\r\n");
  auto r = roundtrip(gw->port(), chat("m"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  // Attempts at about 0, 200 and 400 ms; one at 600 ms would start past the budget.
  EXPECT_GE(a().chats(), 2u);
  EXPECT_LE(a().chats(), 3u);
}

TEST_F(resilience_test, an_endpoint_failing_its_health_checks_gets_no_traffic) {
  auto gw = start_gateway(
      provider("pa", {a().url(), b().url()},
               "health_check = { path = \"/v1/models\", interval_ms = 50, timeout_ms = 50, "
               "unhealthy_after = 1, healthy_after = 1 }") +
      "[[models]]\nname = \"m\"\ntargets = [{ provider = \"pa\", model = \"up-m\" }]\n");
  ASSERT_TRUE(gw);
  a().arm(1'000'000, "x-mock-status: 503\r\n");  // every request: health checks fail
  ASSERT_TRUE(eventually([&] { return endpoint_field(*gw, "pa", 0, "healthy") == "false"; }));
  EXPECT_EQ(endpoint_field(*gw, "pa", 1, "healthy"), "true");
  for (int i = 0; i < 10; ++i) {
    auto r = roundtrip(gw->port(), chat("m"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_EQ(a().chats(), 0u);
  EXPECT_EQ(b().chats(), 10u);
  EXPECT_GE(metric(*gw, R"(ringgate_health_checks_total{provider="pa",endpoint=")" + a().url() +
                            R"(",result="failed"})"),
            1);
  a().arm(0, "");  // recovers
  ASSERT_TRUE(eventually([&] { return endpoint_field(*gw, "pa", 0, "healthy") == "true"; }));
}

TEST_F(resilience_test, a_retry_prefers_an_endpoint_not_tried_yet) {
  // Endpoint a fails every request; with the circuit off it stays in rotation, so only the
  // retry's preference keeps the second attempt off it.
  auto gw = start_gateway(
      provider("pa", {a().url(), b().url()},
               "circuit = { failures = 0, failure_rate_percent = 0 }") +
      "[[models]]\nname = \"m\"\ntargets = [{ provider = \"pa\", model = \"up-m\" }]\n"
      "retry = { attempts = 2, backoff_base_ms = 1, backoff_max_ms = 1 }\n");
  ASSERT_TRUE(gw);
  a().arm(1'000'000, "x-mock-status: 503\r\n");
  constexpr int n = 12;
  for (int i = 0; i < n; ++i) {
    auto r = roundtrip(gw->port(), chat("m"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << "a retry went back to the failing endpoint: " << r->body;
  }
  EXPECT_EQ(b().chats(), uint64_t(n));
  EXPECT_GE(a().chats(), 1u);  // the balancer sends first attempts there too
  EXPECT_EQ(metric(*gw, R"(ringgate_retries_total{provider="pa",reason="status"})"),
            double(a().chats()));
}

TEST_F(resilience_test, a_full_connection_pool_is_retried_on_another_endpoint) {
  // One shard, one connection per endpoint: while a holds its only connection, an attempt on a
  // waits connect_timeout_ms for it, then goes to b, never back to a; a full pool is the
  // gateway's own limit, so a's circuit (1 failure opens it) stays closed.
  auto gw = start_gateway(
      provider("pa", {a().url(), b().url()},
               "connect_timeout_ms = 200\npool = { connections_max = 1, idle_max = 1 }\n"
               "circuit = { failures = 1, failure_rate_percent = 0 }") +
          "[[models]]\nname = \"m\"\ntargets = [{ provider = \"pa\", model = \"up-m\" }]\n"
          "retry = " + std::string(fast_retry) + "\n",
      1);
  ASSERT_TRUE(gw);
  a().arm(1, "x-mock-first-byte-ms: 20000\r\n");
  std::vector<client> parked;  // until one sits on a (those sent to b just return)
  for (int i = 0; i < 10 && a().stat("in_flight") == 0; ++i) {
    parked.emplace_back();
    ASSERT_TRUE(parked.back().connect(gw->port()) && parked.back().send(chat("m")));
    ASSERT_TRUE(eventually([&] { return a().stat("in_flight") + b().chats() >= parked.size(); }));
  }
  ASSERT_EQ(a().stat("in_flight"), 1u);
  uint64_t b_before = b().chats();
  for (int i = 0; i < 4; ++i) {
    auto r = roundtrip(gw->port(), chat("m"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
  }
  EXPECT_EQ(a().chats(), 1u);
  EXPECT_EQ(b().chats(), b_before + 4);
  EXPECT_GE(metric(*gw, R"(ringgate_retries_total{provider="pa",reason="pool_exhausted"})"), 1);
  EXPECT_EQ(circuit(*gw, "pa", 0), "closed");
  parked.clear();
  EXPECT_TRUE(eventually([&] { return a().stat("in_flight") == 0; }));
}

TEST_F(resilience_test, a_health_check_connect_that_never_completes_fails_at_its_timeout) {
  // A connect to the hole would only end at connect_timeout_ms, far past this test; the
  // check's timeout_ms cuts it.
  black_hole hole;
  ASSERT_TRUE(hole.ok());
  auto gw = start_gateway(
      provider("pa", {hole.url(), a().url()},
               "connect_timeout_ms = 60000\n"
               "health_check = { path = \"/v1/models\", interval_ms = 100, timeout_ms = 100, "
               "unhealthy_after = 1, healthy_after = 1 }") +
      "[[models]]\nname = \"m\"\ntargets = [{ provider = \"pa\", model = \"up-m\" }]\n");
  ASSERT_TRUE(gw);
  EXPECT_TRUE(eventually([&] { return endpoint_field(*gw, "pa", 0, "healthy") == "false"; }));
  EXPECT_EQ(endpoint_field(*gw, "pa", 1, "healthy"), "true");
  for (int i = 0; i < 4; ++i) {
    auto r = roundtrip(gw->port(), chat("m"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
  }
  EXPECT_EQ(a().chats(), 4u);
}

}  // namespace
}  // namespace rg::itest
