// Governance end to end, ringgate (2 shards) in front of mockllm: 401/403/429 in OpenAI's shape
// with their headers, RPM across shards with every connection skewed onto one shard, TPM
// settled to actual usage, the budget race (200 concurrent requests against a budget that
// covers 10), the per-key concurrency limit, the cost header, the metrics, and no key material
// in any log line.
#include <gtest/gtest.h>

#include <atomic>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "governance_util.hpp"

namespace rg::itest {
namespace {

constexpr std::string_view narrow_key = "sk-narrow-0001";
constexpr std::string_view embed_body = R"({"model":"mock-small","input":"hello"})";
// A model whose request reserves and costs exactly 10 µ$ when asked for 10 output tokens and
// given them (x-mock-words: 10): output at 1 USD per million, input free.
constexpr std::string_view fixed_model =
    "\n[[models]]\nname = \"fixed\"\ntargets = [{ provider = \"mock\", model = \"mock-small\" }]\n"
    "price = { input_per_mtok = 0.0, output_per_mtok = 1.0 }\n";

class governance_test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_options mock;
    mock.binary = mockllm_bin();
    mock.shards = 1;
    s_mock = server::start(mock);
  }
  static void TearDownTestSuite() {
    if (s_mock) {
      EXPECT_EQ(s_mock->stop(10s), 0);
    }
    s_mock.reset();
  }
  void SetUp() override { ASSERT_NE(s_mock, nullptr) << "mockllm failed to start"; }

  // A gateway with `keys` (and optional top-level sections); 2 shards.
  std::unique_ptr<server> gateway(std::string_view keys, std::string_view extra = "",
                                  std::string_view provider_extra = "", uint32_t shards = 2) {
    server_options gw;
    gw.shards = shards;
    gw.config_toml = gateway_toml(s_mock->port(), keys, extra, provider_extra);
    return server::start(gw);
  }

  static uint64_t mock_in_flight() {
    auto r = http_get(s_mock->port(), "/mock/stats");
    if (!r) return UINT64_MAX;
    auto doc = parse_json(r->body);
    uint64_t v = UINT64_MAX;
    if (!doc || doc->root["in_flight"].get(v)) return UINT64_MAX;
    return v;
  }
  // Waits (bounded) until mockllm holds `n` requests.
  static bool wait_mock_in_flight(uint64_t n) {
    auto deadline = steady::now() + 10s;
    while (steady::now() < deadline) {
      if (mock_in_flight() == n) return true;
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }

  static std::unique_ptr<server> s_mock;
};
std::unique_ptr<server> governance_test::s_mock;

// SHA-256 hex of a test key, computed by sha256sum (independently of ringgate).
std::string sha_of(std::string_view key) {
  run_result r = run_to_exit({"/bin/sh", "-c", "printf %s '" + std::string(key) + "' | sha256sum"});
  return r.out.substr(0, 64);
}

void expect_error_shape(const http_response& r, int status, std::string_view type,
                        std::string_view code) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/json");
  auto doc = parse_json(r.body);
  ASSERT_NE(doc, nullptr) << r.body;
  std::string_view t, c, m;
  EXPECT_FALSE(doc->root["error"]["type"].get(t)) << r.body;
  EXPECT_FALSE(doc->root["error"]["code"].get(c)) << r.body;
  EXPECT_FALSE(doc->root["error"]["message"].get(m)) << r.body;
  EXPECT_EQ(t, type) << r.body;
  EXPECT_EQ(c, code) << r.body;
  EXPECT_FALSE(m.empty());
  EXPECT_EQ(r.header("x-request-id").size(), 32u);
}

