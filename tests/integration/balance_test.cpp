// Load balancing, concurrency limits and hedging end to end: weights over 10,000 requests to
// three upstreams, least-outstanding steering away from a slow endpoint, a provider limit that
// holds under 500 concurrent requests on every shard (mockllm reports its in-flight maximum) and
// a per-endpoint limit on each endpoint, the excess refused with 429 or failed over, and a hedge
// whose losing attempt the mock sees closed.
#include <sys/socket.h>

#include <chrono>

#include "resilience_util.hpp"

namespace rg::itest {
namespace {

std::string model_block(std::string_view name, std::string_view targets,
                        std::string_view extra = "") {
  return "[[models]]\nname = \"" + std::string(name) + "\"\ntargets = [" + std::string(targets) +
         "]\n" + std::string(extra) + "\n";
}

// Parks one request for `model` on mock `m` (its next answer held back 20 s), through `holder`.
void hold(const mock& m, server& gw, std::string_view model, client& holder) {
  m.arm(1, "x-mock-first-byte-ms: 20000\r\n");
  ASSERT_TRUE(holder.connect(gw.port()) && holder.send(chat(model)));
  ASSERT_TRUE(eventually([&] { return m.stat("in_flight") == 1; }));
}

// Sends `n` requests for `model`, each on its own connection, all before reading any answer;
// returns how many were answered 200.
int all_at_once(server& gw, std::string_view model, int n) {
  std::vector<client> clients(static_cast<size_t>(n));
  for (auto& c : clients) {
    if (!c.connect(gw.port()) || !c.send(chat(model))) ADD_FAILURE() << "could not send";
  }
  int ok = 0;
  for (auto& c : clients) {
    auto r = c.read_response(60s);
    if (r && r->status == 200) ++ok;
  }
  return ok;
}

TEST(balance, weights_are_honoured_across_three_upstreams) {
  mock m[3] = {start_mock(), start_mock(), start_mock()};
  for (auto& x : m) ASSERT_TRUE(x.srv);
  std::string toml = provider("p0", {m[0].url()}) + provider("p1", {m[1].url()}) +
                     provider("p2", {m[2].url()}) +
                     model_block("w",
                                 R"({ provider = "p0", model = "a", weight = 5 },
                                    { provider = "p1", model = "b", weight = 3 },
                                    { provider = "p2", model = "c", weight = 2 })");
  auto gw = start_gateway(toml);
  ASSERT_TRUE(gw);
  constexpr int n = 10'000;
  for (int i = 0; i < n; ++i) {
    auto r = roundtrip(gw->port(), chat("w"));
    ASSERT_TRUE(r && r->status == 200);
  }
  // Smooth weighted round-robin is exact per shard for every 10 picks; two shards each stop
  // part-way through a cycle, so each count is within a few of its share.
  EXPECT_NEAR(double(m[0].chats()), n * 0.5, 6);
  EXPECT_NEAR(double(m[1].chats()), n * 0.3, 6);
  EXPECT_NEAR(double(m[2].chats()), n * 0.2, 6);
  EXPECT_EQ(m[0].chats() + m[1].chats() + m[2].chats(), uint64_t(n));
}

TEST(balance, least_outstanding_steers_away_from_a_slow_endpoint) {
  mock slow = start_mock({"--first-byte-ms", "20000"});
  mock fast = start_mock();
  ASSERT_TRUE(slow.srv && fast.srv);
  auto gw = start_gateway(
      provider("p", {slow.url(), fast.url()}) +
      model_block("lo", R"({ provider = "p", model = "x" })", "balancer = \"least_outstanding\""));
  ASSERT_TRUE(gw);
  // Park requests (sent, never read) until one sits on the slow endpoint: a pick between two
  // idle endpoints is a coin toss, and a parked request that went to the fast one just returns.
  std::vector<client> parked;
  for (int i = 0; i < 40 && slow.stat("in_flight") == 0; ++i) {
    parked.emplace_back();
    ASSERT_TRUE(parked.back().connect(gw->port()) && parked.back().send(chat("lo")));
    ASSERT_TRUE(eventually([&] { return slow.stat("in_flight") + fast.chats() >= parked.size(); }));
  }
  ASSERT_EQ(slow.stat("in_flight"), 1u);
  uint64_t slow_before = slow.chats();
  uint64_t fast_before = fast.chats();
  // While the slow endpoint holds one, every new request goes to the idle fast one.
  for (int i = 0; i < 20; ++i) {
    auto r = roundtrip(gw->port(), chat("lo"));
    ASSERT_TRUE(r && r->status == 200);
  }
  EXPECT_EQ(slow.stat("in_flight"), 1u) << "the slow request ended early: test inconclusive";
  EXPECT_EQ(slow.chats(), slow_before) << "a request went to the busier, slow endpoint";
  EXPECT_EQ(fast.chats(), fast_before + 20);
  parked.clear();  // the gateway cancels the parked upstream request
  EXPECT_TRUE(eventually([&] { return slow.stat("in_flight") == 0; }));
}

TEST(balance, a_provider_limit_holds_under_500_concurrent_requests_on_every_shard) {
  mock m = start_mock({"--first-byte-ms", "5"});
  ASSERT_TRUE(m.srv);
  auto gw = start_gateway(
      provider("p", {m.url()}, "max_concurrent = 8\nqueue_max = 1000\nqueue_timeout_ms = 60000") +
      model_block("c", R"({ provider = "p", model = "x" })"));
  ASSERT_TRUE(gw);
  constexpr int n = 500;
  EXPECT_EQ(all_at_once(*gw, "c", n), n);
  EXPECT_EQ(m.chats(), uint64_t(n));
  EXPECT_LE(m.stat("in_flight_max"), 8u) << "the provider's max_concurrent was exceeded";
  EXPECT_GE(metric(*gw, R"(ringgate_bulkhead_queue_total{provider="p",result="admitted"})"), 1);
  EXPECT_EQ(metric(*gw, R"(ringgate_provider_in_flight{provider="p"})"), 0);
}

TEST(balance, a_per_endpoint_limit_holds_on_each_endpoint) {
  mock m[2] = {start_mock({"--first-byte-ms", "5"}), start_mock({"--first-byte-ms", "5"})};
  for (auto& x : m) ASSERT_TRUE(x.srv);
  auto gw = start_gateway(provider("p", {m[0].url(), m[1].url()},
                                   "max_concurrent = 1000\nmax_concurrent_per_endpoint = 3\n"
                                   "queue_max = 1000\nqueue_timeout_ms = 60000") +
                          model_block("c", R"({ provider = "p", model = "x" })"));
  ASSERT_TRUE(gw);
  constexpr int n = 200;
  EXPECT_EQ(all_at_once(*gw, "c", n), n);
  EXPECT_EQ(m[0].chats() + m[1].chats(), uint64_t(n));
  for (auto& x : m) {
    EXPECT_LE(x.stat("in_flight_max"), 3u) << "max_concurrent_per_endpoint was exceeded";
  }
}

TEST(balance, the_excess_is_refused_with_429_or_fails_over) {
  mock a = start_mock();
  mock b = start_mock();
  ASSERT_TRUE(a.srv && b.srv);
  for (std::string_view mode : {"reject", "failover"}) {
    a.reset();
    b.reset();
    auto gw = start_gateway(
        provider("pa", {a.url()}, "max_concurrent = 1\non_full = \"" + std::string(mode) + "\"") +
        provider("pb", {b.url()}) +
        model_block("m", R"({ provider = "pa", model = "x" })", "fallbacks = [\"backup\"]") +
        model_block("backup", R"({ provider = "pb", model = "y" })"));
    ASSERT_TRUE(gw);
    client holder;
    hold(a, *gw, "m", holder);
    auto r = roundtrip(gw->port(), chat("m"));
    ASSERT_TRUE(r);
    if (mode == "reject") {
      EXPECT_EQ(r->status, 429);
      EXPECT_EQ(r->header("retry-after"), "1");
      EXPECT_EQ(error_code(*r), "upstream_saturated");
      EXPECT_EQ(b.chats(), 0u);
      EXPECT_EQ(metric(*gw, R"(ringgate_requests_refused_total{model="m",reason="saturated"})"), 1);
    } else {
      EXPECT_EQ(r->status, 200);
      EXPECT_EQ(b.chats(), 1u);
    }
    EXPECT_EQ(a.chats(), 1u);
    holder.close();
    EXPECT_TRUE(eventually([&] { return a.stat("in_flight") == 0; }));
  }
}

TEST(balance, a_bounded_queue_wait_times_out_into_a_429) {
  mock a = start_mock();
  ASSERT_TRUE(a.srv);
  auto gw = start_gateway(
      provider("pa", {a.url()}, "max_concurrent = 1\nqueue_max = 1\nqueue_timeout_ms = 200") +
      model_block("m", R"({ provider = "pa", model = "x" })"));
  ASSERT_TRUE(gw);
  client holder;
  hold(a, *gw, "m", holder);
  auto r = roundtrip(gw->port(), chat("m"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(metric(*gw, R"(ringgate_bulkhead_queue_total{provider="pa",result="timeout"})"), 1);
  holder.close();
}

TEST(balance, hedging_cancels_the_losing_attempt) {
  mock slow = start_mock({"--first-byte-ms", "20000"});
  mock fast = start_mock();
  ASSERT_TRUE(slow.srv && fast.srv);
  // One shard: its smooth-WRR sends the first attempt to the heavier (slow) target.
  auto gw = start_gateway(provider("ps", {slow.url()}) + provider("pf", {fast.url()}) +
                              model_block("h",
                                          R"({ provider = "ps", model = "x", weight = 100 },
                                             { provider = "pf", model = "x", weight = 1 })",
                                          "hedge_after_ms = 50"),
                          1);
  ASSERT_TRUE(gw);
  auto r = roundtrip(gw->port(), chat("h"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(fast.chats(), 1u);
  EXPECT_EQ(slow.chats(), 1u);
  // The loser's upstream connection was closed: the slow mock saw its client go.
  EXPECT_TRUE(eventually([&] { return slow.stat("requests_abandoned") == 1; }));
  EXPECT_EQ(slow.stat("in_flight"), 0u);
  auto hedges = [&](const char* e) {
    return metric(*gw, std::string(R"(ringgate_hedges_total{model="h",event=")") + e + "\"}");
  };
  EXPECT_EQ(hedges("started"), 1);
  EXPECT_EQ(hedges("won"), 1);
  EXPECT_EQ(hedges("cancelled"), 1);
}

}  // namespace
}  // namespace rg::itest
