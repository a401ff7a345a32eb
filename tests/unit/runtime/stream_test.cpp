// net::stream over a socketpair on a real shard: multishot recv into provided buffers, sends,
// read deadlines, abort, EOF, a clean close, and a reader slower than the sender (the recv
// pauses; completions that were already on their way queue up, none is dropped).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

#include <ringgate/net/stream.hpp>
#include <ringgate/runtime/clock.hpp>
#include <ringgate/runtime/sleep.hpp>

using namespace rg::runtime;
using rg::net::read_status;
using rg::net::stream;

namespace {

struct fixture_result {
  std::string received;
  read_status last = read_status::data;
  int send_rc = 1;
  bool closed = false;
};

// Echo until EOF: every chunk received is sent back uppercased-free (as is).
task<void> echo(stream& io, fixture_result& r, uint64_t timeout_ms) {
  for (;;) {
    uint64_t deadline = shard::current()->now_ns() + ms_to_ns(timeout_ms);
    read_status st = co_await io.read_more(deadline);
    r.last = st;
    if (st != read_status::data) break;
    std::string chunk(io.input());
    io.consume(chunk.size());
    r.received += chunk;
    r.send_rc = co_await io.send_all(chunk, UINT64_MAX);
  }
  co_await io.close();
  r.closed = true;
  shard::current()->stop();
}

void run_echo(int fd, fixture_result& r, uint64_t timeout_ms) {
  shard s(shard_options{});
  block_pool pool(4096);
  stream io(s, pool, fd);
  spawn(echo(io, r, timeout_ms));
  s.run();
}

std::string read_n(int fd, size_t n) {
  std::string out;
  char buf[4096];
  while (out.size() < n) {
    ssize_t k = read(fd, buf, sizeof(buf));
    if (k <= 0) break;
    out.append(buf, size_t(k));
  }
  return out;
}

}  // namespace

TEST(stream, echoes_until_eof_then_closes) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  fixture_result r;
  std::thread t(run_echo, sv[0], std::ref(r), 5000);
  std::string big(100000, 'x');  // larger than the input block and many provided buffers
  for (size_t i = 0; i < big.size(); ++i) big[i] = char('a' + i % 26);
  std::thread writer([&] {
    size_t off = 0;
    while (off < big.size()) {
      ssize_t k = write(sv[1], big.data() + off, big.size() - off);
      ASSERT_GT(k, 0);
      off += size_t(k);
    }
  });
  std::string echoed = read_n(sv[1], big.size());
  writer.join();
  shutdown(sv[1], SHUT_WR);
  t.join();
  EXPECT_EQ(echoed, big);
  EXPECT_EQ(r.received, big);
  EXPECT_EQ(r.last, read_status::eof);
  EXPECT_TRUE(r.closed);
  EXPECT_EQ(fcntl(sv[0], F_GETFD), -1);  // the stream closed its fd
  close(sv[1]);
}

TEST(stream, read_deadline_reports_timeout) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  fixture_result r;
  uint64_t start = monotonic_ns();
  std::thread t(run_echo, sv[0], std::ref(r), 50);
  t.join();
  EXPECT_EQ(r.last, read_status::timeout);
  EXPECT_GE(monotonic_ns() - start, ms_to_ns(50));
  EXPECT_TRUE(r.closed);
  close(sv[1]);
}

TEST(stream, abort_wakes_the_reader) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  fixture_result r;
  std::thread t([&] {
    shard s(shard_options{});
    block_pool pool(4096);
    stream io(s, pool, sv[0]);
    spawn(echo(io, r, 60000));
    timer tm([](timer&, void* ctx) noexcept { static_cast<stream*>(ctx)->abort(); }, &io);
    s.timers().arm(tm, s.now_ns() + ms_to_ns(10));
    s.run();
  });
  t.join();
  EXPECT_EQ(r.last, read_status::cancelled);
  EXPECT_TRUE(r.closed);
  close(sv[1]);
}

namespace {

// Reads to EOF, but naps after each read, so that the recv completions pile up meanwhile: the
// input block fills, the stream pauses its recv, and the completions the kernel had already
// posted (many: buffers are small here) must queue behind the pause rather than fail the stream.
task<void> slow_reader(stream& io, fixture_result& r) {
  for (;;) {
    r.received += io.input();  // consume everything first: read_more reports `full` otherwise
    io.consume(io.input().size());
    read_status st = co_await io.read_more(shard::current()->now_ns() + ms_to_ns(5000));
    r.last = st;
    if (st != read_status::data) break;
    co_await sleep_for_ms(*shard::current(), 2);
  }
  co_await io.close();
  r.closed = true;
  shard::current()->stop();
}

}  // namespace

TEST(stream, a_slow_reader_loses_nothing_to_completions_after_the_pause) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  std::string sent;
  for (size_t i = 0; sent.size() < 1 << 20; ++i) sent += "line " + std::to_string(i) + "\n";
  // Fill the socket before the shard starts, so the first recv finds far more than one input
  // block (4 KiB) and many provided buffers (1 KiB each) of data waiting.
  fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK);
  size_t off = 0;
  while (off < sent.size()) {
    ssize_t k = write(sv[1], sent.data() + off, sent.size() - off);
    if (k <= 0) break;  // the socket is full
    off += size_t(k);
  }
  ASSERT_GT(off, size_t(64 * 1024)) << "the socket took too little to exercise the pause";
  fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) & ~O_NONBLOCK);
  fixture_result r;
  std::thread t([&] {
    shard_options o;
    o.recv_buffers = 256;
    o.recv_buffer_bytes = 1024;
    shard s(o);
    block_pool pool(4096);
    stream io(s, pool, sv[0]);
    spawn(slow_reader(io, r));
    s.run();
  });
  int write_errno = 0;
  while (off < sent.size()) {
    ssize_t k = write(sv[1], sent.data() + off, sent.size() - off);
    if (k <= 0) {
      write_errno = errno;
      break;
    }
    off += size_t(k);
  }
  shutdown(sv[1], SHUT_WR);
  t.join();
  EXPECT_EQ(write_errno, 0) << strerror(write_errno);
  EXPECT_EQ(r.last, read_status::eof);
  EXPECT_EQ(r.received.size(), sent.size());
  EXPECT_TRUE(r.received == sent) << "bytes lost or reordered";
  EXPECT_TRUE(r.closed);
  close(sv[1]);
}