TEST_F(governance_test, unauthenticated_requests_get_401_in_openai_shape) {
  auto gw = gateway(key_toml("team-a", demo_sha));
  ASSERT_NE(gw, nullptr);
  auto missing = post_chat(gw->port(), "");
  ASSERT_TRUE(missing);
  expect_error_shape(*missing, 401, "invalid_request_error", "missing_api_key");
  EXPECT_EQ(missing->header("www-authenticate"), "Bearer realm=\"ringgate\"");
  auto wrong = post_chat(gw->port(), bearer("sk-ringgate-demX"));
  ASSERT_TRUE(wrong);
  expect_error_shape(*wrong, 401, "invalid_request_error", "invalid_api_key");
  auto basic = post_chat(gw->port(), "Authorization: Basic c2stcmluZ2dhdGUtZGVtbw==\r\n");
  ASSERT_TRUE(basic);
  expect_error_shape(*basic, 401, "invalid_request_error", "invalid_api_key");
  // The embeddings endpoint speaks OpenAI's protocol too: the same shape.
  auto embed = roundtrip(gw->port(), post_request("/v1/embeddings", embed_body, ""));
  ASSERT_TRUE(embed);
  expect_error_shape(*embed, 401, "invalid_request_error", "missing_api_key");
  // Both ways of presenting a key work, the scheme's case does not matter, and another scheme
  // does not hide an x-api-key.
  for (std::string h : {bearer(demo_key), "authorization: bearer " + std::string(demo_key) + "\r\n",
                        "x-api-key: " + std::string(demo_key) + "\r\n",
                        "Authorization: Basic dTpw\r\nx-api-key: " + std::string(demo_key) + "\r\n"}) {
    auto ok = post_chat(gw->port(), h);
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200) << h << ok->body;
  }
  // /v1/models needs a key too; /health and /ready never do.
  auto models = roundtrip(gw->port(), get_request("/v1/models"));
  ASSERT_TRUE(models);
  EXPECT_EQ(models->status, 401);
  auto listed = roundtrip(gw->port(), get_request("/v1/models", bearer(demo_key)));
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->status, 200);
  EXPECT_EQ(http_get(gw->port(), "/health")->status, 200);
  // Nothing unauthenticated reached the upstream.
  EXPECT_EQ(gw->stop(10s), 0);
}

TEST_F(governance_test, auth_not_required_serves_anonymous_and_still_governs_known_keys) {
  auto gw = gateway(key_toml("team-a", demo_sha, "models = [\"alias-model\"]\n"),
                    "[auth]\nrequired = false\n");
  ASSERT_NE(gw, nullptr);
  auto anon = post_chat(gw->port(), "");
  ASSERT_TRUE(anon);
  EXPECT_EQ(anon->status, 200);
  auto unknown = post_chat(gw->port(), bearer("sk-whatever-the-sdk-sent"));
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 200);
  auto known = post_chat(gw->port(), bearer(demo_key));  // team-a may not use mock-small
  ASSERT_TRUE(known);
  expect_error_shape(*known, 403, "invalid_request_error", "model_not_allowed");
  EXPECT_EQ(gw->stop(10s), 0);
}

TEST_F(governance_test, model_not_allowed_is_403) {
  std::string narrow = std::string(sha_of(narrow_key));
  auto gw = gateway(key_toml("narrow", narrow, "models = [\"mock-*\"]\n") +
                    key_toml("budgeted", demo_sha, "budget_usd = 1.0\n") +
                    "[[models]]\nname = \"unpriced\"\n"
                    "targets = [{ provider = \"mock\", model = \"mock-small\" }]\n");
  ASSERT_NE(gw, nullptr);
  EXPECT_EQ(post_chat(gw->port(), bearer(narrow_key))->status, 200);
  for (std::string_view model : {"alias-model", "mock/anything"}) {
    auto r = post_chat(gw->port(), bearer(narrow_key), chat(model));
    ASSERT_TRUE(r);
    expect_error_shape(*r, 403, "invalid_request_error", "model_not_allowed");
  }
  // A key with a budget cannot use a model without a price (provider/model form): its cost
  // could not be counted.
  auto unpriced = post_chat(gw->port(), bearer(demo_key), chat("mock/mock-small"));
  ASSERT_TRUE(unpriced);
  expect_error_shape(*unpriced, 403, "invalid_request_error", "model_not_allowed");
  EXPECT_NE(unpriced->body.find("no price"), std::string::npos);
  // So can it not use a [[models]] entry without a price table (unpriced is not free).
  auto no_table = post_chat(gw->port(), bearer(demo_key), chat("unpriced"));
  ASSERT_TRUE(no_table);
  expect_error_shape(*no_table, 403, "invalid_request_error", "model_not_allowed");
  // The embeddings endpoint refuses in the same shape.
  auto embed = roundtrip(gw->port(), post_request("/v1/embeddings",
                                                  R"({"model":"alias-model","input":"hi"})",
                                                  bearer(narrow_key)));
  ASSERT_TRUE(embed);
  expect_error_shape(*embed, 403, "invalid_request_error", "model_not_allowed");
  EXPECT_EQ(gw->stop(10s), 0);
}

