// tools/loadgen against a tiny deterministic server (threads and blocking sockets, in this
// process): request counts, status tallies, mismatches, stream figures, reconnects, errors and
// latency percentiles are all checked as counts that follow from what the server did, never as
// timings. The binary comes from $LOADGEN_BIN.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <simdjson.h>

#include "harness.hpp"

using namespace rg::itest;

namespace {

// Answers by path, numbering requests across all connections in arrival order (n = 0, 1, ...):
//   /status     503 when n % 4 == 3, else 200
//   /stream     SSE, 8 data events, then [DONE] except when n % 5 == 4 (truncated)
//   /slow       200 after 200 ms when n % 10 == 9, at once otherwise
//   /close      200 with "Connection: close" (and a close) when n % 3 == 2
//   /drop       closes the connection without answering
//   /stall      200 after 500 ms when n == 5, at once otherwise
// Every request body is kept in full (body_bytes(), last_body()).
class tiny_server {
 public:
  tiny_server() {
    _fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(_fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(_fd, 256) != 0) {
      ADD_FAILURE() << "tiny_server: bind/listen failed";
      return;
    }
    socklen_t len = sizeof a;
    getsockname(_fd, reinterpret_cast<sockaddr*>(&a), &len);
    _port = ntohs(a.sin_port);
    _acceptor = std::thread([this] { accept_loop(); });
  }
  ~tiny_server() {
    _stop = true;
    _acceptor.join();
    ::close(_fd);
    std::lock_guard lock(_mutex);
    for (auto& t : _conns) t.join();
  }
  uint16_t port() const { return _port; }
  uint64_t requests() const { return _n.load(); }
  uint64_t accepted() const { return _accepted.load(); }
  uint64_t body_bytes() const { return _body_bytes.load(); }
  std::string last_body() {
    std::lock_guard lock(_body_mutex);
    return _last_body;
  }

 private:
  void accept_loop() {
    while (!_stop) {
      pollfd p{_fd, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int c = accept4(_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      ++_accepted;
      std::lock_guard lock(_mutex);
      _conns.emplace_back([this, c] { serve(c); });
    }
  }

  static bool send_all(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += size_t(n);
    }
    return true;
  }

  // Serves one connection until the peer closes it or the test ends.
  void serve(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::string in;
    char buf[16384];
    while (!_stop) {
      size_t end = in.find("\r\n\r\n");
      if (end == std::string::npos) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0) continue;
        ssize_t r = ::recv(fd, buf, sizeof buf, 0);
        if (r <= 0) break;
        in.append(buf, size_t(r));
        continue;
      }
      std::string head = in.substr(0, end + 4);
      size_t body = 0;
      if (auto cl = head.find("Content-Length: "); cl != std::string::npos) {
        body = std::strtoul(head.c_str() + cl + 16, nullptr, 10);
      }
      if (in.size() < end + 4 + body) {
        ssize_t r = ::recv(fd, buf, sizeof buf, 0);
        if (r <= 0) break;
        in.append(buf, size_t(r));
        continue;
      }
      {
        std::lock_guard lock(_body_mutex);
        _last_body.assign(in, end + 4, body);
      }
      _body_bytes += body;
      in.erase(0, end + 4 + body);
      std::string path = head.substr(head.find(' ') + 1);
      path = path.substr(0, path.find(' '));
      uint64_t n = _n.fetch_add(1);
      if (!answer(fd, path, n)) break;
    }
    ::close(fd);
  }

  // False when the connection must be closed.
  bool answer(int fd, const std::string& path, uint64_t n) {
    auto plain = [&](int status, bool close) {
      std::string body = status == 200 ? "ok" : "unavailable";
      std::string r = "HTTP/1.1 " + std::to_string(status) + (status == 200 ? " OK" : " Busy") +
                      "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
                      (close ? "Connection: close\r\n" : "") + "\r\n" + body;
      return send_all(fd, r) && !close;
    };
    if (path == "/status") return plain(n % 4 == 3 ? 503 : 200, false);
    if (path == "/slow") {
      if (n % 10 == 9) std::this_thread::sleep_for(std::chrono::milliseconds(200));
      return plain(200, false);
    }
    if (path == "/stall") {
      if (n == 5) std::this_thread::sleep_for(std::chrono::milliseconds(500));
      return plain(200, false);
    }
    if (path == "/close") return plain(200, n % 3 == 2);
    if (path == "/drop") return false;
    if (path == "/stream") {
      std::string r =
          "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
          "Transfer-Encoding: chunked\r\n\r\n";
      auto chunk = [&](const std::string& data) {
        char size[32];
        snprintf(size, sizeof size, "%zx\r\n", data.size());
        r += size + data + "\r\n";
      };
      chunk("data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n");
      for (int i = 1; i < 8; ++i) {
        chunk("data: {\"choices\":[{\"delta\":{\"content\":\"w" + std::to_string(i) + "\"}}]}\n\n");
      }
      if (n % 5 != 4) chunk("data: [DONE]\n\n");
      r += "0\r\n\r\n";
      return send_all(fd, r);
    }
    return plain(404, true);
  }

