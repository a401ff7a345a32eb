// Tests for rg::log: JSON and text line formats, escaping (checked with a real JSON parser),
// level filtering, cut lines, drop counting under a stalled writer, and multi-producer delivery.
#include <ringgate/runtime/log.hpp>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <simdjson.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace rg::log {
namespace {

const std::string ts_re = R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)";

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < text.size()) {
    size_t nl = text.find('\n', at);
    if (nl == std::string::npos) nl = text.size();
    if (nl > at) out.push_back(text.substr(at, nl - at));
    at = nl + 1;
  }
  return out;
}

// Each test logs into its own in-memory file and restores the logger's defaults afterwards.
class Log : public ::testing::Test {
 protected:
  void SetUp() override {
    _fd = ::memfd_create("rg-log-test", MFD_CLOEXEC);
    ASSERT_GE(_fd, 0);
    configure(opts(format::json));
  }
  void TearDown() override {
    stop();
    configure(options{});
    ::close(_fd);
  }
  options opts(format f, uint32_t queue_lines = 4096) const {
    return {.min_level = level::debug, .fmt = f, .fd = _fd, .queue_lines = queue_lines};
  }
  std::string contents() const {
    std::string out;
    char buf[65536];
    for (off_t off = 0;;) {
      const ssize_t n = ::pread(_fd, buf, sizeof buf, off);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
      off += n;
    }
    return out;
  }
  std::vector<std::string> lines() const { return split_lines(contents()); }

  int _fd = -1;
};

simdjson::dom::element parse_json(simdjson::dom::parser& parser, const std::string& line) {
  simdjson::dom::element doc;
  const auto err = parser.parse(line).get(doc);
  EXPECT_EQ(err, simdjson::SUCCESS) << "not JSON: " << line;
  return doc;
}

std::string json_string(simdjson::dom::element doc, const char* key) {
  std::string_view v;
  if (doc[key].get(v) != simdjson::SUCCESS) return "<missing>";
  return std::string(v);
}

