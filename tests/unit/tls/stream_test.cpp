// A secure net::stream on a real shard over a socketpair, with a TLS client on the other end
// driven by this thread: a clean close sends close_notify (through the shard's ring), the peer's
// close_notify is a clean end of stream, and a TCP end without one is an error (truncation).
#include <gtest/gtest.h>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include <ringgate/net/stream.hpp>
#include <ringgate/runtime/clock.hpp>

#include "fixture.hpp"

namespace rg::tls::test {
namespace {

using net::read_status;
using net::xf_result;
using runtime::shard;

enum class server_mode : uint8_t { reply_then_close, read_to_end };

struct server_result {
  int handshake_rc = 1;
  std::string received;
  read_status last = read_status::data;
  bool closed = false;
};

// Handshakes, then either answers "ping" with "pong" and closes, or reads until the stream ends.
runtime::task<void> serve(net::stream& io, server_result& r, server_mode mode) {
  shard& s = *shard::current();
  uint64_t deadline = s.now_ns() + runtime::ms_to_ns(5000);
  r.handshake_rc = co_await io.handshake(deadline);
  while (r.handshake_rc == 0) {
    read_status st = co_await io.read_more(deadline);
    r.last = st;
    if (st != read_status::data) break;
    r.received += io.input();
    io.consume(io.input().size());
    if (mode == server_mode::reply_then_close && r.received == "ping") {
      (void)co_await io.send_all("pong", deadline);
      break;
    }
  }
  co_await io.close();
  r.closed = true;
  s.stop();
}

void run_server(int fd, const server_config& cfg, server_result& r, server_mode mode) {
  shard s(runtime::shard_options{});
  runtime::block_pool blocks(64 * 1024);  // room for a whole record plus its expansion
  net::stream io(s, blocks, fd);
  io.set_transform(session::server(cfg));
  runtime::spawn(serve(io, r, mode));
  s.run();
}

// The client end: a tls::session over a blocking socket, every read under a 5 s poll.
class blocking_client {
 public:
  blocking_client(const client_config& cfg, int fd)
      : _s(session::client(cfg, "localhost", nullptr)), _fd(fd) {}

  bool handshake() {
    for (int turn = 0; turn < 32; ++turn) {
      xf_result r = drive(_in, _out, [&](net::cipher_io& io) { return _s->handshake(io); });
      if (!flush() || r == xf_result::error) return false;
      if (r == xf_result::done) return true;
      if (!fill()) return false;
    }
    return false;
  }
  bool send(std::string_view text) { return send_text(*_s, text, _out) && flush(); }
  bool send_close_notify() {
    std::string none;
    drive(none, _out, [&](net::cipher_io& io) {
      _s->close_notify(io);
      return xf_result::done;
    });
    return flush();
  }
  // Reads and decrypts until the socket ends; `notified` says whether close_notify came first.
  std::string read_to_end(bool& notified) {
    std::string plain;
    notified = false;
    xf_result last;
    do {
      plain += receive_text(*_s, _in, _out, last);
      if (last == xf_result::closed) notified = true;
    } while (last != xf_result::error && fill());
    return plain;
  }

 private:
  bool flush() {
    while (!_out.empty()) {
      ssize_t n = ::send(_fd, _out.data(), _out.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      _out.erase(0, size_t(n));
    }
    return true;
  }
  bool fill() {
    pollfd p{_fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) return false;
    char buf[16384];
    ssize_t n = ::read(_fd, buf, sizeof(buf));
    if (n <= 0) return false;
    _in.append(buf, size_t(n));
    return true;
  }

  std::unique_ptr<session> _s;
  int _fd;
  std::string _in, _out;
};

class secure_stream : public ::testing::Test {
 protected:
  void SetUp() override {
    _client_cfg = _pki.client();
    _server_cfg = _pki.server();
    ASSERT_TRUE(_client_cfg && _server_cfg);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, _sv), 0);
  }
  void TearDown() override {
    if (_server.joinable()) _server.join();
    ::close(_sv[1]);
  }
  void start(server_mode mode) {
    _server = std::thread(run_server, _sv[0], std::cref(*_server_cfg), std::ref(result), mode);
  }

  test_pki _pki;
  std::unique_ptr<client_config> _client_cfg;
  std::unique_ptr<server_config> _server_cfg;
  int _sv[2] = {-1, -1};
  std::thread _server;

 public:
  server_result result;
};

TEST_F(secure_stream, close_sends_close_notify) {
  start(server_mode::reply_then_close);
  blocking_client c(*_client_cfg, _sv[1]);
  ASSERT_TRUE(c.handshake());
  ASSERT_TRUE(c.send("ping"));
  bool notified = false;
  EXPECT_EQ(c.read_to_end(notified), "pong");
  EXPECT_TRUE(notified) << "the stream closed without close_notify: a truncation to the peer";
  _server.join();
  EXPECT_EQ(result.handshake_rc, 0);
  EXPECT_TRUE(result.closed);
}

TEST_F(secure_stream, peer_close_notify_is_a_clean_end) {
  start(server_mode::read_to_end);
  blocking_client c(*_client_cfg, _sv[1]);
  ASSERT_TRUE(c.handshake());
  ASSERT_TRUE(c.send("bye"));
  ASSERT_TRUE(c.send_close_notify());
  ::shutdown(_sv[1], SHUT_WR);
  _server.join();
  EXPECT_EQ(result.received, "bye");
  EXPECT_EQ(result.last, read_status::eof);
}

TEST_F(secure_stream, tcp_end_without_close_notify_is_an_error) {
  start(server_mode::read_to_end);
  blocking_client c(*_client_cfg, _sv[1]);
  ASSERT_TRUE(c.handshake());
  ASSERT_TRUE(c.send("bye"));
  ::shutdown(_sv[1], SHUT_WR);  // FIN, no close_notify
  _server.join();
  EXPECT_EQ(result.received, "bye") << "bytes before the cut are still delivered";
  EXPECT_EQ(result.last, read_status::error) << "a truncated stream must never look complete";
}

}  // namespace
}  // namespace rg::tls::test