  int _fd = -1;
  uint16_t _port = 0;
  std::atomic<bool> _stop{false};
  std::atomic<uint64_t> _n{0};
  std::atomic<uint64_t> _accepted{0};
  std::atomic<uint64_t> _body_bytes{0};
  std::mutex _body_mutex;  // not _mutex: the destructor holds that one while joining
  std::string _last_body;  // guarded by _body_mutex
  std::thread _acceptor;
  std::mutex _mutex;
  std::vector<std::thread> _conns;
};

struct loadgen_run {
  simdjson::dom::parser parser;
  simdjson::dom::element json;
  std::string out, err;
  bool ok = false;
};

// Runs loadgen with --json and the given flags; the parsed output in run.json.
void run_loadgen(loadgen_run& run, uint16_t port, const std::string& path,
                 std::vector<std::string> flags) {
  const char* bin = std::getenv("LOADGEN_BIN");
  ASSERT_NE(bin, nullptr) << "LOADGEN_BIN is not set";
  std::vector<std::string> argv{bin, "--json", "--url",
                                "http://127.0.0.1:" + std::to_string(port) + path};
  argv.insert(argv.end(), flags.begin(), flags.end());
  run_result r = run_to_exit(argv, 60s);
  ASSERT_TRUE(r.exit_code.has_value()) << "loadgen did not finish: " << r.err;
  ASSERT_EQ(*r.exit_code, 0) << r.err;
  run.out = r.out;
  run.err = r.err;
  auto doc = run.parser.parse(run.out);
  ASSERT_FALSE(doc.error()) << "not JSON: " << run.out;
  run.json = doc.value();
  run.ok = true;
}

uint64_t u(const simdjson::dom::element& e, const char* pointer) {
  auto v = e.at_pointer(pointer);
  if (v.error()) {
    ADD_FAILURE() << "missing " << pointer;
    return 0;
  }
  if (v.is_uint64()) return v.get_uint64().value();
  if (v.is_int64()) return uint64_t(v.get_int64().value());
  return uint64_t(v.get_double().value());
}

double d(const simdjson::dom::element& e, const char* pointer) {
  auto v = e.at_pointer(pointer);
  if (v.error()) {
    ADD_FAILURE() << "missing " << pointer;
    return 0;
  }
  if (v.is_double()) return v.get_double().value();
  if (v.is_uint64()) return double(v.get_uint64().value());
  return double(v.get_int64().value());
}

}  // namespace

TEST(loadgen, counts_statuses_and_mismatches_exactly) {
  tiny_server srv;
  loadgen_run run;
  run_loadgen(
      run, srv.port(), "/status",
      {"--requests", "400", "--connections", "4", "--threads", "2", "--expect-status", "200"});
  ASSERT_TRUE(run.ok);
  EXPECT_EQ(u(run.json, "/requests"), 400u);
  EXPECT_EQ(srv.requests(), 400u) << "loadgen sent more or fewer requests than asked";
  EXPECT_EQ(u(run.json, "/status/200"), 300u);
  EXPECT_EQ(u(run.json, "/status/503"), 100u);
  EXPECT_EQ(u(run.json, "/mismatches"), 100u);
  EXPECT_EQ(u(run.json, "/errors_total"), 0u);
  EXPECT_EQ(u(run.json, "/connects"), 4u);
  EXPECT_EQ(u(run.json, "/latency_us/count"), 400u);
  EXPECT_EQ(
      u(run.json, "/bytes_in"),
      300u * (std::string("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").size()) +
          100u * std::string("HTTP/1.1 503 Busy\r\nContent-Length: 11\r\n\r\nunavailable").size());
}

TEST(loadgen, answers_during_the_warmup_are_not_counted) {
  tiny_server srv;
  loadgen_run run;
  // Closed loop: the warm-up's answers (503 for every fourth, as later) reach the server but
  // none of the report's tallies; the measured phase then counts exactly --requests.
  run_loadgen(
      run, srv.port(), "/status",
      {"--warmup", "0.3", "--requests", "40", "--connections", "1", "--expect-status", "200"});
  ASSERT_TRUE(run.ok);
  EXPECT_GT(srv.requests(), 40u) << "no request during the warm-up";
  EXPECT_EQ(u(run.json, "/requests"), 40u);
  EXPECT_EQ(u(run.json, "/status/200") + u(run.json, "/status/503"), 40u);
  EXPECT_EQ(u(run.json, "/mismatches"), u(run.json, "/status/503"));
  EXPECT_EQ(u(run.json, "/latency_us/count"), 40u);
  EXPECT_EQ(d(run.json, "/warmup_s"), 0.3);
  // One connection answers in order: the measured requests are the server's last 40, whose
  // numbers n fix how many were 503s (n % 4 == 3).
  uint64_t first = srv.requests() - 40, busy = 0;
  for (uint64_t n = first; n < first + 40; ++n) busy += n % 4 == 3;
  EXPECT_EQ(u(run.json, "/status/503"), busy);
}