TEST_F(governance_test, rate_limited_429_carries_retry_after_and_openai_headers) {
  // rpm 60 on 2 shards: a burst of 4 (2 in the pool at start), then about one a second.
  auto gw = gateway(key_toml("team-a", demo_sha, "rpm = 60\ntpm = 100000\n"));
  ASSERT_NE(gw, nullptr);
  std::optional<http_response> limited;
  int admitted = 0;
  for (int i = 0; i < 20 && !limited; ++i) {
    auto r = post_chat(gw->port(), bearer(demo_key), chat("mock-small", 100));
    ASSERT_TRUE(r);
    if (r->status == 200) ++admitted;
    if (r->status == 429) limited = r;
  }
  ASSERT_TRUE(limited) << "never limited";
  EXPECT_LE(admitted, 4);
  expect_error_shape(*limited, 429, "requests", "rate_limit_exceeded");
  long retry = std::stol(limited->header("retry-after"));
  EXPECT_GE(retry, 1);
  EXPECT_LE(retry, 2);
  EXPECT_LE(std::stol(limited->header("retry-after-ms")), 1100);
  EXPECT_EQ(limited->header("x-ratelimit-limit-requests"), "60");
  EXPECT_EQ(limited->header("x-ratelimit-remaining-requests"), "0");
  EXPECT_TRUE(std::regex_match(limited->header("x-ratelimit-reset-requests"),
                               std::regex(R"([0-9]+(ms|(\.[0-9]+)?s|m[0-9]+s))")))
      << limited->header("x-ratelimit-reset-requests");
  EXPECT_EQ(limited->header("x-ratelimit-limit-tokens"), "100000");
  EXPECT_FALSE(limited->header("x-ratelimit-remaining-tokens").empty());
  EXPECT_FALSE(limited->header("x-ratelimit-reset-tokens").empty());
  EXPECT_EQ(gw->stop(10s), 0);
}

