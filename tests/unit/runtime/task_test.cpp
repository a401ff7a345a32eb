// task<T>: laziness, values through co_await chains, detached roots freeing their frames.
#include <gtest/gtest.h>

#include <coroutine>

#include <ringgate/runtime/frame_pool.hpp>
#include <ringgate/runtime/task.hpp>

using rg::runtime::task;

namespace {

task<int> leaf(int x) { co_return x * 2; }
task<int> middle(int x) {
  int a = co_await leaf(x);
  int b = co_await leaf(a);
  co_return a + b;
}

struct gate {
  std::coroutine_handle<> waiter;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) noexcept { waiter = h; }
  void await_resume() const noexcept {}
};

task<void> root(gate& g, int& out) {
  out = co_await middle(1);
  co_await g;
  out += 100;
}

}  // namespace

TEST(task, lazy_until_started_and_chains_values) {
  size_t before = rg::runtime::frames_live();
  gate g;
  int out = 0;
  {
    auto t = root(g, out);
    EXPECT_EQ(out, 0);  // lazy
  }
  EXPECT_EQ(rg::runtime::frames_live(), before);  // destroyed unstarted
  rg::runtime::spawn(root(g, out));
  EXPECT_EQ(out, 6);  // 2 + 4
  ASSERT_TRUE(g.waiter);
  g.waiter.resume();
  EXPECT_EQ(out, 106);
  EXPECT_EQ(rg::runtime::frames_live(), before);  // detached frame freed itself
}

TEST(task, frames_are_recycled) {
  gate g;
  int out = 0;
  rg::runtime::spawn(root(g, out));
  g.waiter.resume();
  size_t live = rg::runtime::frames_live();
  for (int i = 0; i < 1000; ++i) {
    rg::runtime::spawn(root(g, out));
    g.waiter.resume();
  }
  EXPECT_EQ(rg::runtime::frames_live(), live);
}
