// Bounded MPSC mailbox: refusal when full, no loss or duplication under concurrent producers.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include <ringgate/runtime/mpsc_queue.hpp>

using rg::runtime::mpsc_queue;

TEST(mpsc_queue, refuses_when_full) {
  mpsc_queue<int> q(4);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(q.try_push(i));
  EXPECT_FALSE(q.try_push(99));
  int v = -1;
  EXPECT_TRUE(q.try_pop(v));
  EXPECT_EQ(v, 0);
  EXPECT_TRUE(q.try_push(4));
  for (int want = 1; want <= 4; ++want) {
    ASSERT_TRUE(q.try_pop(v));
    EXPECT_EQ(v, want);
  }
  EXPECT_FALSE(q.try_pop(v));
}

TEST(mpsc_queue, many_producers_one_consumer) {
  constexpr int producers = 4, per = 20000;
  mpsc_queue<int> q(256);
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&q, p] {
      for (int i = 0; i < per; ++i) {
        while (!q.try_push(p * per + i)) std::this_thread::yield();
      }
    });
  }
  std::vector<int> seen(producers * per, 0);
  int got = 0;
  while (got < producers * per) {
    int v;
    if (q.try_pop(v)) {
      ++seen[v];
      ++got;
    }
  }
  for (auto& t : threads) t.join();
  for (int c : seen) ASSERT_EQ(c, 1);
}
