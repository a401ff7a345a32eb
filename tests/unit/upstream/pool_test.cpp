// upstream::pool on a real shard against loopback listeners: reuse of an idle connection, the
// idle_max bound, the idle timeout, a server-side close noticed while idle, the connections_max
// cap (a waiter served by a release, by a closed slot, in arrival order, or failing at the
// connect timeout), fresh_only at the cap, connect timeout / refusal, and acquire_cancel ending a
// wait for a slot or a connect in flight.
// Every body is a named coroutine on the shard; results are checked on the test thread.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include <ringgate/runtime/block_pool.hpp>
#include <ringgate/runtime/clock.hpp>
#include <ringgate/runtime/shard.hpp>
#include <ringgate/runtime/sleep.hpp>
#include <ringgate/runtime/task.hpp>
#include <ringgate/upstream/pool.hpp>

using namespace rg;
using runtime::task;
using upstream::connection;
using upstream::pool;
using upstream::reuse;

namespace {

// A loopback listener nobody accepts from: the kernel completes handshakes into its backlog.
struct listener {
  int fd = -1;
  uint16_t port = 0;
  explicit listener(int backlog = 64) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, backlog) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      ADD_FAILURE() << "listener setup failed";
    }
    port = ntohs(a.sin_port);
  }
  ~listener() { ::close(fd); }
};

upstream::endpoint_options options_for(uint16_t port) {
  upstream::endpoint_options o;
  o.provider = "test";
  o.host = "127.0.0.1";
  o.port = port;
  o.host_header = "127.0.0.1:" + std::to_string(port);
  o.connect_timeout_ms = 5000;
  return o;
}

// What a body saw, checked after the shard stopped.
struct env {
  explicit env(upstream::endpoint_options o) : ep(std::move(o)) { EXPECT_TRUE(ep.resolve()); }
  upstream::endpoint ep;
  runtime::shard* s = nullptr;
  pool* p = nullptr;
  std::vector<connection*> conns;
  std::vector<int> order;  // which waiter got a connection, in order
  std::vector<rg::error> errors;
  upstream::pool_counters counters;
  uint32_t idle = 0, total = 0, waiting = 0;
  bool done = false;
};

using body_fn = task<void> (*)(env&);

// Closes what is idle, waits for every close to finish, then stops the shard.
task<void> finish(env& e) {
  e.counters = e.p->counters();
  e.idle = e.p->idle();
  e.total = e.p->total();
  e.waiting = e.p->waiting();
  e.p->close_idle();
  while (e.p->closing() > 0) co_await runtime::sleep_for_ms(*e.s, 1);
  e.done = true;
  e.s->stop();
}

void run(env& e, body_fn body) {
  std::thread t([&] {
    runtime::shard s(runtime::shard_options{});
    runtime::block_pool blocks(64 * 1024, 16);
    pool p(s, blocks, e.ep);
    e.s = &s;
    e.p = &p;
    runtime::spawn(body(e));
    s.run();
    e.p = nullptr;
  });
  t.join();
  EXPECT_TRUE(e.done) << "the body did not finish";
}

// Acquires one connection into e.conns (or records the error).
task<void> take(env& e) {
  auto c = co_await e.p->acquire();
  if (c) {
    e.conns.push_back(*c);
  } else {
    e.errors.push_back(c.error());
  }
}

// Gives back every connection in e.conns from index `from` on.
void release_all(env& e, reuse r, size_t from = 0) {
  for (size_t i = from; i < e.conns.size(); ++i) e.p->release(e.conns[i], r);
}

// Polls `pred` on the shard for up to 5 s (a bound, not an assertion of timing).
template <typename Pred>
task<void> until(env& e, Pred pred) {
  uint64_t give_up = e.s->now_ns() + runtime::ms_to_ns(5000);
  while (!pred() && e.s->now_ns() < give_up) co_await runtime::sleep_for_ms(*e.s, 2);
}

