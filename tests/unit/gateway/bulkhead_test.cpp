// The provider gate's wait queue on a real shard: queue_max bounds the waiters across shards,
// a release wakes the oldest local waiter (through its alarm, on the next timer step), a wake
// is handed to another shard's waiter when there is none here, and leaving frees the place.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include <ringgate/runtime/alarm.hpp>
#include <ringgate/runtime/shard.hpp>
#include <ringgate/runtime/task.hpp>

#include "bulkhead.hpp"

using namespace rg;
using namespace rg::gateway;

namespace {

// Waits on `a` until woken or `deadline`, then records the result.
runtime::task<void> wait_once(runtime::alarm& a, uint64_t deadline, int& result) {
  bool woken = co_await a.wait_until(deadline);
  result = woken ? 1 : 0;
}

struct one_shard {
  one_shard() : s(opts()) {}
  static runtime::shard_options opts() {
    runtime::shard_options o;
    o.id = 0;
    return o;
  }
  // Runs the loop until a timer stops it (a shard runs once).
  void run_until_stopped() { s.run(); }
  runtime::shard s;
};

void stop(runtime::timer&, void* ctx) noexcept {
  static_cast<runtime::shard*>(ctx)->stop();
}

TEST(bulkhead, queue_max_bounds_the_waiters) {
  one_shard sh;
  provider_gate g(1, 2, 1);
  shard_queue q;
  g.attach(0, sh.s, &q);
  runtime::alarm a1(sh.s), a2(sh.s), a3(sh.s);
  queue_waiter w1{&a1}, w2{&a2}, w3{&a3};
  EXPECT_TRUE(g.enter(0, w1));
  EXPECT_TRUE(g.enter(0, w2));
  EXPECT_FALSE(g.enter(0, w3));
  EXPECT_EQ(g.waiting(), 2u);
  g.leave(0, w1);
  EXPECT_TRUE(g.enter(0, w3));
  g.leave(0, w2);
  g.leave(0, w3);
  EXPECT_EQ(g.waiting(), 0u);
  g.detach(0);
}

TEST(bulkhead, a_release_wakes_the_oldest_waiter_on_the_next_timer_step) {
  one_shard sh;
  provider_gate g(1, 10, 1);
  shard_queue q;
  g.attach(0, sh.s, &q);
  runtime::alarm a1(sh.s), a2(sh.s);
  queue_waiter w1{&a1}, w2{&a2};
  ASSERT_TRUE(g.enter(0, w1));
  ASSERT_TRUE(g.enter(0, w2));
  int r1 = -1, r2 = -1;
  uint64_t far = sh.s.now_ns() + 5'000'000'000ull;
  runtime::spawn(wait_once(a1, far, r1));
  runtime::spawn(wait_once(a2, far, r2));
  ASSERT_TRUE(g.slots().try_acquire());
  g.slots().release();
  g.notify(0);
  EXPECT_EQ(r1, -1) << "never resumed on the releaser's stack";
  EXPECT_TRUE(w1.woken);
  EXPECT_FALSE(w2.woken);
  // Later in the loop: the first waiter has run; it leaves, and the next release wakes w2.
  struct step_ctx {
    provider_gate& g;
    queue_waiter& w1;
    int& r1;
    int& r2;
    int r1_then = -2, r2_then = -2;
  } ctx{g, w1, r1, r2};
  runtime::timer step(
      [](runtime::timer&, void* c) noexcept {
        auto& x = *static_cast<step_ctx*>(c);
        x.r1_then = x.r1;
        x.r2_then = x.r2;  // one release, one wake: w2 still waits
        x.g.leave(0, x.w1);
        x.g.notify(0);
      },
      &ctx);
  sh.s.timers().arm(step, sh.s.now_ns() + 20'000'000);
  runtime::timer t(&stop, &sh.s);
  sh.s.timers().arm(t, sh.s.now_ns() + 60'000'000);
  sh.run_until_stopped();
  EXPECT_EQ(ctx.r1_then, 1);
  EXPECT_EQ(ctx.r2_then, -1);
  EXPECT_TRUE(w2.woken);
  EXPECT_EQ(r2, 1);
  g.leave(0, w2);
  g.detach(0);
}

TEST(bulkhead, no_waiter_no_wake) {
  one_shard sh;
  provider_gate g(1, 10, 1);
  shard_queue q;
  g.attach(0, sh.s, &q);
  g.notify(0);  // nothing queued: nothing happens
  EXPECT_FALSE(q.wake_first());
  g.detach(0);
}

TEST(alarm, a_wake_before_the_wait_is_kept_and_a_deadline_reports_false) {
  one_shard sh;
  runtime::alarm a(sh.s);
  a.wake();
  int r = -1;
  runtime::spawn(wait_once(a, UINT64_MAX, r));
  EXPECT_EQ(r, 1);  // ready at once
  r = -1;
  runtime::spawn(wait_once(a, sh.s.now_ns() + 1'000'000, r));
  runtime::timer t(&stop, &sh.s);
  sh.s.timers().arm(t, sh.s.now_ns() + 30'000'000);
  sh.run_until_stopped();
  EXPECT_EQ(r, 0);
}

}  // namespace
