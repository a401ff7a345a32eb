// Rate limits with a fake clock: the window bound (over any 60 s, admitted ≤ limit + shards)
// however demand is spread or skewed across shards, ≥ 95% of the limit under excess demand,
// slices and the pool, TPM settlement (refund and overage), oversized charges, the header
// figures, and the lock-free pool under real threads.
#include <ringgate/governance/limiter.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <thread>
#include <vector>

namespace rg::governance {
namespace {

constexpr uint64_t ms = 1'000'000;
constexpr uint64_t second = 1000 * ms;
constexpr uint64_t minute = 60 * second;

// The most admissions (by time) that fall in any window of `window_ns`.
size_t max_in_window(const std::vector<uint64_t>& times, uint64_t window_ns) {
  size_t best = 0, lo = 0;
  for (size_t hi = 0; hi < times.size(); ++hi) {
    while (times[hi] - times[lo] >= window_ns) ++lo;
    best = std::max(best, hi - lo + 1);
  }
  return best;
}

// The fewest admissions in any window of `window_ns` that starts at a multiple of `step` in
// [from, to - window].
size_t min_in_window(const std::vector<uint64_t>& times, uint64_t window_ns, uint64_t from,
                     uint64_t to, uint64_t step) {
  size_t best = SIZE_MAX;
  for (uint64_t start = from; start + window_ns <= to; start += step) {
    auto a = std::lower_bound(times.begin(), times.end(), start);
    auto b = std::lower_bound(times.begin(), times.end(), start + window_ns);
    best = std::min(best, size_t(b - a));
  }
  return best;
}

TEST(LimitShape, SplitsTheStock) {
  limit_shape s = limit_shape::make(600, 2);
  EXPECT_EQ(s.limit, 600u);
  EXPECT_EQ(s.rate_per_min, 576u);  // 600 - 600/25
  EXPECT_EQ(s.slice_max, 6);        // (2 + 24) / 4
  EXPECT_EQ(s.pool_cap, 14);        // 26 - 2·6
  EXPECT_EQ(s.pool_cap + 2 * s.slice_max + int64_t(s.rate_per_min), 600 + 2);
  limit_shape small = limit_shape::make(10, 4);
  EXPECT_EQ(small.rate_per_min, 10u);
  EXPECT_EQ(small.slice_max, 0);  // too small to slice: every admission goes to the pool
  EXPECT_EQ(small.pool_cap, 4);
  EXPECT_TRUE(limit_shape::make(0, 2).unlimited());
  for (uint64_t l : {1ull, 7ull, 60ull, 599ull, 100000ull, 10'000'000ull}) {
    for (uint32_t n : {1u, 2u, 3u, 16u}) {
      limit_shape t = limit_shape::make(l, n);
      EXPECT_LE(uint64_t(t.pool_cap + int64_t(n) * t.slice_max) + t.rate_per_min, l + n) << l;
      EXPECT_GE(double(t.rate_per_min), 0.96 * double(l)) << l;
      EXPECT_GE(t.pool_cap, 1);
    }
  }
}

// Demand patterns over `shards` shards driven by a fake clock in 1 ms steps; returns the
// admission times.
struct simulation {
  uint64_t limit;
  uint32_t shards;
  limiter lim;
  std::vector<slice> slices;
  std::vector<uint64_t> admitted;
  uint64_t refused = 0;

  simulation(uint64_t l, uint32_t n) : limit(l), shards(n), slices(n) { lim.configure(l, n); }

