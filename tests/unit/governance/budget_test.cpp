// Money in integers (cost rounding, USD text), UTC budget periods, and the budget account:
// reservations that never overspend (also under real threads racing), settlement, release, and
// period rollover.
#include <ringgate/governance/budget.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace rg::governance {
namespace {

std::string usd(nano_usd n) {
  char buf[32];
  size_t len = format_usd(n, buf, sizeof buf);
  return std::string(buf, len);
}

TEST(Money, CostIsExactAndRoundsUpOncePerRequest) {
  price p = price::from({0.15, 0.60, 0.075});
  EXPECT_EQ(p.input, 150'000'000);  // nano-dollars per million tokens
  EXPECT_EQ(p.output, 600'000'000);
  EXPECT_EQ(p.cached_input, 75'000'000);
  EXPECT_EQ(cost(p, {1'000'000, 0, 0}), 150'000'000);
  EXPECT_EQ(cost(p, {17, 0, 24}), 17 * 150 + 24 * 600);       // 16950 n$
  EXPECT_EQ(cost(p, {100, 40, 0}), 60 * 150 + 40 * 75);       // cached tokens at their price
  EXPECT_EQ(cost(price::from({0.0001, 0, 0}), {1, 0, 0}), 1);  // 0.1 n$ rounds up to 1
  EXPECT_EQ(cost(p, {-5, -1, -3}), 0);
  // Without a cached price, cached tokens cost the input price; a cached price of 0 is free.
  EXPECT_EQ(cost(price::from({1.0, 2.0, -1.0}), {10, 10, 0}), 10 * 1000);
  EXPECT_EQ(cost(price::from({1.0, 2.0, 0.0}), {10, 10, 0}), 0);
  EXPECT_EQ(usd(16950), "0.000016950");
  EXPECT_EQ(usd(50 * nano_per_usd), "50.000000000");
  EXPECT_EQ(usd(-1), "-0.000000001");
}

TEST(Periods, UtcDaysAndMonths) {
  const int64_t t = 1'795'824'000;  // 2026-11-28T00:00:00Z
  EXPECT_EQ(period_label(period::daily, period_index(period::daily, t)), "d:2026-11-28");
  EXPECT_EQ(period_label(period::daily, period_index(period::daily, t - 1)), "d:2026-11-27");
  EXPECT_EQ(period_label(period::monthly, period_index(period::monthly, t)), "m:2026-11");
  EXPECT_EQ(period_label(period::total, 0), "total");
  EXPECT_EQ(period_index(period::total, t), 0);
  int64_t m = period_index(period::monthly, t);
  EXPECT_EQ(period_start(period::monthly, m), 1'793'491'200);  // 2026-11-01
  EXPECT_EQ(period_start(period::monthly, m + 1), 1'796'083'200);  // 2026-12-01
  EXPECT_EQ(period_label(period::monthly, m + 2), "m:2027-01");
  EXPECT_EQ(period_index(period::monthly, 0), 0);  // 1970-01
  EXPECT_EQ(period_start(period::monthly, 0), 0);
  // 2024-02-29 exists, 2024-03-01 is the next month.
  EXPECT_EQ(period_label(period::daily, period_index(period::daily, 1'709'164'800)), "d:2024-02-29");
  EXPECT_EQ(period_label(period::monthly, period_index(period::monthly, 1'709'251'200)),
            "m:2024-03");
  EXPECT_EQ(parse_period("daily"), period::daily);
  EXPECT_EQ(parse_period("total"), period::total);
  EXPECT_EQ(parse_period("monthly"), period::monthly);
}

TEST(BudgetAccount, ReservesUpToTheLimitAndSettlesToActual) {
  budget_account a;
  a.configure(period::monthly, 1000, 5, 0);
  budget_account::reservation r1, r2, r3;
  ASSERT_TRUE(a.reserve(5, 600, r1));
  EXPECT_FALSE(a.reserve(5, 401, r2));  // 600 + 401 > 1000
  ASSERT_TRUE(a.reserve(5, 400, r2));   // exactly the limit
  EXPECT_EQ(a.committed(5), 1000);
  a.settle(r1, 100);  // used 100 of its 600
  EXPECT_EQ(a.committed(5), 500);
  a.settle(r1, 100);  // settling twice changes nothing
  EXPECT_EQ(a.committed(5), 500);
  a.settle(r2, 0);  // a failure releases
  EXPECT_EQ(a.committed(5), 100);
  ASSERT_TRUE(a.reserve(5, 900, r3));
  a.settle(r3, 950);  // actual above the reservation: billed, and nothing else fits
  EXPECT_EQ(a.committed(5), 1050);
  budget_account::reservation r4;
  EXPECT_FALSE(a.reserve(5, 0, r4));
}

TEST(BudgetAccount, RestoredSpendCounts) {
  budget_account a;
  a.configure(period::daily, 1000, 20, 990);
  budget_account::reservation r;
  EXPECT_FALSE(a.reserve(20, 11, r));
  EXPECT_TRUE(a.reserve(20, 10, r));
}

TEST(BudgetAccount, NewPeriodStartsFromZeroAndOldSettlementsStayThere) {
  budget_account a;
  a.configure(period::daily, 1000, 100, 0);
  budget_account::reservation old_day, new_day, late;
  ASSERT_TRUE(a.reserve(100, 900, old_day));
  EXPECT_EQ(old_day.period_idx, 100);
  // Midnight: the first reservation of day 101 starts the day's account at zero.
  ASSERT_TRUE(a.reserve(101, 800, new_day));
  EXPECT_EQ(a.committed(101), 800);
  // The request admitted yesterday settles into yesterday (closed), not into today.
  a.settle(old_day, 10);
  EXPECT_EQ(a.committed(101), 800);
  // A shard whose clock read came a hair earlier bills to the day already begun.
  ASSERT_TRUE(a.reserve(100, 100, late));
  EXPECT_EQ(late.period_idx, 101);
  EXPECT_EQ(a.committed(101), 900);
  // roll() begins a period with nothing reserved in it.
  a.roll(102);
  EXPECT_EQ(a.committed(102), 0);
  a.roll(101);  // never backwards
  EXPECT_EQ(a.committed(102), 0);
  // After 300 days of daily rolls the 8-bit tag has wrapped, and still compares right.
  for (int64_t d = 103; d < 403; ++d) a.roll(d);
  budget_account::reservation r;
  ASSERT_TRUE(a.reserve(402, 1000, r));
  EXPECT_EQ(a.committed(402), 1000);
}

TEST(BudgetAccount, ConcurrentReservationsNeverOverspend) {
  // 200 threads race for a budget that covers exactly 10 reservations: exactly 10 win.
  budget_account a;
  const nano_usd each = 123'457;
  a.configure(period::total, 10 * each, 0, 0);
  std::atomic<int> won{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < 200; ++i) {
    threads.emplace_back([&] {
      while (!go.load()) {
      }
      budget_account::reservation r;
      if (a.reserve(0, each, r)) won.fetch_add(1);
    });
  }
  go.store(true);
  for (auto& t : threads) t.join();
  EXPECT_EQ(won.load(), 10);
  EXPECT_EQ(a.committed(0), 10 * each);
}

}  // namespace
}  // namespace rg::governance
