// Balancers over fake endpoint states: weights honoured over 10,000 picks (exactly for smooth
// WRR, within statistical bounds for p2c), skipping members the predicate refuses, least
// outstanding steering away from loaded members, p2c preferring the faster one, and the EWMA.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <vector>

#include <ringgate/resilience/balancer.hpp>

using namespace rg::resilience;

namespace {

constexpr uint64_t ms = 1'000'000;

struct fixture {
  explicit fixture(std::vector<uint32_t> weights) {
    for (uint32_t w : weights) {
      states.push_back(std::make_unique<endpoint_state>(circuit_options{}, 0));
      members.push_back({states.back().get(), w});
    }
    cur.assign(weights.size(), 0);
  }
  void load(uint32_t i, uint32_t n) {
    for (uint32_t k = 0; k < n; ++k) states[i]->in_flight.try_acquire();
  }
  std::vector<std::unique_ptr<endpoint_state>> states;
  std::vector<member> members;
  std::vector<int64_t> cur;
  rng r{42};
};

auto all = [](uint32_t) { return true; };

// |observed - expected| within 4.5 standard deviations of a binomial count.
void expect_binomial(uint64_t observed, uint64_t n, double p, const char* what) {
  double mean = double(n) * p;
  double sd = std::sqrt(double(n) * p * (1 - p));
  EXPECT_NEAR(double(observed), mean, 4.5 * sd) << what;
}

TEST(balancer, smooth_wrr_gives_exact_shares_evenly_interleaved) {
  fixture f({5, 3, 2});
  uint64_t counts[3] = {};
  uint64_t window[3] = {};
  for (int i = 0; i < 10'000; ++i) {
    uint32_t p = pick_weighted(f.members, f.cur, all);
    ASSERT_LT(p, 3u);
    ++counts[p];
    ++window[p];
    if (i % 10 == 9) {  // every cycle of total weight has each member its weight's times
      EXPECT_EQ(window[0], 5u);
      EXPECT_EQ(window[1], 3u);
      EXPECT_EQ(window[2], 2u);
      window[0] = window[1] = window[2] = 0;
    }
  }
  EXPECT_EQ(counts[0], 5000u);
  EXPECT_EQ(counts[1], 3000u);
  EXPECT_EQ(counts[2], 2000u);
}

TEST(balancer, smooth_wrr_never_picks_the_same_heavy_member_in_a_long_run) {
  fixture f({4, 1});
  int run = 0, longest = 0;
  for (int i = 0; i < 1000; ++i) {
    uint32_t p = pick_weighted(f.members, f.cur, all);
    run = p == 0 ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  EXPECT_EQ(longest, 4);
}

TEST(balancer, smooth_wrr_skips_refused_members_and_shares_the_rest) {
  fixture f({5, 3, 2});
  uint64_t counts[3] = {};
  auto no_first = [](uint32_t i) { return i != 0; };
  for (int i = 0; i < 5000; ++i) ++counts[pick_weighted(f.members, f.cur, no_first)];
  EXPECT_EQ(counts[0], 0u);
  EXPECT_EQ(counts[1], 3000u);
  EXPECT_EQ(counts[2], 2000u);
  auto none = [](uint32_t) { return false; };
  EXPECT_EQ(pick_weighted(f.members, f.cur, none), no_pick);
}

TEST(balancer, least_outstanding_steers_away_from_loaded_members) {
  fixture f({1, 1, 1});
  f.load(0, 5);
  f.load(1, 1);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(pick_least_outstanding(f.members, f.r, all), 2u);
  f.load(2, 3);  // now 5, 1, 3
  for (int i = 0; i < 100; ++i) EXPECT_EQ(pick_least_outstanding(f.members, f.r, all), 1u);
  auto not_one = [](uint32_t i) { return i != 1; };
  EXPECT_EQ(pick_least_outstanding(f.members, f.r, not_one), 2u);
}

TEST(balancer, least_outstanding_counts_load_per_unit_of_weight_and_breaks_ties_randomly) {
  fixture f({3, 1});
  f.load(0, 2);  // (2+1)/3 = 1 vs (0+1)/1 = 1: a tie
  uint64_t counts[2] = {};
  for (int i = 0; i < 10'000; ++i) ++counts[pick_least_outstanding(f.members, f.r, all)];
  expect_binomial(counts[0], 10'000, 0.5, "tie");
  f.load(0, 1);  // 4/3 > 1
  for (int i = 0; i < 100; ++i) EXPECT_EQ(pick_least_outstanding(f.members, f.r, all), 1u);
}

TEST(balancer, p2c_honours_weights_when_latency_and_load_are_equal) {
  fixture f({5, 3, 2});
  uint64_t counts[3] = {};
  for (int i = 0; i < 10'000; ++i) ++counts[pick_p2c_ewma(f.members, f.r, 0, all)];
  expect_binomial(counts[0], 10'000, 0.5, "weight 5");
  expect_binomial(counts[1], 10'000, 0.3, "weight 3");
  expect_binomial(counts[2], 10'000, 0.2, "weight 2");
}

TEST(balancer, p2c_prefers_the_faster_and_the_less_loaded) {
  fixture f({1, 1});
  uint64_t now = 1000 * ms;
  f.states[0]->ttfb.sample(100 * ms, now);
  f.states[1]->ttfb.sample(10 * ms, now);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(pick_p2c_ewma(f.members, f.r, now, all), 1u);
  f.load(1, 20);  // 10 ms × 21 > 100 ms × 1
  for (int i = 0; i < 200; ++i) EXPECT_EQ(pick_p2c_ewma(f.members, f.r, now, all), 0u);
}

TEST(balancer, p2c_with_one_candidate_or_none) {
  fixture f({1, 1, 1});
  auto only_two = [](uint32_t i) { return i == 2; };
  EXPECT_EQ(pick_p2c_ewma(f.members, f.r, 0, only_two), 2u);
  auto none = [](uint32_t) { return false; };
  EXPECT_EQ(pick_p2c_ewma(f.members, f.r, 0, none), no_pick);
}

TEST(balancer, ewma_tracks_samples_and_decays_without_them) {
  latency_ewma e;
  EXPECT_EQ(e.current(0), 0u);
  e.sample(100 * ms, 1000 * ms);
  EXPECT_EQ(e.current(1000 * ms), 100 * ms);
  e.sample(200 * ms, 1000 * ms);
  EXPECT_NEAR(double(e.current(1000 * ms)), 130.0 * ms, 1e3);
  // A half-life later, half of it; long after, nothing known.
  EXPECT_NEAR(double(e.current(1000 * ms + latency_ewma::half_life_ns)), 65.0 * ms, 1e3);
  EXPECT_EQ(e.current(1000 * ms + 20 * latency_ewma::half_life_ns), 0u);
}

TEST(balancer, limiter_bounds_and_unlimited) {
  limiter l(2);
  EXPECT_TRUE(l.try_acquire());
  EXPECT_TRUE(l.try_acquire());
  EXPECT_FALSE(l.try_acquire());
  EXPECT_TRUE(l.full());
  l.release();
  EXPECT_TRUE(l.try_acquire());
  limiter u(0);
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(u.try_acquire());
  EXPECT_FALSE(u.full());
  EXPECT_EQ(u.used(), 1000u);
}

TEST(balancer, dispatch_by_kind) {
  fixture f({1, 1});
  f.load(0, 3);
  EXPECT_EQ(pick(balancer_kind::least_outstanding, f.members, f.cur, f.r, 0, all), 1u);
  EXPECT_EQ(pick(balancer_kind::weighted, f.members, f.cur, f.r, 0, all), 0u);
  EXPECT_EQ(pick(balancer_kind::weighted, f.members, f.cur, f.r, 0, all), 1u);
}

}  // namespace
