// Circuit breaker with a fake clock: opening on consecutive failures and on the failure rate,
// the cooldown, bounded half-open probes, stale verdicts ignored, and threads racing for one
// transition.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include <ringgate/resilience/circuit.hpp>

using namespace rg::resilience;

namespace {

constexpr uint64_t ms = 1'000'000;

circuit_options consecutive(uint32_t n, uint64_t cooldown_ms = 1000, uint32_t probes = 1) {
  circuit_options o;
  o.failures = n;
  o.rate_percent = 0;
  o.cooldown_ns = cooldown_ms * ms;
  o.probes = probes;
  return o;
}

void fail_n(circuit_breaker& b, int n, uint64_t now) {
  for (int i = 0; i < n; ++i) b.on_failure(b.acquire(now), now);
}

TEST(circuit, opens_after_n_consecutive_failures) {
  circuit_breaker b(consecutive(3));
  uint64_t t = 1000 * ms;
  fail_n(b, 2, t);
  EXPECT_EQ(b.state(t), circuit_state::closed);
  b.on_success(b.acquire(t), t);  // a success resets the run
  fail_n(b, 2, t);
  EXPECT_EQ(b.state(t), circuit_state::closed);
  permit p = b.acquire(t);
  EXPECT_EQ(p.kind, permit::normal);
  EXPECT_EQ(b.on_failure(p, t), transition::opened);
  EXPECT_EQ(b.state(t), circuit_state::open);
  EXPECT_FALSE(b.available(t));
  EXPECT_FALSE(b.acquire(t));
}

TEST(circuit, half_opens_after_the_cooldown_and_closes_on_a_probe_success) {
  circuit_breaker b(consecutive(1, 500));
  uint64_t t = 10'000 * ms;
  fail_n(b, 1, t);
  EXPECT_FALSE(b.acquire(t + 499 * ms));
  EXPECT_EQ(b.state(t + 499 * ms), circuit_state::open);
  EXPECT_EQ(b.state(t + 500 * ms), circuit_state::half_open);  // as an operator sees it
  EXPECT_TRUE(b.available(t + 500 * ms));
  transition tr = transition::none;
  permit probe = b.acquire(t + 500 * ms, &tr);
  EXPECT_EQ(probe.kind, permit::probe);
  EXPECT_EQ(tr, transition::half_opened);
  // One probe at a time: others are refused until it reports.
  EXPECT_FALSE(b.available(t + 501 * ms));
  EXPECT_FALSE(b.acquire(t + 501 * ms));
  EXPECT_EQ(b.on_success(probe, t + 600 * ms), transition::closed);
  EXPECT_EQ(b.state(t + 600 * ms), circuit_state::closed);
  EXPECT_EQ(b.acquire(t + 600 * ms).kind, permit::normal);
}

TEST(circuit, a_failed_probe_reopens_for_another_cooldown) {
  circuit_breaker b(consecutive(1, 500));
  uint64_t t = 0;
  fail_n(b, 1, t);
  permit probe = b.acquire(t + 500 * ms);
  ASSERT_EQ(probe.kind, permit::probe);
  EXPECT_EQ(b.on_failure(probe, t + 700 * ms), transition::opened);
  EXPECT_EQ(b.state(t + 1100 * ms), circuit_state::open);
  EXPECT_EQ(b.state(t + 1200 * ms), circuit_state::half_open);
}

TEST(circuit, probes_are_bounded_and_an_abandoned_probe_frees_its_slot) {
  circuit_breaker b(consecutive(1, 100, 2));
  fail_n(b, 1, 0);
  permit a = b.acquire(100 * ms), c = b.acquire(100 * ms);
  EXPECT_EQ(a.kind, permit::probe);
  EXPECT_EQ(c.kind, permit::probe);
  EXPECT_FALSE(b.acquire(100 * ms));
  b.on_abandon(a);
  permit d = b.acquire(100 * ms);
  EXPECT_EQ(d.kind, permit::probe);
  EXPECT_EQ(b.on_success(d, 120 * ms), transition::closed);
  // c's verdict arrives after the circuit closed: it changes nothing.
  EXPECT_EQ(b.on_failure(c, 130 * ms), transition::none);
  EXPECT_EQ(b.state(130 * ms), circuit_state::closed);
}

TEST(circuit, verdicts_from_before_a_trip_are_ignored) {
  circuit_breaker b(consecutive(2, 100));
  permit early = b.acquire(0);
  fail_n(b, 2, 0);  // opens
  permit probe = b.acquire(100 * ms);
  ASSERT_EQ(probe.kind, permit::probe);
  // The slow request that started while closed fails now: not the probe's verdict.
  EXPECT_EQ(b.on_failure(early, 150 * ms), transition::none);
  EXPECT_EQ(b.on_success(early, 150 * ms), transition::none);
  EXPECT_EQ(b.on_success(probe, 160 * ms), transition::closed);
}

TEST(circuit, opens_on_the_failure_rate_over_the_window) {
  circuit_options o;
  o.failures = 0;  // rate only
  o.rate_percent = 50;
  o.min_requests = 10;
  o.window_ns = 1000 * ms;
  circuit_breaker b(o);
  uint64_t t = 5000 * ms;
  // Alternating success/failure never makes 5 in a row, but is 50 %.
  for (int i = 0; i < 4; ++i) {
    b.on_success(b.acquire(t), t);
    EXPECT_EQ(b.on_failure(b.acquire(t), t), transition::none);  // under min_requests
  }
  b.on_success(b.acquire(t), t);
  EXPECT_EQ(b.on_failure(b.acquire(t), t), transition::opened);  // 5 of 10
}

TEST(circuit, the_window_forgets_old_failures) {
  circuit_options o;
  o.failures = 0;
  o.rate_percent = 50;
  o.min_requests = 4;
  o.window_ns = 1000 * ms;
  circuit_breaker b(o);
  uint64_t t = 0;
  for (int i = 0; i < 3; ++i) b.on_failure(b.acquire(t), t);  // 3 of 3, under min_requests
  t += 2000 * ms;                                             // the window moved on
  for (int i = 0; i < 6; ++i) b.on_success(b.acquire(t), t);
  EXPECT_EQ(b.on_failure(b.acquire(t), t), transition::none);  // 1 of 7 now
  EXPECT_EQ(b.state(t), circuit_state::closed);
}

TEST(circuit, failure_rate_below_the_threshold_stays_closed) {
  circuit_options o;
  o.failures = 0;
  o.rate_percent = 50;
  o.min_requests = 10;
  o.window_ns = 10'000 * ms;
  circuit_breaker b(o);
  for (int i = 0; i < 100; ++i) {
    uint64_t t = uint64_t(i) * 50 * ms;
    if (i % 3 == 0) {
      EXPECT_EQ(b.on_failure(b.acquire(t), t), transition::none) << i;
    } else {
      b.on_success(b.acquire(t), t);
    }
  }
}

TEST(circuit, racing_threads_trip_it_exactly_once) {
  circuit_breaker b(consecutive(50, 1'000'000));
  std::atomic<int> opened{0};
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        permit p = b.acquire(1);
        if (p && b.on_failure(p, 1) == transition::opened) opened.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(opened.load(), 1);
  EXPECT_EQ(b.state(1), circuit_state::open);
}

TEST(circuit, racing_threads_never_exceed_the_probe_bound) {
  circuit_breaker b(consecutive(1, 10, 3));
  fail_n(b, 1, 0);
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        if (b.acquire(10 * ms).kind == permit::probe) granted.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(granted.load(), 3);
}

}  // namespace