TEST_F(governance_test, rpm_holds_with_every_connection_on_one_shard) {
  // rpm 1200 on 2 shards: stock 50 (a pool of 26 to start with), refill 19.2 a second.
  std::string probe = sha_of("sk-probe");
  auto gw = gateway(key_toml("limited", demo_sha, "rpm = 1200\n") + key_toml("probe", probe));
  ASSERT_NE(gw, nullptr);
  // Find the shard of each connection with the unlimited key, keep four on the same shard.
  std::vector<client> conns[2];
  for (int i = 0; i < 32 && conns[0].size() < 4 && conns[1].size() < 4; ++i) {
    client c;
    ASSERT_TRUE(c.connect(gw->port()));
    ASSERT_TRUE(c.send(post_request("/v1/chat/completions", chat(), bearer("sk-probe"))));
    auto r = c.read_response(10s);
    ASSERT_TRUE(r && r->status == 200);
    int shard = shard_of(*r);
    ASSERT_TRUE(shard == 0 || shard == 1) << r->header("x-request-id");
    conns[shard].push_back(std::move(c));
  }
  int busy = conns[0].size() >= 4 ? 0 : 1;
  ASSERT_EQ(conns[busy].size(), 4u);
  std::atomic<int> admitted{0}, refused{0}, other{0}, wrong_shard{0};
  const auto start = steady::now();
  const auto stop_at = start + 3s;
  std::vector<std::thread> threads;
  for (auto& c : conns[busy]) {
    threads.emplace_back([&, conn = &c] {
      while (steady::now() < stop_at) {
        if (!conn->send(post_request("/v1/chat/completions", chat(), bearer(demo_key)))) break;
        auto r = conn->read_response(10s);
        if (!r) break;
        if (shard_of(*r) != busy) ++wrong_shard;
        (r->status == 200 ? admitted : r->status == 429 ? refused : other)++;
      }
    });
  }
  for (auto& t : threads) t.join();
  const double elapsed_s = std::chrono::duration<double>(steady::now() - start).count();
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(wrong_shard.load(), 0);
  EXPECT_GT(refused.load(), 0) << "demand did not exceed the limit";
  // Upper bound: never more than the stock plus the refill (however connections are spread).
  EXPECT_LE(admitted.load(), 50 + 19.2 * elapsed_s + 1) << elapsed_s << " s";
  // Lower bound: the busy shard gets the whole limit, not a per-shard half (9.6/s).
  EXPECT_GE(admitted.load(), 26 + 0.6 * 19.2 * elapsed_s) << elapsed_s << " s";
  EXPECT_EQ(gw->stop(10s), 0);
}

TEST_F(governance_test, tpm_charges_max_tokens_and_settles_to_actual_usage) {
  // tpm 10000: a pool of 202 tokens; each request reserves ~5000 (max_tokens) and uses ~30.
  auto gw = gateway(key_toml("team-a", demo_sha, "tpm = 10000\n"));
  ASSERT_NE(gw, nullptr);
  // Sequential requests each settle before the next: all served (unsettled, the second would
  // wait half a minute for the pool to repay the first reservation).
  for (int i = 0; i < 3; ++i) {
    auto r = post_chat(gw->port(), bearer(demo_key), chat("mock-small", 5000));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << i << ": " << r->body;
  }
  // While one such reservation is open (the mock holds the request), the next is refused.
  client slow;
  ASSERT_TRUE(slow.connect(gw->port()));
  ASSERT_TRUE(slow.send(post_request("/v1/chat/completions", chat("mock-small", 5000),
                                     bearer(demo_key) + "x-mock-first-byte-ms: 3000\r\n")));
  ASSERT_TRUE(wait_mock_in_flight(1));
  auto refused = post_chat(gw->port(), bearer(demo_key), chat("mock-small", 5000));
  ASSERT_TRUE(refused);
  expect_error_shape(*refused, 429, "tokens", "rate_limit_exceeded");
  EXPECT_EQ(refused->header("x-ratelimit-limit-tokens"), "10000");
  EXPECT_EQ(refused->header("x-ratelimit-remaining-tokens"), "0");
  EXPECT_GE(std::stol(refused->header("retry-after")), 1);
  auto served = slow.read_response(10s);
  ASSERT_TRUE(served);
  EXPECT_EQ(served->status, 200);
  // Settled: served again at once.
  EXPECT_EQ(post_chat(gw->port(), bearer(demo_key), chat("mock-small", 5000))->status, 200);
  // More than a minute's worth can never be served.
  auto huge = post_chat(gw->port(), bearer(demo_key), chat("mock-small", 20000));
  ASSERT_TRUE(huge);
  expect_error_shape(*huge, 429, "tokens", "rate_limit_exceeded");
  EXPECT_NE(huge->body.find("request too large"), std::string::npos) << huge->body;
  EXPECT_EQ(gw->stop(10s), 0);
}