  void attempt(uint32_t shard, uint64_t now_ns) {
    if (lim.take(slices[shard], to_ticks(now_ns), 1) == take_result::ok) {
      admitted.push_back(now_ns);
    } else {
      ++refused;
    }
  }
};

TEST(Limiter, WindowBoundHoldsWhenAllDemandIsOnOneShard) {
  simulation sim(600, 2);
  for (uint64_t t = 0; t < 10 * minute; t += ms) {
    for (int i = 0; i < 3; ++i) sim.attempt(0, t);  // 3000 requests/s at one shard
  }
  EXPECT_LE(max_in_window(sim.admitted, minute), 600u + 2);
  // The skewed shard still gets the whole limit (a static per-shard split would give it half).
  EXPECT_GE(min_in_window(sim.admitted, minute, minute, 10 * minute, second), 570u);
}

TEST(Limiter, WindowBoundHoldsUnderRandomBurstsOnEveryShard) {
  for (uint64_t limit : {20ull, 60ull, 600ull, 6000ull}) {
    for (uint32_t shards : {2u, 4u}) {
      simulation sim(limit, shards);
      std::mt19937_64 rng(limit * 31 + shards);
      // Idle stretches (so the pool and the slices fill up) alternate with floods on random
      // subsets of shards: the pattern that would break a bucket holding a minute of tokens.
      for (uint64_t t = 0; t < 20 * minute; t += ms) {
        bool flood = (t / (7 * second)) % 3 == 0;
        for (uint32_t s = 0; s < shards; ++s) {
          if (flood ? rng() % 4 == 0 : rng() % 997 == 0) sim.attempt(s, t);
        }
      }
      EXPECT_LE(max_in_window(sim.admitted, minute), limit + shards)
          << "limit " << limit << ", shards " << shards;
      EXPECT_LE(max_in_window(sim.admitted, 10 * second), limit / 6 + limit / 25 + shards + 1);
    }
  }
}

TEST(Limiter, ExcessDemandGetsAtLeast95PercentOnEveryWindow) {
  for (uint64_t limit : {60ull, 600ull, 3000ull}) {
    simulation sim(limit, 2);
    for (uint64_t t = 0; t < 5 * minute; t += ms) {
      sim.attempt(0, t);
      if (t % (3 * ms) == 0) sim.attempt(1, t);
    }
    size_t floor = min_in_window(sim.admitted, minute, 0, 5 * minute, 250 * ms);
    EXPECT_GE(double(floor), 0.95 * double(limit)) << "limit " << limit;
    EXPECT_LE(max_in_window(sim.admitted, minute), limit + 2);
  }
}

TEST(Limiter, SlicesServeWithoutThePoolAndRefundsOverflowToIt) {
  limiter lim;
  lim.configure(600, 2);  // slice_max 6, pool_cap 14
  slice a, b;
  const int64_t t = to_ticks(0);
  EXPECT_EQ(lim.take(a, t, 1), take_result::ok);  // leased 1 + a fresh slice of 6
  EXPECT_EQ(a.tokens, 6);
  EXPECT_EQ(lim.remaining(a, t), 7 + 6);  // pool: 14 - 7
  for (int i = 0; i < 6; ++i) EXPECT_EQ(lim.take(a, t, 1), take_result::ok);
  EXPECT_EQ(a.tokens, 0);
  // The pool has 7 left: shard b leases 1 + 6, then the pool is empty for both.
  EXPECT_EQ(lim.take(b, t, 1), take_result::ok);
  EXPECT_EQ(b.tokens, 6);
  EXPECT_EQ(lim.take(a, t, 1), take_result::limited);
  // b's slice still serves b; a refund beyond slice_max goes back to the pool.
  lim.refund(b, t, 3);
  EXPECT_EQ(b.tokens, 6);
  EXPECT_EQ(lim.take(a, t, 1), take_result::ok);  // one of the 3 returned tokens
}

TEST(Limiter, RetryAfterAndReset) {
  limiter lim;
  lim.configure(60, 1);  // rate 58/min (interval ≈ 1.034 s), stock 3: pool 2 + slice 1
  slice s;
  int64_t t = to_ticks(0);
  int admitted = 0;
  while (lim.take(s, t, 1) == take_result::ok) ++admitted;
  EXPECT_EQ(admitted, 2);  // slices start empty: the pool's tokens
  uint64_t wait = lim.retry_ns(s, t, 1);
  EXPECT_GT(wait, 1000 * ms);
  EXPECT_LT(wait, 1050 * ms);
  EXPECT_EQ(lim.take(s, to_ticks(wait - ms), 1), take_result::limited);
  EXPECT_EQ(lim.take(s, to_ticks(wait), 1), take_result::ok);
  EXPECT_EQ(lim.remaining(s, to_ticks(wait)), 0);
  EXPECT_GT(lim.reset_ns(to_ticks(wait)), 2000 * ms);  // two intervals to a full pool
}

TEST(Limiter, TpmSettlementRefundsTheUnusedReservation) {
  limiter lim;
  lim.configure(10000, 2);  // burst 400: stock 402, slice 100, pool 202
  slice s;
  const int64_t t = to_ticks(0);
  // A reservation of 150 (prompt estimate + max_tokens); the answer used 30.
  ASSERT_EQ(lim.take(s, t, 150), take_result::ok);
  int64_t after_admission = lim.remaining(s, t);
  lim.refund(s, t, 150 - 30);
  EXPECT_EQ(lim.remaining(s, t), after_admission + 120);
  // Without the refund the next reservation would not fit (202 - 150 < 150); with it, it does.
  ASSERT_EQ(lim.take(s, t, 150), take_result::ok);
  lim.refund(s, t, 150 - 30);
  // Two requests used 30 each: 202 - 60 = 142 tokens are left, not enough for another 150.
  EXPECT_EQ(lim.remaining(s, t), 142);
  EXPECT_EQ(lim.take(s, t, 150), take_result::limited);
  ASSERT_EQ(lim.take(s, t, 100), take_result::ok);
  // Settling above the reservation charges the difference (into debt if need be).
  lim.charge(s, t, 500);
  EXPECT_EQ(lim.remaining(s, t), 0);
  EXPECT_EQ(lim.take(s, t, 1), take_result::limited);
}

TEST(Limiter, OversizedChargeOverdrawsOnceThenWaits) {
  limiter lim;
  lim.configure(10000, 2);  // pool 202: a 4096-token reservation never fits in it
  slice s;
  int64_t t = to_ticks(0);
  EXPECT_EQ(lim.take(s, t, 20000), take_result::too_large);  // more than a minute's worth
  ASSERT_EQ(lim.take(s, t, 4096), take_result::ok);          // the pool was not in debt
  EXPECT_EQ(lim.take(s, t, 4096), take_result::limited);     // now it is
  EXPECT_EQ(lim.take(s, t, 1), take_result::limited);
  uint64_t wait = lim.retry_ns(s, t, 4096);
  EXPECT_GT(wait, 20 * second);  // ≈ (4096 - 202) tokens at 9600/min
  // Settling to the actual usage (50 tokens) repays the debt at once.
  lim.refund(s, t, 4096 - 50);
  EXPECT_EQ(lim.take(s, t, 4096), take_result::ok);
}

TEST(Limiter, SettledOversizedChargesAlternatingShardsNeverStall) {
  // Each request reserves 5003 (a long max_tokens), uses 41 and settles before the next; the
  // shards take turns, the clock stands still. Refunds repay the pool before they refill a
  // slice, so the pool is never left in debt while slices hold tokens: 4 · 41 < 202, all four
  // are served (had the refunds refilled the slices, the third would wait on a debt).
  limiter lim;
  lim.configure(10000, 2);
  slice s[2];
  const int64_t t = to_ticks(0);
  for (int i = 0; i < 4; ++i) {
    slice& mine = s[i % 2];
    ASSERT_EQ(lim.take(mine, t, 5003), take_result::ok) << i;
    lim.refund(mine, t, 5003 - 41);
  }
  EXPECT_EQ(lim.remaining(s[0], t) + s[1].tokens, 202 - 4 * 41);
}

TEST(Limiter, ConcurrentTakesNeverExceedTheStock) {
  // Real threads on one pool with the clock frozen: exactly the stock is admitted.
  limiter lim;
  lim.configure(100000, 8);  // stock 8 + 4000
  const int64_t t = to_ticks(5 * second);
  std::atomic<int64_t> admitted{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      slice s;
      int64_t mine = 0;
      for (int k = 0; k < 20000; ++k) mine += lim.take(s, t, 1) == take_result::ok;
      admitted.fetch_add(mine);
    });
  }
  for (auto& th : threads) th.join();
  const limit_shape& sh = lim.shape();
  // Slices start empty, so only the pool's tokens exist at first.
  EXPECT_EQ(admitted.load(), sh.pool_cap);
}

}  // namespace
}  // namespace rg::governance