task<void> reuse_body(env& e) {
  co_await take(e);
  if (e.conns.size() == 1) {
    connection* first = e.conns[0];
    e.p->release(first, reuse::keep);
    co_await take(e);
    if (e.conns.size() == 2) e.p->release(e.conns[1], reuse::keep);
  }
  co_await finish(e);
}

TEST(pool, an_idle_connection_is_reused) {
  listener l;
  env e(options_for(l.port));
  run(e, reuse_body);
  ASSERT_EQ(e.conns.size(), 2u);
  EXPECT_EQ(e.conns[0], e.conns[1]);
  EXPECT_EQ(e.counters.connects, 1u);
  EXPECT_EQ(e.counters.reuses, 1u);
  EXPECT_EQ(e.idle, 1u);
}

task<void> idle_max_body(env& e) {
  for (int i = 0; i < 3; ++i) co_await take(e);
  release_all(e, reuse::keep);
  co_await finish(e);
}

TEST(pool, idle_max_bounds_the_connections_kept) {
  listener l;
  auto o = options_for(l.port);
  o.pool_idle_per_shard_max = 2;
  env e(o);
  run(e, idle_max_body);
  EXPECT_EQ(e.conns.size(), 3u);
  EXPECT_EQ(e.counters.connects, 3u);
  EXPECT_EQ(e.idle, 2u);
  EXPECT_EQ(e.total, 2u);  // the third was closed on release
}

task<void> idle_timeout_body(env& e) {
  co_await take(e);
  release_all(e, reuse::keep);
  co_await until(e, [&] { return e.p->idle() == 0; });
  co_await finish(e);
}

TEST(pool, an_idle_connection_is_closed_after_the_idle_timeout) {
  listener l;
  auto o = options_for(l.port);
  o.pool_idle_timeout_ms = 20;
  env e(o);
  run(e, idle_timeout_body);
  EXPECT_EQ(e.idle, 0u);
  EXPECT_EQ(e.counters.idle_closed, 1u);
}

task<void> server_close_body(env& e) {
  co_await take(e);
  release_all(e, reuse::keep);
  // The test thread accepts and closes the server side now.
  co_await until(e, [&] { return e.p->idle() == 0; });
  co_await take(e);  // a new one: the dead one is gone
  if (e.conns.size() == 2) e.p->release(e.conns[1], reuse::keep);
  co_await finish(e);
}

TEST(pool, an_idle_connection_the_server_closed_is_dropped) {
  listener l;
  env e(options_for(l.port));
  std::thread server([&] {
    int fd = ::accept(l.fd, nullptr, nullptr);
    ::close(fd);
  });
  run(e, server_close_body);
  server.join();
  ASSERT_EQ(e.conns.size(), 2u);
  EXPECT_EQ(e.counters.idle_closed, 1u);
  EXPECT_EQ(e.counters.connects, 2u);
}

task<void> late_release(env& e, connection* c, uint64_t after_ms, reuse r) {
  co_await runtime::sleep_for_ms(*e.s, after_ms);
  e.p->release(c, r);
}

task<void> wait_for_release_body(env& e) {
  co_await take(e);
  co_await take(e);
  if (e.conns.size() == 2) {
    runtime::spawn(late_release(e, e.conns[0], 20, reuse::keep));
    co_await take(e);  // the pool is full: waits for the release
  }
  release_all(e, reuse::keep, 1);
  co_await finish(e);
}

TEST(pool, a_full_pool_hands_a_released_connection_to_the_waiter) {
  listener l;
  auto o = options_for(l.port);
  o.pool_connections_per_shard_max = 2;
  env e(o);
  run(e, wait_for_release_body);
  ASSERT_EQ(e.conns.size(), 3u);
  EXPECT_EQ(e.conns[2], e.conns[0]);  // the released one, reused
  EXPECT_EQ(e.counters.connects, 2u);
  EXPECT_EQ(e.counters.waits, 1u);
  EXPECT_EQ(e.counters.exhausted, 0u);
  EXPECT_TRUE(e.errors.empty());
}

task<void> exhausted_body(env& e) {
  co_await take(e);
  co_await take(e);  // waits connect_timeout_ms, then fails
  e.waiting = e.p->waiting();
  release_all(e, reuse::keep);
  co_await finish(e);
}

