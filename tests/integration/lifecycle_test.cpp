// Connection and process lifecycle of the real binary: deadlines (slowloris, idle keep-alive),
// per-connection request caps, graceful drain on SIGTERM/SIGINT, and sd_notify/watchdog messages.
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "harness.hpp"

namespace rg::itest {
namespace {

std::unique_ptr<server> start_with(std::string toml, std::vector<std::string> env = {}) {
  server_options opts;
  opts.config_toml = std::move(toml);
  opts.env = std::move(env);
  return server::start(opts);
}

std::string unique_name(std::string_view what) {
  static std::atomic<int> counter{0};
  return "ringgate-itest-" + std::string(what) + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(counter++);
}

// A POST whose head is complete and whose 10-byte body is half sent. The 100 Continue proves the
// server has parsed the head and is reading the body, i.e. the request is in flight.
void start_half_sent_post(client& c) {
  ASSERT_TRUE(
      c.send("POST /drain-test HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n"
             "Expect: 100-continue\r\n\r\n"))
      << c.last_error();
  auto interim = c.read_response();
  ASSERT_TRUE(interim) << c.last_error();
  ASSERT_EQ(interim->status, 100);
  ASSERT_TRUE(c.send("12345")) << c.last_error();
}

TEST(lifecycle, slowloris_is_closed_while_other_clients_are_served) {
  auto s = start_with("[server.timeouts]\nheader_read_ms = 500\n");
  ASSERT_NE(s, nullptr);
  client slow;
  ASSERT_TRUE(slow.connect(s->port()));
  ASSERT_TRUE(slow.send("GET /health HTTP/1.1\r\nHost: a\r\nX-Slow: "));
  client normal;
  ASSERT_TRUE(normal.connect(s->port()));

  // Trickle one byte every ~100 ms; meanwhile the normal client keeps getting answers.
  auto start = steady::now();
  bool closed = false;
  int served = 0;
  while (!closed && steady::now() - start < 5s) {
    ASSERT_TRUE(normal.send(get_request("/health"))) << normal.last_error();
    auto r = normal.read_response(2s);
    ASSERT_TRUE(r) << "normal client starved: " << normal.last_error();
    EXPECT_EQ(r->status, 200);
    ++served;
    closed = slow.wait_closed(100ms) || !slow.send("a");  // a failed send means reset: closed
  }
  auto elapsed = std::chrono::duration_cast<ms>(steady::now() - start);
  EXPECT_TRUE(closed) << "slow client still open after " << elapsed.count()
                      << " ms with header_read_ms = 500";
  EXPECT_GE(served, 1);
  if (!slow.buffered().empty()) {  // a 408 before the close is allowed, nothing else
    EXPECT_TRUE(slow.buffered().starts_with("HTTP/1.1 408")) << slow.buffered();
  }
  auto after = http_get(s->port(), "/health");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200);
  EXPECT_EQ(s->stop(), 0) << s->proc().err_text();
}

TEST(lifecycle, idle_keep_alive_connection_is_closed_after_keepalive_idle_ms) {
  auto s = start_with("[server.timeouts]\nkeepalive_idle_ms = 300\n");
  ASSERT_NE(s, nullptr);
  client c;
  ASSERT_TRUE(c.connect(s->port()));
  for (int i = 0; i < 2; ++i) {  // back-to-back requests keep the connection alive
    ASSERT_TRUE(c.send(get_request("/health")));
    auto r = c.read_response();
    ASSERT_TRUE(r) << c.last_error();
    EXPECT_EQ(r->status, 200);
    EXPECT_FALSE(r->connection_close());
  }
  EXPECT_TRUE(c.wait_closed(5s)) << "idle connection not closed: " << c.last_error();
  EXPECT_EQ(s->stop(), 0) << s->proc().err_text();
}

TEST(lifecycle, connections_over_the_per_shard_limit_are_closed) {
  server_options opts;
  opts.shards = 1;
  opts.config_toml = "[server.limits]\nconnections_per_shard_max = 2\n";
  auto s = server::start(opts);
  ASSERT_NE(s, nullptr);
  client a, b, c;
  for (client* k : {&a, &b}) {
    ASSERT_TRUE(k->connect(s->port()));
    ASSERT_TRUE(k->send(get_request("/health")));
    auto r = k->read_response();
    ASSERT_TRUE(r) << k->last_error();
    EXPECT_EQ(r->status, 200);
  }
  ASSERT_TRUE(c.connect(s->port()));  // the kernel accepts; ringgate closes it at once
  EXPECT_TRUE(c.wait_closed(3s)) << "third connection not shed: " << c.last_error();
  EXPECT_TRUE(c.buffered().empty()) << c.buffered();
  ASSERT_TRUE(a.send(get_request("/health")));  // the first two are untouched
  auto r = a.read_response();
  ASSERT_TRUE(r) << a.last_error();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(s->stop(), 0) << s->proc().err_text();
}

TEST(lifecycle, slow_body_gets_408_at_the_body_deadline) {
  auto s = start_with("[server.timeouts]\nbody_read_ms = 300\n");
  ASSERT_NE(s, nullptr);
  client c;
  ASSERT_TRUE(c.connect(s->port()));
  ASSERT_TRUE(c.send("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n12345"));
  EXPECT_TRUE(c.wait_closed(5s)) << c.last_error();
  EXPECT_TRUE(c.buffered().starts_with("HTTP/1.1 408")) << c.buffered();
  EXPECT_EQ(s->stop(), 0) << s->proc().err_text();
}

TEST(lifecycle, requests_per_connection_max_closes_after_the_last_one) {
  auto s = start_with("[server.limits]\nrequests_per_connection_max = 2\n");
  ASSERT_NE(s, nullptr);
  client c;
  ASSERT_TRUE(c.connect(s->port()));
  ASSERT_TRUE(c.send(get_request("/health")));
  auto first = c.read_response();
  ASSERT_TRUE(first) << c.last_error();
  EXPECT_EQ(first->status, 200);
  EXPECT_FALSE(first->connection_close());
  ASSERT_TRUE(c.send(get_request("/health")));
  auto second = c.read_response();
  ASSERT_TRUE(second) << c.last_error();
  EXPECT_EQ(second->status, 200);
  EXPECT_TRUE(second->connection_close()) << "2nd response lacks Connection: close";
  EXPECT_TRUE(c.wait_closed(3s)) << c.last_error();
  EXPECT_EQ(s->stop(), 0) << s->proc().err_text();
}

TEST(lifecycle, sigterm_drains_the_in_flight_request_and_exits_zero) {
  temp_dir dir;
  notify_listener notify;
  ASSERT_TRUE(notify.bind_path(dir.path() + "/notify.sock"));
  auto s =
      start_with("[server]\ndrain_timeout_ms = 5000\n", {"NOTIFY_SOCKET=" + notify.env_value()});
  ASSERT_NE(s, nullptr);

  // An idle keep-alive connection, proven accepted and served before the signal.
  client idle;
  ASSERT_TRUE(idle.connect(s->port()));
  ASSERT_TRUE(idle.send(get_request("/ready")));
  auto ready = idle.read_response();
  ASSERT_TRUE(ready) << idle.last_error();
  ASSERT_EQ(ready->status, 200);

  client in_flight;
  ASSERT_TRUE(in_flight.connect(s->port()));
  ASSERT_NO_FATAL_FAILURE(start_half_sent_post(in_flight));

  ASSERT_TRUE(s->proc().send_signal(SIGTERM));
  ASSERT_TRUE(notify.wait_for("STOPPING=1", 5s)) << notify.history();

  // Once draining reaches the idle connection's shard, /ready answers 503 or the connection is
  // closed (idle connections are closed during drain). Poll: the shard may lag the signal.
  bool drained_view = false;
  for (auto deadline = steady::now() + 3s; !drained_view && steady::now() < deadline;) {
    if (!idle.send(get_request("/ready"))) {
      drained_view = true;
      break;
    }
    auto r = idle.read_response(2s);
    drained_view = r ? r->status == 503 : idle.wait_closed(1s);
    if (r && r->status != 503) {
      ASSERT_EQ(r->status, 200) << r->body;
      std::this_thread::sleep_for(20ms);  // polling interval, not an assertion
    }
  }
  EXPECT_TRUE(drained_view) << "/ready still 200 three seconds after SIGTERM";

  // The in-flight request completes, and is told the connection ends.
  ASSERT_TRUE(in_flight.send("67890")) << "in-flight request cut off: " << in_flight.last_error();
  auto r = in_flight.read_response();
  ASSERT_TRUE(r) << "in-flight request got no response: " << in_flight.last_error();
  EXPECT_GE(r->status, 200);
  EXPECT_LT(r->status, 500) << r->body;
  EXPECT_TRUE(r->connection_close());
  EXPECT_TRUE(in_flight.wait_closed(3s)) << in_flight.last_error();

  EXPECT_EQ(s->proc().wait_exit(8s), 0) << s->proc().err_text();
}

TEST(lifecycle, drain_timeout_bounds_a_stuck_request) {
  auto s = start_with("[server]\ndrain_timeout_ms = 500\n");
  ASSERT_NE(s, nullptr);
  client stuck;
  ASSERT_TRUE(stuck.connect(s->port()));
  ASSERT_NO_FATAL_FAILURE(start_half_sent_post(stuck));  // the other 5 bytes never come
  auto start = steady::now();
  ASSERT_TRUE(s->proc().send_signal(SIGTERM));
  EXPECT_EQ(s->proc().wait_exit(5s), 0) << s->proc().err_text();
  EXPECT_LT(steady::now() - start, 5s);
  EXPECT_TRUE(stuck.wait_closed(1s)) << stuck.last_error();
}

TEST(lifecycle, sigint_also_stops_cleanly) {
  auto s = start_with("");
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->proc().send_signal(SIGINT));
  EXPECT_EQ(s->proc().wait_exit(8s), 0) << s->proc().err_text();
}

