// Connection and process lifecycle of the real binary: deadlines (slowloris, a late first byte,
// idle keep-alive, a client that stops reading), per-shard and per-connection caps, graceful
// drain on SIGTERM/SIGINT (/ready 503, idle closed, new connections refused), and the sd_notify
// and watchdog messages (pings that stop while a shard's loop is stalled, not while it drains).
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
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

// Connects `c` and has it served GET `path` (200) on a connection that stays open.
void open_and_serve(client& c, uint16_t port, std::string_view path) {
  ASSERT_TRUE(c.connect(port)) << c.last_error();
  ASSERT_TRUE(c.send(get_request(path))) << c.last_error();
  auto r = c.read_response();
  ASSERT_TRUE(r) << c.last_error();
  ASSERT_EQ(r->status, 200) << r->body;
  ASSERT_FALSE(r->connection_close());
}

// The value of the Prometheus sample line `series` (exact text before the value), or -1.
double sample(const std::string& text, const std::string& series) {
  for (size_t pos = 0; (pos = text.find(series + " ", pos)) != std::string::npos; ++pos) {
    if (pos == 0 || text[pos - 1] == '\n') return std::stod(text.substr(pos + series.size() + 1));
  }
  return -1;
}

std::string scrape(const server& s) {
  client c;
  if (!c.connect(s.admin_port()) || !c.send(get_request("/metrics"))) return {};
  auto r = c.read_response();
  return r && r->status == 200 ? r->body : std::string();
}