TEST(pool, a_full_pool_fails_at_the_connect_timeout) {
  listener l;
  auto o = options_for(l.port);
  o.pool_connections_per_shard_max = 1;
  o.connect_timeout_ms = 30;
  env e(o);
  run(e, exhausted_body);
  ASSERT_EQ(e.conns.size(), 1u);
  ASSERT_EQ(e.errors.size(), 1u);
  EXPECT_EQ(e.errors[0].kind, rg::error_kind::limit);
  EXPECT_EQ(e.errors[0].context, "upstream connection pool exhausted");
  EXPECT_EQ(e.counters.waits, 1u);
  EXPECT_EQ(e.counters.exhausted, 1u);
  EXPECT_EQ(e.counters.connects, 1u);
  EXPECT_EQ(e.waiting, 0u);
}

task<void> numbered_take(env& e, int n) {
  auto c = co_await e.p->acquire();
  if (!c) {
    e.errors.push_back(c.error());
    co_return;
  }
  e.order.push_back(n);
  e.conns.push_back(*c);
  co_await runtime::sleep_for_ms(*e.s, 5);
  e.p->release(*c, reuse::keep);
}

task<void> fifo_body(env& e) {
  co_await take(e);
  if (e.conns.size() != 1) {
    co_await finish(e);
    co_return;
  }
  connection* first = e.conns[0];
  runtime::spawn(numbered_take(e, 1));
  runtime::spawn(numbered_take(e, 2));
  runtime::spawn(numbered_take(e, 3));
  // A close frees the slot: waiter 1 connects anew; 2 and 3 then get it, released, in turn.
  e.p->release(first, reuse::close);
  co_await until(e, [&] { return e.order.size() == 3 && e.p->leased() == 0; });
  co_await finish(e);
}

TEST(pool, waiters_are_served_in_arrival_order) {
  listener l;
  auto o = options_for(l.port);
  o.pool_connections_per_shard_max = 1;
  env e(o);
  run(e, fifo_body);
  EXPECT_EQ(e.order, (std::vector<int>{1, 2, 3}));
  ASSERT_EQ(e.conns.size(), 4u);
  EXPECT_EQ(e.conns[2], e.conns[1]);  // conns[1]: a fresh connection in the freed slot
  EXPECT_EQ(e.conns[3], e.conns[1]);
  EXPECT_EQ(e.counters.connects, 2u);
  EXPECT_EQ(e.counters.waits, 3u);
  EXPECT_EQ(e.counters.exhausted, 0u);
  EXPECT_EQ(e.total, 1u);
}

task<void> fresh_only_body(env& e) {
  co_await take(e);
  release_all(e, reuse::keep);
  auto c = co_await e.p->acquire(true);  // the stale-retry path: never the idle one
  if (c) {
    e.conns.push_back(*c);
    e.p->release(*c, reuse::keep);
  } else {
    e.errors.push_back(c.error());
  }
  co_await finish(e);
}

TEST(pool, fresh_only_at_the_cap_closes_an_idle_connection_to_make_room) {
  listener l;
  auto o = options_for(l.port);
  o.pool_connections_per_shard_max = 1;
  env e(o);
  run(e, fresh_only_body);
  ASSERT_EQ(e.conns.size(), 2u);
  EXPECT_TRUE(e.errors.empty());
  EXPECT_EQ(e.counters.connects, 2u);
  EXPECT_EQ(e.counters.idle_closed, 1u);
  EXPECT_EQ(e.counters.waits, 0u);
}

task<void> one_take_body(env& e) {
  co_await take(e);
  release_all(e, reuse::close);
  co_await finish(e);
}

