// Timer heap: ordering, re-arming, cancellation, bounded firing.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include <ringgate/runtime/timer.hpp>

using rg::runtime::timer;
using rg::runtime::timer_heap;

namespace {
struct recorder {
  std::vector<int> fired;
};
struct tagged {
  recorder* rec;
  int tag;
};
void record(timer&, void* ctx) noexcept {
  auto* t = static_cast<tagged*>(ctx);
  t->rec->fired.push_back(t->tag);
}
}  // namespace

TEST(timer_heap, fires_in_deadline_order) {
  timer_heap heap;
  recorder rec;
  std::vector<tagged> tags(100);
  std::vector<timer> timers(100);
  std::mt19937 rng(1);
  std::vector<uint64_t> deadlines;
  for (int i = 0; i < 100; ++i) {
    tags[i] = {&rec, i};
    timers[i].set_callback(&record, &tags[i]);
    uint64_t d = rng() % 1000;
    deadlines.push_back(d);
    heap.arm(timers[i], d);
  }
  EXPECT_EQ(heap.fire_expired(2000, 1000), 100u);
  ASSERT_EQ(rec.fired.size(), 100u);
  for (size_t i = 1; i < rec.fired.size(); ++i) {
    EXPECT_LE(deadlines[rec.fired[i - 1]], deadlines[rec.fired[i]]);
  }
  EXPECT_EQ(heap.size(), 0u);
}

TEST(timer_heap, rearm_and_cancel) {
  timer_heap heap;
  recorder rec;
  tagged a{&rec, 1}, b{&rec, 2}, c{&rec, 3};
  timer ta(&record, &a), tb(&record, &b), tc(&record, &c);
  heap.arm(ta, 10);
  heap.arm(tb, 20);
  heap.arm(tc, 30);
  heap.arm(ta, 40);  // later
  heap.arm(tc, 5);   // earlier
  heap.cancel(tb);
  EXPECT_FALSE(tb.armed());
  EXPECT_EQ(heap.next_deadline_ns(), 5u);
  EXPECT_EQ(heap.fire_expired(35, 10), 1u);
  EXPECT_EQ(heap.fire_expired(100, 10), 1u);
  EXPECT_EQ(rec.fired, (std::vector<int>{3, 1}));
}

TEST(timer_heap, fire_is_bounded_per_turn) {
  timer_heap heap;
  recorder rec;
  std::vector<tagged> tags(10);
  std::vector<timer> timers(10);
  for (int i = 0; i < 10; ++i) {
    tags[i] = {&rec, i};
    timers[i].set_callback(&record, &tags[i]);
    heap.arm(timers[i], 1);
  }
  EXPECT_EQ(heap.fire_expired(5, 3), 3u);
  EXPECT_EQ(heap.size(), 7u);
}

TEST(timer_heap, destroying_an_armed_timer_unlinks_it) {
  timer_heap heap;
  {
    timer t;
    heap.arm(t, 1);
    EXPECT_EQ(heap.size(), 1u);
  }
  EXPECT_EQ(heap.size(), 0u);
  EXPECT_EQ(heap.next_deadline_ns(), UINT64_MAX);
}
