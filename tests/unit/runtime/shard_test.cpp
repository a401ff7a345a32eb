// Shard loop: cross-thread (eventfd) and cross-shard (MSG_RING) messages, timers, a shutdown that
// reaps every in-flight operation, and the same behaviour on the COOP_TASKRUN fallback ring.
#include <gtest/gtest.h>

#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include <ringgate/runtime/clock.hpp>
#include <ringgate/runtime/log.hpp>
#include <ringgate/runtime/shard.hpp>

using namespace rg::runtime;

namespace {

struct shard_thread {
  std::atomic<shard*> ptr{nullptr};
  std::atomic<bool> defer_taskrun{false};
  std::thread t;
  explicit shard_thread(uint32_t id, bool force_fallback = false) {
    t = std::thread([this, id, force_fallback] {
      shard_options o;
      o.id = id;
      o.force_ring_fallback = force_fallback;
      shard s(o);
      defer_taskrun.store(s.defer_taskrun());
      ptr.store(&s);
      s.run();
      ptr.store(nullptr);
      // Keep `s` alive until the test has stopped looking (join below).
    });
    while (!ptr.load()) std::this_thread::yield();
  }
  ~shard_thread() {
    if (t.joinable()) t.join();
  }
};

void stop_shard(shard& s, void*) noexcept { s.stop(); }

}  // namespace

TEST(shard, message_from_control_thread_runs_on_the_shard) {
  shard_thread st(0);
  std::atomic<uint32_t> ran_on{99};
  struct ctx_t {
    std::atomic<uint32_t>* out;
  } ctx{&ran_on};
  ASSERT_TRUE(st.ptr.load()->post({[](shard& s, void* c) noexcept {
                                     static_cast<ctx_t*>(c)->out->store(s.id());
                                     s.stop();
                                   },
                                   &ctx}));
  st.t.join();
  EXPECT_EQ(ran_on.load(), 0u);
}

namespace {

// Shard a posts to shard b from a's thread (so the wake must be a MSG_RING), then stops. Once b
// ran the message, the control thread asks b (through the eventfd) for its wake counters.
void expect_cross_shard_wake_is_msg_ring(bool force_fallback) {
  shard_thread a(1, force_fallback), b(2, force_fallback);
  shard* sa = a.ptr.load();
  shard* sb = b.ptr.load();
  struct ctx_t {
    shard* b;
    std::atomic<int> hops{0};
    std::atomic<uint64_t> msg_ring_wakes{0};
    std::atomic<uint64_t> eventfd_wakes{0};
    std::atomic<bool> reported{false};
  } ctx{sb};
  ASSERT_TRUE(sa->post(
      {[](shard& s, void* c) noexcept {
         auto* x = static_cast<ctx_t*>(c);
         x->hops.fetch_add(1);
         x->b->post(
             {[](shard&, void* c2) noexcept { static_cast<ctx_t*>(c2)->hops.fetch_add(1); }, c});
         s.stop();
       },
       &ctx}));
  a.t.join();  // a's MSG_RING was submitted by the time a's loop has quiesced
  while (ctx.hops.load() < 2) std::this_thread::yield();
  // The wake CQE is reaped in the same turn as (or before) the eventfd wake that brings this.
  ASSERT_TRUE(sb->post({[](shard& s, void* c) noexcept {
                          auto* x = static_cast<ctx_t*>(c);
                          x->msg_ring_wakes.store(s.stats().wakes_msg_ring);
                          x->eventfd_wakes.store(s.stats().wakes_eventfd);
                          x->reported.store(true);
                          s.stop();
                        },
                        &ctx}));
  b.t.join();
  ASSERT_TRUE(ctx.reported.load());
  EXPECT_EQ(ctx.hops.load(), 2);
  EXPECT_GE(ctx.msg_ring_wakes.load(), 1u) << "the cross-shard wake did not use IORING_OP_MSG_RING";
  EXPECT_GE(ctx.eventfd_wakes.load(), 1u) << "the control thread's wake did not use the eventfd";
}

}  // namespace

TEST(shard, message_between_shards_uses_msg_ring) {
  expect_cross_shard_wake_is_msg_ring(false);
}