TEST(loadgen, body_file_is_sent_with_every_request) {
  std::string body(5000, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = char('a' + i % 26);
  body += "\n{\"end\":true}";
  std::string path = testing::TempDir() + "loadgen_body.json";
  {
    FILE* f = fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(fwrite(body.data(), 1, body.size(), f), body.size());
    fclose(f);
  }
  tiny_server srv;
  loadgen_run run;
  run_loadgen(run, srv.port(), "/status",
              {"--method", "POST", "--body", path, "--requests", "12", "--connections", "3"});
  std::remove(path.c_str());
  ASSERT_TRUE(run.ok);
  EXPECT_EQ(srv.requests(), 12u);
  EXPECT_EQ(srv.body_bytes(), 12u * body.size()) << "Content-Length and body disagree";
  EXPECT_EQ(srv.last_body(), body);
  EXPECT_EQ(run.json.at_pointer("/method").get_string().value(), "POST");
}

TEST(loadgen, open_loop_latency_includes_the_queueing_behind_a_stall) {
  tiny_server srv;
  loadgen_run run;
  // 50/s on one connection: a send is due every 20 ms. Answer 5 takes 500 ms; the requests due
  // meanwhile wait for it, and their latency counts from when they were due (coordinated
  // omission corrected). Request j (j = 5 … 20) can finish no earlier than answer 5 and was due
  // (j − 5) · 20 ms after it, so its latency is at least 500 − (j − 5) · 20 ≥ 200 ms: 16 requests
  // of at most 100, whatever the machine's speed. Uncorrected, only answer 5 would be slow.
  run_loadgen(run, srv.port(), "/stall", {"--rate", "50", "--duration", "2", "--connections", "1"});
  ASSERT_TRUE(run.ok);
  uint64_t n = u(run.json, "/latency_us/count");
  EXPECT_LE(n, 100u);
  EXPECT_GE(n, 40u);  // generous: the schedule has 100 send times, the stall delays 25 of them
  EXPECT_GE(u(run.json, "/latency_us/max"), 500'000u);
  EXPECT_GE(u(run.json, "/latency_us/p99"), 400'000u);  // the two slowest: ≥ 500 and ≥ 480 ms
  EXPECT_GE(u(run.json, "/latency_us/p90"), 200'000u);  // ranks 85 … 100 of 100
  // The same stall in a closed loop is one slow answer: the next request is sent when it ends,
  // and its latency starts then.
  tiny_server closed_srv;
  loadgen_run closed;
  run_loadgen(closed, closed_srv.port(), "/stall", {"--requests", "100", "--connections", "1"});
  ASSERT_TRUE(closed.ok);
  EXPECT_GE(u(closed.json, "/latency_us/max"), 500'000u);
  EXPECT_LT(u(closed.json, "/latency_us/p90"), 200'000u);
  EXPECT_LT(u(closed.json, "/latency_us/p90"), u(run.json, "/latency_us/p90"));
}

TEST(loadgen, pipelined_requests_are_counted_once_each) {
  tiny_server srv;
  loadgen_run run;
  run_loadgen(run, srv.port(), "/status",
              {"--requests", "200", "--connections", "2", "--pipeline", "8"});
  ASSERT_TRUE(run.ok);
  EXPECT_EQ(u(run.json, "/requests"), 200u);
  EXPECT_EQ(srv.requests(), 200u);
  EXPECT_EQ(u(run.json, "/status/200") + u(run.json, "/status/503"), 200u);
  EXPECT_EQ(u(run.json, "/status/503"), 50u);
}

TEST(loadgen, stream_figures_and_truncated_streams) {
  tiny_server srv;
  loadgen_run run;
  run_loadgen(run, srv.port(), "/stream", {"--requests", "50", "--connections", "2", "--stream"});
  ASSERT_TRUE(run.ok);
  EXPECT_EQ(u(run.json, "/requests"), 50u);
  EXPECT_EQ(u(run.json, "/stream/responses"), 50u);
  EXPECT_EQ(u(run.json, "/stream/truncated"), 10u);  // n % 5 == 4 ended without [DONE]
  EXPECT_EQ(u(run.json, "/stream/chunks"), 400u);    // 8 data events each, [DONE] not counted
  EXPECT_EQ(d(run.json, "/stream/chunks_per_response"), 8.0);
  EXPECT_EQ(u(run.json, "/stream/ttfb_us/count"), 50u);
  // The role-only first event carries no content: time to first token is the second event.
  EXPECT_EQ(u(run.json, "/stream/ttft_us/count"), 50u);
  EXPECT_EQ(u(run.json, "/stream/gap_us/count"), 50u * 7);
}

TEST(loadgen, percentiles_follow_the_slow_tenth) {
  tiny_server srv;
  loadgen_run run;
  // One connection: the server's n is loadgen's request order, so exactly 10 of 100 are slow.
  run_loadgen(run, srv.port(), "/slow", {"--requests", "100", "--connections", "1"});
  ASSERT_TRUE(run.ok);
  EXPECT_EQ(u(run.json, "/latency_us/count"), 100u);
  EXPECT_LT(u(run.json, "/latency_us/p50"), 200'000u);
  EXPECT_LT(u(run.json, "/latency_us/p90"), 200'000u);  // rank 90 is the last fast answer
  EXPECT_GE(u(run.json, "/latency_us/p99"), 200'000u);
  EXPECT_GE(u(run.json, "/latency_us/max"), 200'000u);
  EXPECT_GE(u(run.json, "/latency_us/min"), 0u);
}

TEST(loadgen, reconnects_after_connection_close) {
  tiny_server srv;
  loadgen_run run;
  run_loadgen(run, srv.port(), "/close", {"--requests", "30", "--connections", "1"});
  ASSERT_TRUE(run.ok);
  EXPECT_EQ(u(run.json, "/requests"), 30u);
  EXPECT_EQ(u(run.json, "/errors_total"), 0u);
  EXPECT_EQ(u(run.json, "/connects"), 10u);  // every third answer closes; none after the last
  EXPECT_EQ(srv.accepted(), 10u);
}

TEST(loadgen, a_dropped_connection_is_an_error_not_an_answer) {
  tiny_server srv;
  loadgen_run run;
  run_loadgen(run, srv.port(), "/drop", {"--requests", "20", "--connections", "2"});
  ASSERT_TRUE(run.ok);
  EXPECT_EQ(u(run.json, "/requests"), 0u);
  EXPECT_EQ(u(run.json, "/errors/closed"), 20u);
  EXPECT_EQ(u(run.json, "/errors_total"), 20u);
  EXPECT_EQ(srv.requests(), 20u);
}

TEST(loadgen, open_loop_never_exceeds_the_schedule) {
  tiny_server srv;
  loadgen_run run;
  run_loadgen(run, srv.port(), "/status",
              {"--rate", "200", "--duration", "1", "--connections", "4"});
  ASSERT_TRUE(run.ok);
  uint64_t n = u(run.json, "/requests");
  EXPECT_LE(n, 200u);  // one second at 200/s: the schedule has 200 send times
  EXPECT_GE(n, 100u);  // generous: a loaded CI machine may miss the last ones
  EXPECT_EQ(run.json.at_pointer("/mode").get_string().value(), "open");
}

TEST(loadgen, hold_keeps_idle_connections_open_until_the_end) {
  tiny_server srv;
  loadgen_run run;
  run_loadgen(run, srv.port(), "/status", {"--hold", "--duration", "0.5", "--connections", "20"});
  ASSERT_TRUE(run.ok);
  EXPECT_EQ(u(run.json, "/requests"), 20u);
  EXPECT_EQ(u(run.json, "/connects"), 20u);
  EXPECT_EQ(srv.requests(), 20u);
}

TEST(loadgen, connection_refused_is_counted_and_the_run_still_ends) {
  // A port nobody listens on: bind one, then close it.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  uint16_t port = ntohs(a.sin_port);
  ::close(fd);
  loadgen_run run;
  run_loadgen(run, port, "/", {"--duration", "0.3", "--connections", "2"});
  ASSERT_TRUE(run.ok);
  EXPECT_EQ(u(run.json, "/requests"), 0u);
  EXPECT_GT(u(run.json, "/errors/connect"), 0u);
}

TEST(loadgen, bad_flags_exit_2_with_a_message) {
  const char* bin = std::getenv("LOADGEN_BIN");
  ASSERT_NE(bin, nullptr);
  run_result r = run_to_exit({bin, "--url", "http://127.0.0.1:1/", "--rate", "0"}, 10s);
  ASSERT_TRUE(r.exit_code.has_value());
  EXPECT_EQ(*r.exit_code, 2);
  EXPECT_NE(r.err.find("--rate: expected a positive number"), std::string::npos) << r.err;
}