TEST(pool, connect_times_out_on_a_listener_that_never_answers) {
  // A backlog of 0 holds one completed connection; with it taken, SYNs are dropped unanswered.
  listener l(0);
  int filler = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(l.port);
  ASSERT_EQ(::connect(filler, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  auto o = options_for(l.port);
  o.connect_timeout_ms = 50;
  env e(o);
  run(e, one_take_body);
  ::close(filler);
  EXPECT_TRUE(e.conns.empty());
  ASSERT_EQ(e.errors.size(), 1u);
  EXPECT_EQ(e.errors[0].kind, rg::error_kind::timeout);
  EXPECT_EQ(e.counters.connect_errors, 1u);
  EXPECT_EQ(e.total, 0u);
}

TEST(pool, a_refused_connect_is_an_io_error) {
  uint16_t port;
  {
    listener l;
    port = l.port;
  }  // closed: nothing listens there now
  env e(options_for(port));
  run(e, one_take_body);
  ASSERT_EQ(e.errors.size(), 1u);
  EXPECT_EQ(e.errors[0].kind, rg::error_kind::io);
  EXPECT_EQ(e.errors[0].sys_errno, ECONNREFUSED);
  EXPECT_EQ(e.total, 0u);
}

// Acquires with a cancel token into e.conns (or records the error).
task<void> cancellable_take(env& e, upstream::acquire_cancel& token) {
  auto c = co_await e.p->acquire(false, &token);
  if (c) {
    e.conns.push_back(*c);
  } else {
    e.errors.push_back(c.error());
  }
}

task<void> cancel_waiting_body(env& e) {
  co_await take(e);  // the pool (cap 1) is full
  upstream::acquire_cancel queued, handed;
  runtime::spawn(cancellable_take(e, queued));
  co_await until(e, [&] { return e.p->waiting() == 1; });
  queued.cancel();
  co_await until(e, [&] { return e.errors.size() == 1; });
  // A waiter cancelled right after it was handed the released connection passes it on.
  runtime::spawn(cancellable_take(e, handed));
  runtime::spawn(take(e));
  co_await until(e, [&] { return e.p->waiting() == 2; });
  e.p->release(e.conns[0], reuse::keep);  // wakes `handed` (resumed from the timer loop) …
  handed.cancel();                        // … which is cancelled before it runs
  co_await until(e, [&] { return e.errors.size() == 2 && e.conns.size() == 2; });
  e.waiting = e.p->waiting();
  release_all(e, reuse::keep, 1);
  co_await finish(e);
}

TEST(pool, a_cancelled_waiter_leaves_the_queue_and_passes_on_a_connection_it_was_handed) {
  listener l;
  auto o = options_for(l.port);
  o.pool_connections_per_shard_max = 1;
  env e(o);
  run(e, cancel_waiting_body);
  ASSERT_EQ(e.errors.size(), 2u);
  for (const auto& err : e.errors) EXPECT_EQ(err.kind, rg::error_kind::cancelled);
  ASSERT_EQ(e.conns.size(), 2u);
  EXPECT_EQ(e.conns[1], e.conns[0]);    // the third acquire got the released connection
  EXPECT_EQ(e.counters.exhausted, 0u);  // a cancel is not exhaustion
  EXPECT_EQ(e.counters.connects, 1u);
  EXPECT_EQ(e.waiting, 0u);
}

task<void> cancel_connect_body(env& e) {
  upstream::acquire_cancel token;
  runtime::spawn(cancellable_take(e, token));
  co_await until(e, [&] { return e.p->connecting() == 1; });
  token.cancel();
  co_await until(e, [&] { return !e.errors.empty(); });
  co_await finish(e);
}

TEST(pool, a_cancel_cuts_a_connect_in_flight_short) {
  // As above: a full backlog leaves the connect unanswered, here far past the test's bounds.
  listener l(0);
  int filler = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(l.port);
  ASSERT_EQ(::connect(filler, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  auto o = options_for(l.port);
  o.connect_timeout_ms = 60000;
  env e(o);
  run(e, cancel_connect_body);
  ::close(filler);
  EXPECT_TRUE(e.conns.empty());
  ASSERT_EQ(e.errors.size(), 1u);
  EXPECT_EQ(e.errors[0].kind, rg::error_kind::cancelled);
  EXPECT_EQ(e.total, 0u);  // not left counted as connecting
}

}  // namespace
