// Admission and settlement across shards: every refusal (model, unpriced, concurrency, rpm,
// tpm, too large, budget) undoes what earlier checks took, tickets settle exactly once, TPM and
// budgets settle to actual usage, and anonymous requests pass untouched.
#include <ringgate/governance/governor.hpp>

#include <gtest/gtest.h>

namespace rg::governance {
namespace {

constexpr uint64_t second = 1'000'000'000;
constexpr int64_t now_us = 1'795'824'000'000'000;  // 2026-11-28T00:00:00Z

config::key_config key_cfg(std::string name, std::string_view secret) {
  config::key_config k;
  k.name = std::move(name);
  k.sha256 = to_hex(sha256(secret));
  return k;
}

admission request(int32_t key, const price* p, int64_t tpm = 10, int64_t out = 10) {
  admission a;
  a.key = key;
  a.model = "mock-small";
  a.model_price = p;
  a.tpm_tokens = tpm;
  a.budget_input_tokens = 0;
  a.budget_output_tokens = out;
  a.now_ns = 10 * second;
  a.unix_us = now_us;
  return a;
}


TEST(Governor, ModelAndPriceChecksComeFirst) {
  auto k = key_cfg("k", "sk");
  k.models = {"gpt-*"};
  auto b = key_cfg("b", "sk-b");
  b.budget_usd = 1;
  governance g(key_table::build({k, b}), 2, true, now_us / 1'000'000);
  shard_governor s(g, 0);
  ticket t;
  rejection r;
  price p;
  EXPECT_EQ(s.admit(request(0, &p), t, r), verdict::model_not_allowed);
  EXPECT_FALSE(t.open);
  EXPECT_EQ(s.admit(request(1, nullptr), t, r), verdict::unpriced);
  EXPECT_EQ(s.admit(request(1, &p), t, r), verdict::admitted);
  // Anonymous: admitted with nothing to account.
  EXPECT_EQ(s.admit(request(-1, nullptr), t, r), verdict::admitted);
  EXPECT_EQ(s.settle(t, {1, 0, 1}, 0), -1);
}

TEST(Governor, ConcurrencyIsHeldUntilSettled) {
  auto k = key_cfg("k", "sk");
  k.max_concurrent = 2;
  governance g(key_table::build({k}), 2, true, now_us / 1'000'000);
  shard_governor s0(g, 0), s1(g, 1);
  ticket a, b, c;
  rejection r;
  ASSERT_EQ(s0.admit(request(0, nullptr), a, r), verdict::admitted);
  ASSERT_EQ(s1.admit(request(0, nullptr), b, r), verdict::admitted);
  EXPECT_EQ(s0.admit(request(0, nullptr), c, r), verdict::concurrency);
  EXPECT_GT(r.retry_after_ns, 0u);
  s1.settle(b, {}, 0);
  s1.settle(b, {}, 0);  // once only
  EXPECT_EQ(g.shared(0).in_flight.load(), 1u);
  EXPECT_EQ(s0.admit(request(0, nullptr), c, r), verdict::admitted);
}

TEST(Governor, RefusalsUndoEarlierChecks) {
  auto k = key_cfg("k", "sk");
  k.max_concurrent = 5;
  k.rpm = 600;
  k.tpm = 10000;  // stock 2 + 400: pool 202, slices 100
  governance g(key_table::build({k}), 2, true, now_us / 1'000'000);
  shard_governor s(g, 0);
  ticket held, t;
  rejection r;
  ASSERT_EQ(s.admit(request(0, nullptr, 150), held, r), verdict::admitted);  // pool: 52 left
  EXPECT_EQ(g.shared(0).in_flight.load(), 1u);
  const int64_t rpm_before = g.shared(0).rpm.remaining({}, to_ticks(10 * second));
  // TPM refuses: the RPM token and the concurrency slot taken before it come back.
  EXPECT_EQ(s.admit(request(0, nullptr, 150), t, r), verdict::tpm);
  EXPECT_EQ(g.shared(0).in_flight.load(), 1u);
  EXPECT_EQ(g.shared(0).rpm.remaining({}, to_ticks(10 * second)), rpm_before);
  EXPECT_EQ(r.tokens_asked, 150);
  EXPECT_EQ(r.tokens.limit, 10000u);
  EXPECT_EQ(r.tokens.remaining, 52);
  EXPECT_EQ(r.requests.limit, 600u);
  EXPECT_GT(r.retry_after_ns, 0u);
  EXPECT_EQ(s.admit(request(0, nullptr, 20000), t, r), verdict::tpm_too_large);
  EXPECT_EQ(r.retry_after_ns, 0u);
  EXPECT_EQ(s.admit(request(0, nullptr, 20), t, r), verdict::admitted);
  EXPECT_EQ(g.shared(0).in_flight.load(), 2u);
}

TEST(Governor, RpmHoldsAcrossShards) {
  auto k = key_cfg("k", "sk");
  k.rpm = 60;  // stock 4: pool 2, slices 1
  governance g(key_table::build({k}), 2, true, now_us / 1'000'000);
  shard_governor s0(g, 0), s1(g, 1);
  int admitted = 0;
  ticket t;
  rejection r;
  for (int i = 0; i < 10; ++i) {
    shard_governor& s = i % 2 ? s1 : s0;
    if (s.admit(request(0, nullptr), t, r) == verdict::admitted) {
      ++admitted;
      s.settle(t, {}, 0);
    }
  }
  EXPECT_EQ(admitted, 2);  // the pool's tokens; both shards draw on the same pool
  EXPECT_EQ(r.requests.limit, 60u);
  EXPECT_EQ(r.requests.remaining, 0);
}

TEST(Governor, TpmSettlesToActualUsage) {
  auto k = key_cfg("k", "sk");
  k.tpm = 10000;  // pool 202
  governance g(key_table::build({k}), 2, true, now_us / 1'000'000);
  shard_governor s(g, 0);
  ticket t;
  rejection r;
  // Each request reserves 150 and uses 20. Settled, three fit in the pool's 202 tokens (the
  // clock stands still); unsettled, the second would already be refused.
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(s.admit(request(0, nullptr, 150), t, r), verdict::admitted) << i;
    s.settle(t, {10, 0, 10}, 10 * second);
  }
  EXPECT_EQ(s.admit(request(0, nullptr, 150), t, r), verdict::tpm);
  EXPECT_EQ(r.tokens.remaining, 202 - 3 * 20);
  // A settlement above the reservation is charged too: of the 142 left, 100 were reserved
  // and 142 used, so nothing remains, and the next request waits.
  ASSERT_EQ(s.admit(request(0, nullptr, 100), t, r), verdict::admitted);
  s.settle(t, {100, 0, 42}, 10 * second);
  EXPECT_EQ(s.admit(request(0, nullptr, 1), t, r), verdict::tpm);
  EXPECT_EQ(r.tokens.remaining, 0);
}

TEST(Governor, BudgetReservesWorstCaseAndSettlesToCost) {
  auto k = key_cfg("k", "sk");
  k.budget_usd = 100e-9;  // 100 nano-dollars
  k.budget_period = "daily";
  governance g(key_table::build({k}), 2, true, now_us / 1'000'000);
  shard_governor s(g, 0);
  price p = price::from({0, 0.001, 0});  // 1 n$ per output token (0.001 USD per million)
  ticket a, b;
  rejection r;
  // Worst case 60 output tokens = 60 n$: one fits, a second does not while the first is open.
  ASSERT_EQ(s.admit(request(0, &p, 10, 60), a, r), verdict::admitted);
  EXPECT_EQ(s.admit(request(0, &p, 10, 60), b, r), verdict::budget);
  EXPECT_EQ(r.reserve, 60);
  EXPECT_EQ(r.remaining_budget, 40);
  EXPECT_GT(r.retry_after_ns, 0u);  // until the next UTC day
  EXPECT_EQ(s.settle(a, {0, 0, 5}, 0), 5);  // actual: 5 tokens
  EXPECT_EQ(g.shared(0).budget.committed(period_index(period::daily, now_us / 1'000'000)), 5);
  ASSERT_EQ(s.admit(request(0, &p, 10, 60), b, r), verdict::admitted);
  s.settle(b, {}, 0);  // a failed call releases its reservation
  EXPECT_EQ(g.shared(0).budget.committed(period_index(period::daily, now_us / 1'000'000)), 5);
}

TEST(Governor, RollStartsANewPeriod) {
  auto k = key_cfg("k", "sk");
  k.budget_usd = 10e-9;
  k.budget_period = "daily";
  governance g(key_table::build({k}), 1, true, now_us / 1'000'000);
  shard_governor s(g, 0);
  price p = price::from({0, 0.001, 0});
  ticket t;
  rejection r;
  ASSERT_EQ(s.admit(request(0, &p, 1, 10), t, r), verdict::admitted);
  s.settle(t, {0, 0, 10}, 0);
  EXPECT_EQ(s.admit(request(0, &p, 1, 1), t, r), verdict::budget);
  g.roll_periods(now_us / 1'000'000 + 86400);
  admission next = request(0, &p, 1, 10);
  next.unix_us += 86'400'000'000;
  EXPECT_EQ(s.admit(next, t, r), verdict::admitted);
}

}  // namespace
}  // namespace rg::governance