TEST(shard, message_from_control_thread_counts_an_eventfd_wake) {
  shard_thread st(4);
  std::atomic<uint64_t> eventfd_wakes{0}, msg_ring_wakes{99};
  struct ctx_t {
    std::atomic<uint64_t>* efd;
    std::atomic<uint64_t>* ring;
  } ctx{&eventfd_wakes, &msg_ring_wakes};
  ASSERT_TRUE(st.ptr.load()->post({[](shard& s, void* c) noexcept {
                                     auto* x = static_cast<ctx_t*>(c);
                                     x->efd->store(s.stats().wakes_eventfd);
                                     x->ring->store(s.stats().wakes_msg_ring);
                                     s.stop();
                                   },
                                   &ctx}));
  st.t.join();
  EXPECT_GE(eventfd_wakes.load(), 1u);
  EXPECT_EQ(msg_ring_wakes.load(), 0u);
}

TEST(shard, timers_fire_on_the_loop) {
  shard_thread st(3);
  struct ctx_t {
    timer t;
    uint64_t armed_at = 0;
    std::atomic<uint64_t> fired_after{0};
  } ctx;
  st.ptr.load()->post({[](shard& s, void* c) noexcept {
                         auto* x = static_cast<ctx_t*>(c);
                         x->armed_at = s.now_ns();
                         x->t.set_callback(
                             [](timer&, void* c2) noexcept {
                               auto* y = static_cast<ctx_t*>(c2);
                               shard* sh = shard::current();
                               y->fired_after.store(sh->now_ns() - y->armed_at + 1);
                               sh->stop();
                             },
                             x);
                         s.timers().arm(x->t, s.now_ns() + ms_to_ns(20));
                       },
                       &ctx});
  st.t.join();
  EXPECT_GE(ctx.fired_after.load(), ms_to_ns(20));
}

namespace {

void expect_stop_reaps_in_flight_operations(bool force_fallback) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  struct pending_read final : op {
    char buf[16];
    std::atomic<int> res{1};
    void complete(int r, uint32_t) noexcept override { res.store(r); }
  } rd;
  std::atomic<uint32_t> left{99};
  std::thread t([&] {
    shard_options o;
    o.force_ring_fallback = force_fallback;
    shard s(o);
    io_uring_prep_read(s.sqe_for(&rd), sv[0], rd.buf, sizeof(rd.buf), 0);
    s.post({&stop_shard, nullptr});
    s.run();
    left.store(s.in_flight());
  });
  t.join();
  EXPECT_EQ(left.load(), 0u);
  EXPECT_EQ(rd.res.load(), -ECANCELED);
  close(sv[0]);
  close(sv[1]);
}

}  // namespace

TEST(shard, stop_cancels_and_reaps_in_flight_operations) {
  expect_stop_reaps_in_flight_operations(false);
}

// The fallback ring (as on kernels without SINGLE_ISSUER|DEFER_TASKRUN): messages both ways,
// MSG_RING between shards, timers and the reaping shutdown all still work, and the fallback is
// logged once per process however many shards take it. The only test that forces the fallback,
// so the once-per-process line is this test's to see.
TEST(shard, fallback_ring_runs_and_warns_once_per_process) {
  int fd = ::memfd_create("rg-shard-test-log", MFD_CLOEXEC);
  ASSERT_GE(fd, 0);
  rg::log::configure({.min_level = rg::log::level::debug, .fmt = rg::log::format::text, .fd = fd});
  {
    shard_thread a(5, true);
    EXPECT_FALSE(a.defer_taskrun.load());
    ASSERT_NO_FATAL_FAILURE(expect_cross_shard_wake_is_msg_ring(true));
    // Timers on a fallback shard.
    struct ctx_t {
      timer t;
      std::atomic<bool> fired{false};
    } ctx;
    a.ptr.load()->post({[](shard& s, void* c) noexcept {
                          auto* x = static_cast<ctx_t*>(c);
                          x->t.set_callback(
                              [](timer&, void* c2) noexcept {
                                static_cast<ctx_t*>(c2)->fired.store(true);
                                shard::current()->stop();
                              },
                              x);
                          s.timers().arm(x->t, s.now_ns() + ms_to_ns(5));
                        },
                        &ctx});
    a.t.join();
    EXPECT_TRUE(ctx.fired.load());
    ASSERT_NO_FATAL_FAILURE(expect_stop_reaps_in_flight_operations(true));
  }
  rg::log::configure(rg::log::options{});
  std::string text(1 << 16, '\0');
  ssize_t n = ::pread(fd, text.data(), text.size(), 0);
  ::close(fd);
  text.resize(n > 0 ? size_t(n) : 0);
  size_t lines = 0;
  for (size_t at = 0; (at = text.find("falling back to COOP_TASKRUN", at)) != std::string::npos;
       ++at) {
    ++lines;
  }
  EXPECT_EQ(lines, 1u) << "four fallback shards, log:\n" << text;
}