TEST_F(governance_test, budget_race_admits_exactly_what_the_budget_covers) {
  // Every request reserves and costs exactly 10 output tokens at 1 USD per million (input is
  // free): 10 µ$. The budget covers 10 of them; 200 arrive at once.
  std::string keys = key_toml("team-a", demo_sha, "budget_usd = 0.0001\nbudget_period = \"total\"\n");
  auto gw = gateway(keys + std::string(fixed_model), "", "headers = { \"x-mock-words\" = \"10\", \"x-mock-first-byte-ms\" = \"200\" }\n");
  ASSERT_NE(gw, nullptr);
  constexpr int n = 200;
  std::vector<client> conns(n);
  for (auto& c : conns) ASSERT_TRUE(c.connect(gw->port()));
  std::atomic<int> ok{0}, quota{0}, other{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (auto& c : conns) {
    threads.emplace_back([&, conn = &c] {
      while (!go.load()) std::this_thread::yield();
      if (!conn->send(post_request("/v1/chat/completions", chat("fixed", 10), bearer(demo_key)))) {
        ++other;
        return;
      }
      auto r = conn->read_response(20s);
      if (r && r->status == 200) {
        ++ok;
      } else if (r && r->status == 429 && r->body.find("insufficient_quota") != std::string::npos) {
        ++quota;
      } else {
        ++other;
      }
    });
  }
  go.store(true);
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 10);
  EXPECT_EQ(quota.load(), 190);
  EXPECT_EQ(other.load(), 0);
  // Spent to the nano-dollar: the next request is refused too.
  auto after = post_chat(gw->port(), bearer(demo_key), chat("fixed", 10));
  ASSERT_TRUE(after);
  expect_error_shape(*after, 429, "insufficient_quota", "insufficient_quota");
  EXPECT_NE(after->body.find("0.000000000 USD left"), std::string::npos) << after->body;
  EXPECT_EQ(gw->stop(10s), 0);
}

TEST_F(governance_test, a_fallback_is_reserved_and_billed_at_its_own_price) {
  // "cheap" (1 USD per million output tokens) has no reachable endpoint and falls back to
  // "pricey" (100 per million). 10 output tokens: reserved and billed at pricey's 1,000 µ$,
  // not cheap's 10 µ$ — else a budget could be overspent a hundredfold through a fallback.
  const std::string models =
      "\n[[providers]]\nname = \"dead\"\nkind = \"openai\"\n"
      "base_url = \"http://127.0.0.1:1/v1\"\napi_key = \"sk-dead\"\n"
      "\n[[models]]\nname = \"cheap\"\ntargets = [{ provider = \"dead\", model = \"x\" }]\n"
      "fallbacks = [\"pricey\"]\nretry = { attempts = 1 }\n"
      "price = { input_per_mtok = 0.0, output_per_mtok = 1.0 }\n"
      "\n[[models]]\nname = \"pricey\"\ntargets = [{ provider = \"mock\", model = \"mock-small\" }]\n"
      "price = { input_per_mtok = 0.0, output_per_mtok = 100.0 }\n";
  constexpr std::string_view poor_key = "sk-poor-0001";
  std::string keys =
      key_toml("rich", demo_sha, "budget_usd = 1.0\nbudget_period = \"total\"\n") +
      key_toml("poor", sha_of(poor_key), "budget_usd = 0.0005\nbudget_period = \"total\"\n");
  auto gw = gateway(keys + models, "", "headers = { \"x-mock-words\" = \"10\" }\n");
  ASSERT_NE(gw, nullptr);
  auto r = post_chat(gw->port(), bearer(demo_key), chat("cheap", 10));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->header("x-ringgate-cost-usd"), "0.001000000");
  // 500 µ$ covers cheap's reservation but not its fallback's: refused before any attempt.
  auto p = post_chat(gw->port(), bearer(poor_key), chat("cheap", 10));
  ASSERT_TRUE(p);
  expect_error_shape(*p, 429, "insufficient_quota", "insufficient_quota");
  EXPECT_EQ(gw->stop(10s), 0);
}