void expect_ready_then_stopping(notify_listener& notify) {
  auto s = start_with("", {"NOTIFY_SOCKET=" + notify.env_value()});
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(notify.wait_for("READY=1", 5s)) << notify.history();
  auto r = http_get(s->port(), "/ready");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  ASSERT_TRUE(s->proc().send_signal(SIGTERM));
  EXPECT_TRUE(notify.wait_for("STOPPING=1", 5s)) << notify.history();
  EXPECT_EQ(s->proc().wait_exit(8s), 0) << s->proc().err_text();
}

TEST(lifecycle, notify_socket_gets_ready_then_stopping) {
  temp_dir dir;
  notify_listener notify;
  ASSERT_TRUE(notify.bind_path(dir.path() + "/notify.sock"));
  expect_ready_then_stopping(notify);
}

TEST(lifecycle, abstract_notify_socket_gets_ready_then_stopping) {
  notify_listener notify;
  ASSERT_TRUE(notify.bind_abstract(unique_name("notify")));
  ASSERT_EQ(notify.env_value().front(), '@');
  expect_ready_then_stopping(notify);
}

TEST(lifecycle, watchdog_pings_when_watchdog_usec_is_set) {
  temp_dir dir;
  notify_listener notify;
  ASSERT_TRUE(notify.bind_path(dir.path() + "/notify.sock"));
  auto s = start_with("", {"NOTIFY_SOCKET=" + notify.env_value(), "WATCHDOG_USEC=200000"});
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(notify.wait_for("WATCHDOG=1", 2s)) << notify.history();
  EXPECT_EQ(s->stop(), 0) << s->proc().err_text();
}

}  // namespace
}  // namespace rg::itest