size_t occurrences(const std::string& text, std::string_view needle) {
  size_t n = 0;
  for (size_t at = 0; (at = text.find(needle, at)) != std::string::npos; at += needle.size()) ++n;
  return n;
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

// The head deadline runs from accept, not from the first byte (nginx's client_header_timeout):
// `late` connects first and sends its first byte after a pause; `early` connects 500 ms later
// and starts at once; both then dribble. With one deadline per connection `late` is closed first
// (~1000 ms after its accept, `early` at ~1500 ms); were the deadline restarted at the first
// byte, `late` would last until ~1700 ms, after `early`. Only the order is asserted.
TEST(lifecycle, header_deadline_runs_from_accept_not_from_the_first_byte) {
  server_options opts;
  opts.shards = 1;
  opts.config_toml = "[server.timeouts]\nheader_read_ms = 1000\n";
  auto s = server::start(opts);
  ASSERT_NE(s, nullptr);
  const std::string head = "GET /health HTTP/1.1\r\nHost: a\r\nX-Slow: " + std::string(200, 'a');
  struct slow {
    client c;
    size_t sent = 0;
    bool started = false;
    std::optional<steady::time_point> closed_at;
  } late, early;
  auto start = steady::now();
  ASSERT_TRUE(late.c.connect(s->port()));
  while ((!late.closed_at || !early.closed_at) && steady::now() - start < 10s) {
    auto t = steady::now() - start;
    if (!early.started && t >= 500ms) {
      ASSERT_TRUE(early.c.connect(s->port()));
      early.started = true;
    }
    if (!late.started && t >= 700ms) late.started = true;
    for (slow* k : {&late, &early}) {
      if (!k->started || k->closed_at) continue;
      // A reset on send also means closed; the 408 may then be lost, so it is not required.
      if (k->c.wait_closed(0ms) || !k->c.send(head.substr(k->sent++, 1))) {
        k->closed_at = steady::now();
      }
    }
    std::this_thread::sleep_for(50ms);  // the dribble's pace, not an assertion
  }
  ASSERT_TRUE(late.closed_at) << "late starter never closed";
  ASSERT_TRUE(early.closed_at) << "early starter never closed";
  auto ms_of = [&](const slow& k) {
    return std::chrono::duration_cast<ms>(*k.closed_at - start).count();
  };
  EXPECT_LT(*late.closed_at, *early.closed_at)
      << "the late starter got a fresh header deadline at its first byte: closed at " << ms_of(late)
      << " ms, the early starter (connected 500 ms later) at " << ms_of(early) << " ms";
  for (slow* k : {&late, &early}) {
    if (!k->c.buffered().empty()) {
      EXPECT_TRUE(k->c.buffered().starts_with("HTTP/1.1 408")) << k->c.buffered();
    }
  }
  EXPECT_EQ(s->stop(), 0) << s->proc().err_text();
}

// Sends `unit` over and over on a non-blocking socket without reading, until the kernel has
// refused more for `stall` (the peer stopped reading: its window and our buffer are full) or a
// send fails (the peer closed); `limit` when it still takes bytes after `bytes_max`.
enum class push_end { blocked, peer_closed, limit };
push_end push_until_blocked(int fd, std::string_view unit, ms stall, size_t bytes_max) {
  size_t sent = 0, off = 0;
  while (sent < bytes_max) {
    ssize_t n = ::send(fd, unit.data() + off, unit.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      sent += size_t(n);
      off = (off + size_t(n)) % unit.size();
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      int r = ::poll(&p, 1, int(stall.count()));
      if (r == 0) return push_end::blocked;
      if (p.revents & (POLLERR | POLLHUP)) return push_end::peer_closed;
      continue;
    }
    return push_end::peer_closed;
  }
  return push_end::limit;
}

// A client that pipelines requests and never reads their answers: once its window is full the
// server's send waits, and at server.timeouts.send_ms the server gives up and closes it. The
// same (single) shard keeps serving another client meanwhile and after.
TEST(lifecycle, client_that_stops_reading_is_closed_at_the_send_deadline) {
  server_options opts;
  opts.shards = 1;
  // No per-connection request cap: the send deadline is the only reason left to close.
  opts.config_toml =
      "[server.limits]\nrequests_per_connection_max = 0\n[server.timeouts]\nsend_ms = 2000\n";
  auto s = server::start(opts);
  ASSERT_NE(s, nullptr);
  client stuck;
  ASSERT_TRUE(stuck.connect(s->port(), {.rcvbuf_bytes = 4096, .sndbuf_bytes = 16384}));
  std::string batch;
  for (int i = 0; i < 64; ++i) batch += get_request("/health");
  push_end end = push_until_blocked(stuck.fd(), batch, 300ms, size_t(256) << 20);
  ASSERT_NE(end, push_end::limit) << "the server kept reading 256 MiB of unanswered requests";

  auto other = http_get(s->port(), "/health");
  ASSERT_TRUE(other) << "another client was not served while one stopped reading";
  EXPECT_EQ(other->status, 200);

  // The close is a reset (our pipelined requests are still unread on the server's side); seen
  // without reading, so the server can never make progress on this connection.
  EXPECT_TRUE(end == push_end::peer_closed || stuck.wait_hangup(15s))
      << "the server did not close a client that stopped reading: " << stuck.last_error();
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
  for (client* k : {&a, &b}) ASSERT_NO_FATAL_FAILURE(open_and_serve(*k, s->port(), "/health"));
  ASSERT_TRUE(c.connect(s->port()));  // the kernel accepts; ringgate closes it at once
  EXPECT_TRUE(c.wait_closed(3s)) << "third connection not shed: " << c.last_error();
  EXPECT_TRUE(c.buffered().empty()) << c.buffered();
  ASSERT_TRUE(a.send(get_request("/health")));  // the first two are untouched
  auto r = a.read_response();
  ASSERT_TRUE(r) << a.last_error();
  EXPECT_EQ(r->status, 200);
  // Counted before the close, so the scrape after it sees it; logged as a warning.
  ASSERT_NE(s->admin_port(), 0) << s->proc().err_text();
  std::string metrics = scrape(*s);
  EXPECT_EQ(sample(metrics, "ringgate_connections_shed_total"), 1) << metrics;
  EXPECT_TRUE(s->proc().wait_stderr("connection limit reached", 2s)) << s->proc().err_text();
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

// SIGTERM, seen deterministically. Before the signal: a half-sent POST holds the drain open, an
// idle keep-alive connection has been served once, and a GET /ready whose 1-byte body is still
// owed is in flight (its 100 Continue proves the server is reading it, so it is not idle). After:
// STOPPING=1, the idle connection is closed, new connections are refused once every shard has
// stopped accepting, the pending GET /ready is answered 503 with Connection: close, and the
// half-sent POST completes before the process exits 0.
TEST(lifecycle, sigterm_drains_in_flight_closes_idle_refuses_new_and_answers_ready_503) {
  temp_dir dir;
  notify_listener notify;
  ASSERT_TRUE(notify.bind_path(dir.path() + "/notify.sock"));
  auto s = start_with("[server]\ndrain_timeout_ms = 10000\n",
                      {"NOTIFY_SOCKET=" + notify.env_value()});
  ASSERT_NE(s, nullptr);
  client in_flight;
  ASSERT_TRUE(in_flight.connect(s->port()));
  ASSERT_NO_FATAL_FAILURE(start_half_sent_post(in_flight));
  client idle;
  ASSERT_NO_FATAL_FAILURE(open_and_serve(idle, s->port(), "/ready"));
  client asking;
  ASSERT_NO_FATAL_FAILURE(open_and_serve(asking, s->port(), "/ready"));
  ASSERT_TRUE(asking.send(get_request("/ready", "Content-Length: 1\r\nExpect: 100-continue\r\n")));
  auto interim = asking.read_response();
  ASSERT_TRUE(interim) << asking.last_error();
  ASSERT_EQ(interim->status, 100);

  ASSERT_TRUE(s->proc().send_signal(SIGTERM));
  ASSERT_TRUE(notify.wait_for("STOPPING=1", 5s)) << notify.history();
  EXPECT_TRUE(idle.wait_closed(5s))
      << "idle keep-alive connection not closed by the drain: " << idle.last_error();
  EXPECT_TRUE(idle.buffered().empty()) << idle.buffered();

  // A shard closes its listener as its drain starts; until every shard has, a connect may still
  // complete (then it is reset unserved). Poll until refused.
  bool refused = false;
  for (auto deadline = steady::now() + 5s; !refused && steady::now() < deadline;) {
    client fresh;
    if (!fresh.connect(s->port())) {
      refused = fresh.connect_errno() == ECONNREFUSED;
      ASSERT_TRUE(refused) << fresh.last_error();
      break;
    }
    std::this_thread::sleep_for(10ms);  // polling interval, not an assertion
  }
  EXPECT_TRUE(refused) << "new connections still accepted 5 s after SIGTERM";

  ASSERT_TRUE(asking.send("x")) << asking.last_error();
  auto r = asking.read_response();
  ASSERT_TRUE(r) << "no answer to /ready while draining: " << asking.last_error();
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_EQ(r->body, R"({"status":"draining"})");
  EXPECT_TRUE(r->connection_close());
  EXPECT_TRUE(asking.wait_closed(3s)) << asking.last_error();

  ASSERT_TRUE(in_flight.send("67890")) << "in-flight request cut off: " << in_flight.last_error();
  auto done = in_flight.read_response();
  ASSERT_TRUE(done) << "in-flight request got no response: " << in_flight.last_error();
  EXPECT_EQ(done->status, 404) << done->body;  // /drain-test: answered in full, not dropped
  EXPECT_TRUE(done->connection_close());
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

// During a two-shard drain one shard finishes at once (no connections) while the other still
// serves an in-flight request. The finished shard's heartbeat stops, which is not a stall: the
// pings go on. (Stall bound 300 ms, a ping every 100 ms: ten pings span three stall bounds.)
TEST(lifecycle, watchdog_keeps_pinging_while_a_finished_shard_waits_for_the_drain) {
  temp_dir dir;
  notify_listener notify;
  ASSERT_TRUE(notify.bind_path(dir.path() + "/notify.sock"));
  auto s = start_with("[server]\ndrain_timeout_ms = 10000\n",
                      {"NOTIFY_SOCKET=" + notify.env_value(), "WATCHDOG_USEC=200000"});
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(notify.wait_for("WATCHDOG=1", 2s)) << notify.history();
  client in_flight;
  ASSERT_TRUE(in_flight.connect(s->port()));
  ASSERT_NO_FATAL_FAILURE(start_half_sent_post(in_flight));
  ASSERT_TRUE(s->proc().send_signal(SIGTERM));
  ASSERT_TRUE(notify.wait_for("STOPPING=1", 5s)) << notify.history();
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(notify.wait_for("WATCHDOG=1", 2s))
        << "ping " << i << " after STOPPING=1 missing: " << notify.history() << "\n"
        << s->proc().err_text();
  }
  EXPECT_EQ(s->proc().err_text().find("stalled"), std::string::npos) << s->proc().err_text();
  ASSERT_TRUE(in_flight.send("67890")) << in_flight.last_error();
  EXPECT_TRUE(in_flight.read_response()) << in_flight.last_error();
  EXPECT_EQ(s->proc().wait_exit(8s), 0) << s->proc().err_text();
}

// The thread id of the thread named `name` in process `pid`, or -1.
pid_t thread_named(pid_t pid, std::string_view name) {
  std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return -1;
  pid_t found = -1;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream comm(dir + "/" + e->d_name + "/comm");
    std::string line;
    if (std::getline(comm, line) && line == name) found = pid_t(std::stoi(e->d_name));
  }
  ::closedir(d);
  return found;
}

// A shard whose loop stops turning must stop the pings, and they resume when it turns again. The
// stall is made from outside, with no hook in the binary: PTRACE_INTERRUPT stops one shard thread
// (the test is ringgate's parent, so it may trace it) while the control thread runs on.
TEST(lifecycle, watchdog_pings_stop_while_a_shard_loop_is_stalled) {
  temp_dir dir;
  notify_listener notify;
  ASSERT_TRUE(notify.bind_path(dir.path() + "/notify.sock"));
  server_options opts;
  opts.args = {"--admin-listen", "off"};  // so that "rg-shard-1" is a data shard
  opts.env = {"NOTIFY_SOCKET=" + notify.env_value(), "WATCHDOG_USEC=200000"};
  auto s = server::start(opts);
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(notify.wait_for("WATCHDOG=1", 2s)) << notify.history();
  pid_t tid = thread_named(s->proc().pid(), "rg-shard-1");
  ASSERT_GT(tid, 0) << "no thread named rg-shard-1";
  if (::ptrace(PTRACE_SEIZE, tid, nullptr, nullptr) != 0) {
    GTEST_SKIP() << "ptrace is not permitted here: " << std::strerror(errno);
  }
  ASSERT_EQ(::ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr), 0) << std::strerror(errno);
  int status = 0;
  ASSERT_EQ(::waitpid(tid, &status, __WALL), tid) << std::strerror(errno);
  const std::string withheld = "a shard loop is stalled";
  bool seen = s->proc().wait_stderr(withheld, 5s).has_value();
  EXPECT_TRUE(seen) << s->proc().err_text();
  if (seen) {
    // Every ping sent before a withhold line was logged is already queued on our socket when we
    // read that line. Skip what came before, then let three more withholds pass: no ping between.
    notify.skip_pending();
    size_t base = occurrences(s->proc().err_text(), withheld);
    for (auto deadline = steady::now() + 5s;
         occurrences(s->proc().err_text(), withheld) < base + 3 && steady::now() < deadline;) {
      std::this_thread::sleep_for(20ms);  // polling interval, not an assertion
    }
    EXPECT_GE(occurrences(s->proc().err_text(), withheld), base + 3) << s->proc().err_text();
    EXPECT_FALSE(notify.wait_for("WATCHDOG=1", 0ms)) << "a ping while shard 1 was stopped";
    EXPECT_NE(s->proc().err_text().find("shard=1"), std::string::npos) << s->proc().err_text();
  }
  ASSERT_EQ(::ptrace(PTRACE_DETACH, tid, nullptr, nullptr), 0) << std::strerror(errno);
  EXPECT_TRUE(notify.wait_for("WATCHDOG=1", 3s)) << "pings did not resume: " << notify.history();
  EXPECT_EQ(s->stop(), 0) << s->proc().err_text();
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