TEST_F(governance_test, failures_and_disconnects_release_what_they_reserved) {
  // A budget for exactly one `fixed` request and one request at a time: a reservation (budget
  // or concurrency slot) that a failure or a disconnect kept would refuse every later one.
  auto gw = gateway(key_toml("team-a", demo_sha,
                             "budget_usd = 0.00001\nbudget_period = \"total\"\n"
                             "max_concurrent = 1\n") +
                        std::string(fixed_model),
                    "",
                    // The failures below would open the circuit (and answer 503 after).
                    "circuit = { failures = 0, failure_rate_percent = 0 }\n");
  ASSERT_NE(gw, nullptr);
  const std::string body = chat("fixed", 10);
  auto failed = post_chat(gw->port(), bearer(demo_key) + "x-mock-status: 500\r\n", body);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->status, 500) << failed->body;
  auto cut = post_chat(gw->port(), bearer(demo_key) + "x-mock-fault: close-before-headers\r\n",
                       body);
  ASSERT_TRUE(cut);
  EXPECT_EQ(cut->status, 502) << cut->body;
  {
    client gone;  // holds the only slot and the whole budget, then leaves
    ASSERT_TRUE(gone.connect(gw->port()));
    ASSERT_TRUE(gone.send(post_request("/v1/chat/completions", body,
                                       bearer(demo_key) + "x-mock-first-byte-ms: 1500\r\n")));
    ASSERT_TRUE(wait_mock_in_flight(1));
  }
  // Released once ringgate sees the call end (at the latest when the upstream answers).
  std::optional<http_response> next;
  for (auto deadline = steady::now() + 10s; steady::now() < deadline;) {
    next = post_chat(gw->port(), bearer(demo_key) + "x-mock-words: 10\r\n", body);
    if (!next || next->status != 429) break;
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200) << next->body;
  // That request spent the whole budget: nothing above was billed.
  auto after = post_chat(gw->port(), bearer(demo_key) + "x-mock-words: 10\r\n", body);
  ASSERT_TRUE(after);
  expect_error_shape(*after, 429, "insufficient_quota", "insufficient_quota");
  EXPECT_EQ(gw->stop(10s), 0);
}

TEST_F(governance_test, concurrency_limit_per_key) {
  auto gw = gateway(key_toml("team-a", demo_sha, "max_concurrent = 2\n"));
  ASSERT_NE(gw, nullptr);
  client a, b;
  for (client* c : {&a, &b}) {
    ASSERT_TRUE(c->connect(gw->port()));
    ASSERT_TRUE(c->send(post_request("/v1/chat/completions", chat(),
                                     bearer(demo_key) + "x-mock-first-byte-ms: 3000\r\n")));
  }
  ASSERT_TRUE(wait_mock_in_flight(2));
  auto third = post_chat(gw->port(), bearer(demo_key));
  ASSERT_TRUE(third);
  expect_error_shape(*third, 429, "requests", "concurrency_limit_exceeded");
  EXPECT_EQ(third->header("retry-after"), "1");
  EXPECT_EQ(a.read_response(10s)->status, 200);
  EXPECT_EQ(b.read_response(10s)->status, 200);
  EXPECT_EQ(post_chat(gw->port(), bearer(demo_key))->status, 200);
  EXPECT_EQ(gw->stop(10s), 0);
}