TEST(Timestamp, Utc) {
  char buf[ts_chars + 1] = {};
  const auto ts = [&](int64_t us) {
    format_utc_us(us, buf);
    return std::string(buf, ts_chars);
  };
  EXPECT_EQ(ts(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(ts(1795312984123456), "2026-11-22T02:03:04.123456Z");
  EXPECT_EQ(ts(-1), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(ts(951868799999999), "2000-02-29T23:59:59.999999Z");
  EXPECT_EQ(ts(1709164800000001), "2024-02-29T00:00:00.000001Z");
  EXPECT_EQ(ts(253402300799999999), "9999-12-31T23:59:59.999999Z");
  // The calendar part is cached per second: the same second, then the next, then back.
  EXPECT_EQ(ts(1796136325123456), "2026-12-01T14:45:25.123456Z");
  EXPECT_EQ(ts(1796136325000001), "2026-12-01T14:45:25.000001Z");
  EXPECT_EQ(ts(1796136325999999), "2026-12-01T14:45:25.999999Z");
  EXPECT_EQ(ts(1796136326000000), "2026-12-01T14:45:26.000000Z");
  EXPECT_EQ(ts(1796136325000000), "2026-12-01T14:45:25.000000Z");
  EXPECT_EQ(ts(-1), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(ts(-1000000), "1969-12-31T23:59:59.000000Z");
  // Agrees with gmtime_r over 60 years, a step of a prime number of seconds.
  for (int64_t s = 0; s < 60LL * 366 * 86400; s += 7919 * 13) {
    const time_t t = static_cast<time_t>(s);
    tm parts{};
    ::gmtime_r(&t, &parts);
    char want[32];
    ::strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%S.000000Z", &parts);
    ASSERT_EQ(ts(s * 1000000), want);
  }
}

TEST_F(Log, JsonLineSynchronous) {
  info("listening on 127.0.0.1:8080", {{"shard", 0}});
  const std::string text = contents();  // written at once: no writer thread yet
  EXPECT_TRUE(std::regex_match(
      text, std::regex(R"(\{"ts":")" + ts_re +
                       R"(","level":"info","msg":"listening on 127\.0\.0\.1:8080","shard":0\}\n)")))
      << text;
}

TEST_F(Log, JsonLineThroughWriter) {
  start(opts(format::json));
  warn("upstream slow", {{"provider", "mock"}, {"latency_ms", 1500u}});
  stop();
  const std::string text = contents();
  EXPECT_TRUE(std::regex_match(
      text,
      std::regex(
          R"(\{"ts":")" + ts_re +
          R"(","level":"warn","msg":"upstream slow","provider":"mock","latency_ms":1500\}\n)")))
      << text;
}

TEST_F(Log, TimestampIsNow) {
  // time() may use a coarser clock than the logger's CLOCK_REALTIME: read the same clock.
  const auto now_s = [] {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec;
  };
  const time_t before = now_s();
  info("now");
  const time_t after = now_s();
  const std::string text = contents();
  ASSERT_GT(text.size(), 40u);
  tm parts{};
  ASSERT_NE(::strptime(text.substr(7, 19).c_str(), "%Y-%m-%dT%H:%M:%S", &parts), nullptr) << text;
  const time_t logged = ::timegm(&parts);
  EXPECT_GE(logged, before);
  EXPECT_LE(logged, after);
}

TEST_F(Log, TextLine) {
  configure(opts(format::text));
  info("listening on 127.0.0.1:8080", {{"shard", 0}});
  error("upstream failed", {{"path", "/v1/chat completions"}, {"empty", ""}, {"ok", false}});
  const auto got = lines();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(std::regex_match(
      got[0], std::regex(ts_re + " INFO listening on 127\\.0\\.0\\.1:8080 shard=0")))
      << got[0];
  EXPECT_TRUE(std::regex_match(
      got[1],
      std::regex(ts_re +
                 R"( ERROR upstream failed path="/v1/chat completions" empty="" ok=false)")))
      << got[1];
}

TEST_F(Log, FieldKinds) {
  info("kinds", {{"i", -5},
                 {"u", std::numeric_limits<unsigned long long>::max()},
                 {"d", 1.5},
                 {"nan", std::nan("")},
                 {"t", true},
                 {"f", false},
                 {"s", "x"}});
  const std::string text = contents();
  EXPECT_NE(
      text.find(
          R"("i":-5,"u":18446744073709551615,"d":1.5,"nan":null,"t":true,"f":false,"s":"x"})"),
      std::string::npos)
      << text;
  simdjson::dom::parser parser;
  parse_json(parser, split_lines(text).at(0));
}

TEST_F(Log, JsonEscaping) {
  const std::string msg = "say \"hi\" \\ path\nnext\ttab\x01 bell\x7f é 😀 bad\xff\xc3 end";
  info(msg, {{"k\"ey", "v\r\n\"q\""}});
  const auto got = lines();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_NE(got[0].find(R"("msg":"say \"hi\" \\ path\nnext\ttab\u0001 bell)"), std::string::npos)
      << got[0];
  EXPECT_NE(got[0].find(R"( bad\ufffd\ufffd end")"), std::string::npos) << got[0];
  EXPECT_NE(got[0].find(R"("k\"ey":"v\r\n\"q\"")"), std::string::npos) << got[0];
  simdjson::dom::parser parser;
  auto doc = parse_json(parser, got[0]);
  EXPECT_EQ(json_string(doc, "msg"),
            "say \"hi\" \\ path\nnext\ttab\x01 bell\x7f é 😀 bad\xEF\xBF\xBD\xEF\xBF\xBD end");
  EXPECT_EQ(json_string(doc, "k\"ey"), "v\r\n\"q\"");
}

TEST_F(Log, TextEscaping) {
  configure(opts(format::text));
  info("two\nlines\x01", {{"q", "a \"b\" \\c"}, {"nl", "x\ny"}, {"eq", "a=b"}});
  const auto got = lines();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_NE(got[0].find(R"( INFO two\nlines\x01 q="a \"b\" \\c" nl="x\ny" eq="a=b")"),
            std::string::npos)
      << got[0];
}

TEST_F(Log, LevelFilter) {
  set_level(level::warn);
  EXPECT_FALSE(enabled(level::debug));
  EXPECT_FALSE(enabled(level::info));
  EXPECT_TRUE(enabled(level::warn));
  EXPECT_TRUE(enabled(level::error));
  debug("d");
  info("i");
  write(level::info, "direct");
  warn("w");
  error("e");
  auto got = lines();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_NE(got[0].find(R"("level":"warn","msg":"w")"), std::string::npos);
  EXPECT_NE(got[1].find(R"("level":"error","msg":"e")"), std::string::npos);
  set_level(level::debug);
  debug("d2");
  EXPECT_EQ(lines().size(), 3u);
}

TEST_F(Log, LongLinesAreCutValidly) {
  const uint64_t before = dropped();
  simdjson::dom::parser parser;
  info(std::string(5000, 'x'));                        // msg cut
  info(std::string(3000, 'y') + "é", {{"shard", 1}});  // multibyte boundary
  info("short", {{"a", std::string(900, 'a')}, {"b", std::string(200, 'b')}});  // 2nd field cut
  info("short", {{"a", std::string(900, 'a')}, {"n", ~0ull}});                  // number left out
  info(std::string(2000, '"'));  // escapes never split
  const auto got = lines();
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(dropped() - before, 5u);
  for (const std::string& line : got) {
    EXPECT_LE(line.size() + 1, 1012u);
    EXPECT_TRUE(line.ends_with(",\"truncated\":true}")) << line;
    auto doc = parse_json(parser, line);
    bool truncated = false;
    EXPECT_EQ(doc["truncated"].get(truncated), simdjson::SUCCESS);
    EXPECT_TRUE(truncated);
  }
  EXPECT_TRUE(json_string(parse_json(parser, got[0]), "msg").ends_with("xxx…"));
  EXPECT_TRUE(json_string(parse_json(parser, got[2]), "b").ends_with("bb…"));
  EXPECT_EQ(json_string(parse_json(parser, got[2]), "a"), std::string(900, 'a'));
  EXPECT_NE(got[3].find("aaa\",\"truncated\":true}"), std::string::npos) << got[3];
  configure(opts(format::text));
  info(std::string(5000, 'z'));
  info("m", {{"k", "a b " + std::string(2000, 'c')}});
  const auto text = lines();
  ASSERT_EQ(text.size(), 7u);
  EXPECT_TRUE(text[5].ends_with("zzz…")) << text[5];
  EXPECT_TRUE(text[6].ends_with("ccc…\"")) << text[6];
}

TEST_F(Log, SynchronousBeforeStartAndAfterStop) {
  info("before");
  EXPECT_EQ(lines().size(), 1u);
  start(opts(format::json));
  info("during");
  stop();
  EXPECT_EQ(lines().size(), 2u);
  info("after");
  EXPECT_EQ(lines().size(), 3u);
  start(opts(format::text));  // restart works
  info("again");
  stop();
  const auto got = lines();
  ASSERT_EQ(got.size(), 4u);
  EXPECT_NE(got[3].find(" INFO again"), std::string::npos);
}

TEST_F(Log, IdleWriterIsWokenByANewLine) {
  start(opts(format::json));
  for (int round = 0; round < 3; ++round) {
    info("wake", {{"round", round}});
    // Bounded wait for the writer to deliver without stop(); not a timing assertion.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (lines().size() < static_cast<size_t>(round + 1) &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    ASSERT_EQ(lines().size(), static_cast<size_t>(round + 1));
  }
}

// The writer blocks in writev on a full pipe nobody reads, so it holds the slots it took. With
// an 8-line ring exactly 8 lines are accepted and the other 92 are dropped and counted.
TEST_F(Log, DropsWhenWriterIsStalled) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  ::fcntl(p[1], F_SETPIPE_SZ, 4096);
  ASSERT_EQ(::fcntl(p[1], F_SETFL, O_NONBLOCK), 0);
  const std::string filler(4096, '\n');
  while (::write(p[1], filler.data(), filler.size()) > 0) {
  }
  while (::write(p[1], "\n", 1) > 0) {
  }
  ASSERT_EQ(errno, EAGAIN);
  ASSERT_EQ(::fcntl(p[1], F_SETFL, 0), 0);

  start({.min_level = level::info, .fmt = format::json, .fd = p[1], .queue_lines = 8});
  const uint64_t before = dropped();
  for (int i = 0; i < 100; ++i) info("line", {{"i", i}});
  EXPECT_EQ(dropped() - before, 92u);

  std::string out;
  std::thread reader([&] {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  });
  stop();
  configure(opts(format::json));
  ::close(p[1]);
  reader.join();
  ::close(p[0]);

  simdjson::dom::parser parser;
  int next = 0;
  bool reported = false;
  for (const std::string& line : split_lines(out)) {
    auto doc = parse_json(parser, line);
    const std::string msg = json_string(doc, "msg");
    int64_t i = -1;
    uint64_t n = 0;
    if (msg == "line" && doc["i"].get(i) == simdjson::SUCCESS) {
      EXPECT_EQ(i, next++);
    }
    if (msg == "log lines dropped" && doc["dropped"].get(n) == simdjson::SUCCESS) {
      EXPECT_EQ(n, 92u);
      EXPECT_EQ(json_string(doc, "level"), "warn");
      reported = true;
    }
  }
  EXPECT_EQ(next, 8);
  EXPECT_TRUE(reported) << out;
}

// Enough room for every line: nothing dropped, nothing lost, each thread's lines in its order.
TEST_F(Log, ManyProducersLoseNothing) {
  constexpr int threads = 8;
  constexpr int per_thread = 5000;
  start(opts(format::json, threads * per_thread));
  const uint64_t before = dropped();
  std::atomic<bool> go{false};
  std::vector<std::thread> producers;
  for (int t = 0; t < threads; ++t) {
    producers.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      for (int i = 0; i < per_thread; ++i) info("p", {{"t", t}, {"i", i}});
    });
  }
  go = true;
  for (auto& th : producers) th.join();
  stop();
  EXPECT_EQ(dropped() - before, 0u);

  simdjson::dom::parser parser;
  std::vector<int64_t> next(threads, 0);
  size_t total = 0;
  for (const std::string& line : lines()) {
    auto doc = parse_json(parser, line);
    int64_t t = -1, i = -1;
    ASSERT_EQ(doc["t"].get(t), simdjson::SUCCESS) << line;
    ASSERT_EQ(doc["i"].get(i), simdjson::SUCCESS) << line;
    ASSERT_TRUE(t >= 0 && t < threads);
    EXPECT_EQ(i, next[static_cast<size_t>(t)]++) << "thread " << t;
    ++total;
  }
  EXPECT_EQ(total, static_cast<size_t>(threads * per_thread));
}

// A small ring under contention: every line is either written or counted as dropped.
TEST_F(Log, SmallRingAccountsForEveryLine) {
  constexpr int threads = 4;
  constexpr int per_thread = 20000;
  start(opts(format::text, 16));
  const uint64_t before = dropped();
  std::vector<std::thread> producers;
  for (int t = 0; t < threads; ++t) {
    producers.emplace_back([t] {
      for (int i = 0; i < per_thread; ++i) info("p", {{"t", t}, {"i", i}});
    });
  }
  for (auto& th : producers) th.join();
  stop();
  const uint64_t lost = dropped() - before;
  size_t written = 0;
  for (const std::string& line : lines()) written += line.find(" INFO p t=") != std::string::npos;
  EXPECT_EQ(written + lost, static_cast<size_t>(threads * per_thread));
}


// ---- the access-log channel ----

std::string read_file(const std::string& path) {
  std::string out;
  if (FILE* f = std::fopen(path.c_str(), "rb")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    std::fclose(f);
  }
  return out;
}

TEST_F(Log, AccessLinesGoToTheirOwnFileAndReopenAfterRotation) {
  std::string dir = testing::TempDir();
  std::string path = dir + "rg-access-test.log";
  std::string rotated = path + ".1";
  std::remove(path.c_str());
  std::remove(rotated.c_str());
  ASSERT_EQ(set_access_file(path), "");
  start(opts(format::json));
  access(R"({"n":1})");
  info("an application line");
  // Rotation as logrotate does it: move the file away, then SIGUSR1 → reopen.
  stop();  // drains: line 1 is in the file
  ASSERT_EQ(std::rename(path.c_str(), rotated.c_str()), 0);
  start(opts(format::json));
  reopen_access_file();
  access(R"({"n":2})");
  stop();
  EXPECT_EQ(read_file(rotated), "{\"n\":1}\n");
  EXPECT_EQ(read_file(path), "{\"n\":2}\n");
  // Application lines never land in the access log, and access lines never in the log.
  EXPECT_EQ(lines().size(), 1u);
  EXPECT_EQ(contents().find("\"n\""), std::string::npos);
  EXPECT_EQ(set_access_file(""), "");
  std::remove(path.c_str());
  std::remove(rotated.c_str());
}

TEST_F(Log, AccessLineTooLongIsDroppedWholeAndCounted) {
  std::string path = testing::TempDir() + "rg-access-long.log";
  std::remove(path.c_str());
  ASSERT_EQ(set_access_file(path), "");
  start(opts(format::json));
  uint64_t before = access_dropped();
  access("{\"x\":\"" + std::string(2000, 'a') + "\"}");
  access(R"({"ok":true})");
  stop();
  EXPECT_EQ(access_dropped(), before + 1);
  EXPECT_EQ(read_file(path), "{\"ok\":true}\n");
  EXPECT_EQ(set_access_file(""), "");
  std::remove(path.c_str());
}

// ---- access_batch: a shard's lines, a block at a time ----

// As the gateway does it: in place, or through access() when every block is with the writer.
bool append(access_batch& b, const std::string& line) {
  std::span<char> room = b.reserve(line.size());
  if (room.empty()) {
    access(line);
    return false;
  }
  std::memcpy(room.data(), line.data(), line.size());
  b.commit(line.size());
  return true;
}

TEST_F(Log, AccessBatchLinesArriveInOrderAndEveryLineIsWrittenOrCounted) {
  std::string path = testing::TempDir() + "rg-access-batch.log";
  std::remove(path.c_str());
  ASSERT_EQ(set_access_file(path), "");
  start(opts(format::json));
  const uint64_t dropped_before = access_dropped();
  constexpr int per_thread = 3000;  // ~600 KB per thread: blocks fill and are reused many times
  auto produce = [](int id) {
    access_batch b;
    for (int i = 0; i < per_thread; ++i) {
      append(b, "{\"t\":" + std::to_string(id) + ",\"i\":" + std::to_string(i) + ",\"pad\":\"" +
                    std::string(180, 'p') + "\"}");
    }
    b.flush();
  };  // the destructor waits for the writer to finish with the blocks
  std::thread t1(produce, 1), t2(produce, 2);
  t1.join();
  t2.join();
  stop();
  const std::string text = read_file(path);
  EXPECT_TRUE(text.empty() || text.back() == '\n') << "a line without its newline";
  const std::vector<std::string> lines = split_lines(text);
  EXPECT_EQ(lines.size() + (access_dropped() - dropped_before), size_t(2 * per_thread));
  int last[3] = {-1, -1, -1};
  simdjson::dom::parser parser;
  for (const std::string& l : lines) {
    simdjson::dom::element e;
    ASSERT_EQ(parser.parse(l).get(e), simdjson::SUCCESS) << l;
    const int t = int(int64_t(e["t"])), i = int(int64_t(e["i"]));
    EXPECT_GT(i, last[t]) << "thread " << t << " out of order";
    last[t] = i;
  }
  EXPECT_EQ(last[1], per_thread - 1);  // the last block of each thread was flushed
  EXPECT_EQ(last[2], per_thread - 1);
  EXPECT_EQ(set_access_file(""), "");
  std::remove(path.c_str());
}

TEST_F(Log, AccessBatchWaitsForFlushThenWritesWithoutAWriterToo) {
  std::string path = testing::TempDir() + "rg-access-batch-sync.log";
  std::remove(path.c_str());
  ASSERT_EQ(set_access_file(path), "");
  {
    access_batch b;  // the writer is not running: a flush writes at once
    EXPECT_FALSE(b.pending());
    ASSERT_TRUE(append(b, R"({"n":1})"));
    EXPECT_TRUE(b.pending());
    EXPECT_EQ(read_file(path), "") << "a line left the batch before its flush";
    b.flush();
    EXPECT_FALSE(b.pending());
    EXPECT_EQ(read_file(path), "{\"n\":1}\n");
    ASSERT_TRUE(append(b, R"({"n":2})"));
  }  // the destructor flushes
  EXPECT_EQ(read_file(path), "{\"n\":1}\n{\"n\":2}\n");
  access_batch b;
  EXPECT_TRUE(b.reserve(access_batch::block_bytes).empty()) << "a line longer than a block";
  EXPECT_FALSE(b.reserve(access_batch::block_bytes - 1).empty());
  b.commit(0);  // an abandoned reservation writes nothing
  EXPECT_FALSE(b.pending());
  EXPECT_EQ(set_access_file(""), "");
  std::remove(path.c_str());
}

TEST_F(Log, AccessFileThatCannotBeOpenedIsAnError) {
  std::string err = set_access_file("/nonexistent-dir/access.log");
  EXPECT_NE(err.find("cannot open /nonexistent-dir/access.log"), std::string::npos) << err;
}

}  // namespace
}  // namespace rg::log