TEST_F(governance_test, cost_header_metrics_and_no_key_material_in_logs) {
  auto gw = gateway(key_toml("team-a", demo_sha, "rpm = 600\n"), "[log]\nlevel = \"debug\"\n");
  ASSERT_NE(gw, nullptr);
  auto r = post_chat(gw->port(), bearer(demo_key));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  auto doc = parse_json(r->body);
  ASSERT_NE(doc, nullptr);
  int64_t in = 0, out = 0;
  ASSERT_FALSE(doc->root["usage"]["prompt_tokens"].get(in));
  ASSERT_FALSE(doc->root["usage"]["completion_tokens"].get(out));
  char expected[32];
  long long nano = in * 1000 + out * 2000;  // 1 and 2 USD per million tokens
  snprintf(expected, sizeof expected, "%lld.%09lld", nano / 1'000'000'000, nano % 1'000'000'000);
  EXPECT_EQ(r->header("x-ringgate-cost-usd"), expected);
  // A stream's cost is only known after its head: logged, not sent.
  auto s = post_chat(gw->port(), bearer(demo_key), chat("mock-small", -1, true));
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->has_header("x-ringgate-cost-usd"));
  // Refusals of every kind, with keys that must never show up in a log line.
  const std::string wrong = "sk-wrong-key-must-not-be-logged";
  EXPECT_EQ(post_chat(gw->port(), bearer(wrong))->status, 401);
  EXPECT_EQ(post_chat(gw->port(), "x-api-key: " + wrong + "\r\n")->status, 401);
  EXPECT_EQ(post_chat(gw->port(), "")->status, 401);
  int limited = 0;
  for (int i = 0; i < 40; ++i) limited += post_chat(gw->port(), bearer(demo_key))->status == 429;
  EXPECT_GT(limited, 0);

  auto m = roundtrip(gw->admin_port(), get_request("/metrics"));
  ASSERT_TRUE(m);
  auto has = [&](const std::string& series) {
    return m->body.find("\n" + series + " ") != std::string::npos;
  };
  EXPECT_TRUE(has(R"(ringgate_rate_limited_total{key="team-a",limit="rpm"})")) << m->body;
  EXPECT_NE(m->body.find("ringgate_auth_rejected_total{reason=\"invalid_key\"} 2\n"),
            std::string::npos);
  EXPECT_NE(m->body.find("ringgate_auth_rejected_total{reason=\"missing_key\"} 1\n"),
            std::string::npos);
  EXPECT_TRUE(has(R"(ringgate_key_tokens_total{key="team-a",direction="in"})"));
  EXPECT_TRUE(has(R"(ringgate_key_cost_usd_total{key="team-a"})"));
  EXPECT_EQ(m->body.find(demo_key), std::string::npos);
  // Every family once, the key families with the proxy's (one registry, no second export).
  std::set<std::string> families;
  for (size_t at = m->body.find("# TYPE "); at != std::string::npos;
       at = m->body.find("# TYPE ", at + 1)) {
    std::string name = m->body.substr(at + 7, m->body.find(' ', at + 7) - at - 7);
    EXPECT_TRUE(families.insert(name).second) << "exported twice: " << name;
  }
  EXPECT_TRUE(families.contains("ringgate_key_cost_usd_total"));
  EXPECT_TRUE(families.contains("ringgate_requests_total"));

  ASSERT_EQ(gw->stop(10s), 0);
  const std::string logs = gw->proc().out_text() + gw->proc().err_text();
  EXPECT_NE(logs.find("\"key\":\"team-a\""), std::string::npos) << "access log has no key name";
  for (std::string_view secret : {demo_key, std::string_view(wrong), demo_sha}) {
    EXPECT_EQ(logs.find(secret), std::string::npos) << secret << " in:\n" << logs;
  }
  EXPECT_EQ(logs.find("sk-wrong"), std::string::npos);
  EXPECT_EQ(logs.find("sk-ringgate"), std::string::npos);
  // The cost is always logged, the stream's too (known at its end).
  for (const http_response* answer : {&*r, &*s}) {
    const std::string id = answer->header("x-request-id");
    size_t at = logs.find("\"request_id\":\"" + id + "\"");
    ASSERT_NE(at, std::string::npos) << id;
    std::string line = logs.substr(at, logs.find('\n', at) - at);
    EXPECT_NE(line.find("\"cost_usd\":"), std::string::npos) << line;
    EXPECT_EQ(line.find("\"cost_usd\":null"), std::string::npos) << line;
  }
}

}  // namespace
}  // namespace rg::itest
