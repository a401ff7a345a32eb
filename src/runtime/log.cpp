// rg::log: shard threads format each line straight into a slot of a bounded lock-free ring
// (Vyukov's MPMC array queue, per-slot sequence numbers); one writer thread drains it with writev.
// Invariant: a producer never blocks, allocates or locks; a full ring drops the line and counts it.
//
// Waking the writer, in two modes. Busy (a line seen in the last ~100 ms): once the ring is empty
// the writer naps linger_ns and drains again, and producers never wake it, so a steady stream of
// lines costs the shards no syscall and no context switch per line (waking the writer per request,
// when it shares the shard's core, cost ~6 µs a request), and the writer one writev per batch; a
// producer that finds the ring half full, or a shard that hands over its next-to-last free
// access_batch block, nudges it once per nap. Idle: the writer sets the futex word `sleeping` to
// 1, issues a full fence, re-checks the ring head and only then FUTEX_WAITs; a producer publishes
// its slot, fences, and makes the FUTEX_WAKE syscall only if it sees sleeping == 1 and is the one
// to swap it to 0: one wake per idle-to-busy transition. That wait has a 500 ms timeout as a
// safety net only; correctness does not need it. A line waits at most linger_ns (20 ms) in a busy
// ring. Access lines from shards come in access_batch blocks (see log.hpp): one slot per ~128 KiB
// of lines.
// A line longer than a slot is cut, ends with "…" (JSON stays valid and gets "truncated":true)
// and counts as dropped. Before start() and after stop() lines are formatted on the stack and
// written at once.
#include <ringgate/runtime/log.hpp>

#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <thread>

#include <ringgate/runtime/bytes.hpp>

namespace rg::log {
namespace {

constexpr size_t slot_bytes = 1024;
constexpr size_t line_max = slot_bytes - sizeof(std::atomic<uint64_t>) - sizeof(uint32_t);
constexpr size_t tail_reserve = 32;  // room to close a cut line: …" ,"truncated":true }\n
constexpr size_t batch_lines = 256;  // iovecs per writev
constexpr long linger_ns = 20'000'000;  // busy writer: nap between drains (see the top)
constexpr int naps_before_sleep = 5;    // ~100 ms without a line: sleep until woken
constexpr uint32_t queue_lines_max = 1u << 20;
constexpr std::string_view ellipsis = "\xE2\x80\xA6";  // U+2026 …
constexpr uint32_t access_flag = 1u << 31;  // in slot::len: the line belongs to the access log
constexpr uint32_t block_flag = 1u << 30;   // in slot::len: the slot holds an access_batch::block*
constexpr uint32_t len_mask = ~(access_flag | block_flag);

}  // namespace

struct access_batch::block {
  std::atomic<bool> queued{false};  // with the writer: its owner leaves data, len and lines alone
  uint32_t len = 0;
  uint32_t lines = 0;
  char data[block_bytes];

  // Written (or given up on): empty again, back to its owner.
  void release() noexcept {
    len = 0;
    lines = 0;
    queued.store(false, std::memory_order_release);
  }
};

namespace {

struct alignas(64) slot {
  std::atomic<uint64_t> seq;  // == position: free; position + 1: holds a line; see Vyukov
  uint32_t len;
  char data[line_max];
};
static_assert(sizeof(slot) == slot_bytes);

struct ring {
  explicit ring(slot* s, uint64_t capacity) : slots(s), mask(capacity - 1) {
    for (uint64_t i = 0; i < capacity; ++i) slots[i].seq.store(i, std::memory_order_relaxed);
  }
  ~ring() { delete[] slots; }
  ring(const ring&) = delete;
  ring& operator=(const ring&) = delete;

  slot* slots;
  const uint64_t mask;
  alignas(64) std::atomic<uint64_t> enqueue_pos{0};
  alignas(64) uint64_t dequeue_pos = 0;  // writer thread only
};

struct logger_state {
  std::atomic<uint8_t> min_level{static_cast<uint8_t>(level::info)};
  std::atomic<uint8_t> fmt{static_cast<uint8_t>(format::json)};
  std::atomic<int> fd{2};
  std::atomic<uint64_t> dropped{0};
  // The access-log channel: preformatted lines to their own descriptor (stdout or a file that
  // SIGUSR1 reopens for logrotate), through the same queue and writer.
  std::atomic<int> access_fd{1};
  std::atomic<uint64_t> access_dropped{0};
  std::atomic<bool> reopen_requested{false};
  std::string access_path;  // control thread writes it before start(); the writer reads it
  alignas(64) std::atomic<uint32_t> producers{0};  // threads inside the ring path of write()
  std::atomic<bool> running{false};                // producers may use `queue` only while true
  alignas(64) std::atomic<uint32_t> sleeping{0};   // futex word: 1 while the writer waits
  std::atomic<uint64_t> drained{0};   // ring position the writer has freed up to (writer stores)
  std::atomic<bool> nudged{false};    // a producer already woke this nap (half-full ring)
  std::atomic<bool> stop_requested{false};
  ring* queue = nullptr;  // published by `running` (release), retired after producers == 0
  std::thread writer;
  std::mutex control;  // serialises start/stop; producers never touch it
};

logger_state g;

// ---- formatting -------------------------------------------------------------------------------

// Appends into a fixed buffer. A piece that does not fit below the soft cap sets `cut` and is not
// written, nor is anything after it; `force` writes into the reserved tail to close the line.
class line_writer {
 public:
  explicit line_writer(char* buf) : _buf(buf) {}
  bool put(std::string_view s) noexcept {
    if (_cut || _len + s.size() > line_max - tail_reserve) return !(_cut = true);
    std::memcpy(_buf + _len, s.data(), s.size());
    _len += s.size();
    return true;
  }
  bool put(char c) noexcept { return put(std::string_view(&c, 1)); }
  void force(std::string_view s) noexcept {
    const size_t n = s.size() < line_max - _len ? s.size() : line_max - _len;
    std::memcpy(_buf + _len, s.data(), n);
    _len += n;
  }
  void rewind(size_t len) noexcept { _len = len; }
  size_t len() const noexcept { return _len; }
  bool cut() const noexcept { return _cut; }

 private:
  char* _buf;
  size_t _len = 0;
  bool _cut = false;
};

// Length of the well-formed UTF-8 sequence starting at s[i] (lead byte >= 0x80), 0 if malformed.
size_t utf8_len(std::string_view s, size_t i) noexcept {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF)
    n = 2;
  else if (c >= 0xE0 && c <= 0xEF)
    n = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
  else if (c >= 0xF0 && c <= 0xF4)
    n = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
  else
    return 0;
  if (i + n > s.size() || b(1) < lo || b(1) > hi) return 0;
  for (size_t k = 2; k < n; ++k)
    if (b(k) < 0x80 || b(k) > 0xBF) return 0;
  return n;
}

void put_hex_escape(line_writer& w, std::string_view prefix, unsigned char c) noexcept {
  constexpr char hex[] = "0123456789abcdef";
  char buf[8];
  std::memcpy(buf, prefix.data(), prefix.size());
  buf[prefix.size()] = hex[c >> 4];
  buf[prefix.size() + 1] = hex[c & 15];
  w.put(std::string_view(buf, prefix.size() + 2));
}

// One escaped character at a time, so a cut never splits an escape or a UTF-8 sequence.
// JSON: RFC 8259 escapes, malformed UTF-8 becomes \ufffd. Text: control bytes and malformed UTF-8
// become \n, \r, \t or \xHH; in a quoted value also \" and \\.
enum class escape : uint8_t { json, text, text_quoted };

void put_escaped(line_writer& w, std::string_view s, escape mode) noexcept {
  const bool json = mode == escape::json;
  for (size_t i = 0; i < s.size() && !w.cut();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t n = utf8_len(s, i);
      if (n != 0)
        w.put(s.substr(i, n));
      else if (json)
        w.put("\\ufffd");
      else
        put_hex_escape(w, "\\x", c);
      i += n != 0 ? n : 1;
      continue;
    }
    ++i;
    if (c == '\n')
      w.put("\\n");
    else if (c == '\r')
      w.put("\\r");
    else if (c == '\t')
      w.put("\\t");
    else if ((c == '"' || c == '\\') && mode != escape::text)
      w.put(c == '"' ? "\\\"" : "\\\\");
    else if (c < 0x20 || (c == 0x7f && !json))
      put_hex_escape(w, json ? "\\u00" : "\\x", c);
    else
      w.put(static_cast<char>(c));
  }
}

bool needs_quotes(std::string_view s) noexcept {
  if (s.empty()) return true;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == '"' || c == '=' || c == '\\' || c == 0x7f) return true;
  }
  return false;
}

void put_number(line_writer& w, const field& f, bool json) noexcept {
  char buf[32];
  std::to_chars_result r{buf, {}};
  switch (f.k) {
    case field::kind::i64:
      r = std::to_chars(buf, buf + sizeof buf, f.i);
      break;
    case field::kind::u64:
      r = std::to_chars(buf, buf + sizeof buf, f.u);
      break;
    case field::kind::f64:
      if (json && !std::isfinite(f.d)) return (void)w.put("null");
      r = std::to_chars(buf, buf + sizeof buf, f.d);
      break;
    case field::kind::boolean:
      return (void)w.put(f.b ? "true" : "false");
    case field::kind::str:
      break;
  }
  w.put(std::string_view(buf, static_cast<size_t>(r.ptr - buf)));
}

constexpr std::string_view level_json[] = {"debug", "info", "warn", "error"};
constexpr std::string_view level_text[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void put_timestamp(line_writer& w) noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  char buf[ts_chars];
  format_utc_us(static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000, buf);
  w.put(std::string_view(buf, sizeof buf));
}

// {"ts":"…","level":"info","msg":"…","k":v,…}\n. A field that does not fit is left out whole,
// unless it is a string that already started, which is cut and closed with …".
void format_json(line_writer& w, level l, std::string_view msg,
                 std::initializer_list<field> fields) noexcept {
  w.put("{\"ts\":\"");
  put_timestamp(w);
  w.put("\",\"level\":\"");
  w.put(level_json[static_cast<uint8_t>(l) & 3]);
  w.put("\",\"msg\":\"");
  bool in_string = true;
  put_escaped(w, msg, escape::json);
  in_string = !w.put('"');
  for (const field& f : fields) {
    if (w.cut()) break;
    const size_t mark = w.len();
    w.put(",\"");
    put_escaped(w, f.key, escape::json);
    w.put("\":");
    if (f.k != field::kind::str) {
      put_number(w, f, true);
      if (w.cut()) w.rewind(mark);
      continue;
    }
    if (!w.put('"')) {
      w.rewind(mark);
      break;
    }
    in_string = true;
    put_escaped(w, f.s, escape::json);
    in_string = !w.put('"');
  }
  if (w.cut()) w.force(in_string ? "\xE2\x80\xA6\",\"truncated\":true" : ",\"truncated\":true");
  w.force("}\n");
}

// 2026-11-22T02:03:04.123456Z INFO msg k=v k="v w"\n. A cut line ends with … (…" if quoted).
void format_text(line_writer& w, level l, std::string_view msg,
                 std::initializer_list<field> fields) noexcept {
  put_timestamp(w);
  w.put(' ');
  w.put(level_text[static_cast<uint8_t>(l) & 3]);
  w.put(' ');
  put_escaped(w, msg, escape::text);
  bool in_quotes = false;
  for (const field& f : fields) {
    if (w.cut()) break;
    w.put(' ');
    put_escaped(w, f.key, escape::text);
    w.put('=');
    if (f.k != field::kind::str) {
      put_number(w, f, false);
    } else if (needs_quotes(f.s)) {
      in_quotes = w.put('"');
      put_escaped(w, f.s, escape::text_quoted);
      in_quotes = in_quotes && !w.put('"');
    } else {
      put_escaped(w, f.s, escape::text);
    }
  }
  if (w.cut()) w.force(in_quotes ? "\xE2\x80\xA6\"" : ellipsis);
  w.force("\n");
}

// Formats one whole line (with '\n') into buf[line_max]; returns its length. A cut line is counted.
size_t format_line(char* buf, level l, std::string_view msg,
                   std::initializer_list<field> fields) noexcept {
  line_writer w(buf);
  if (static_cast<format>(g.fmt.load(std::memory_order_relaxed)) == format::json) {
    format_json(w, l, msg, fields);
  } else {
    format_text(w, l, msg, fields);
  }
  if (w.cut()) g.dropped.fetch_add(1, std::memory_order_relaxed);
  return w.len();
}

// ---- output -----------------------------------------------------------------------------------

// Writes all of iov[0..n) to fd; waits on a non-blocking fd. Returns false (lines lost) on error.
bool write_all(int fd, iovec* iov, size_t n) noexcept {
  while (n > 0) {
    const ssize_t w = ::writev(fd, iov, static_cast<int>(n));
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return false;
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, 100);
      continue;
    }
    auto left = static_cast<size_t>(w);
    while (n > 0 && left >= iov->iov_len) left -= iov->iov_len, ++iov, --n;
    if (n > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + left;
      iov->iov_len -= left;
    }
  }
  return true;
}

void write_sync(level l, std::string_view msg, std::initializer_list<field> fields) noexcept {
  char buf[line_max];
  iovec iov{buf, format_line(buf, l, msg, fields)};
  if (!write_all(g.fd.load(std::memory_order_relaxed), &iov, 1)) {
    g.dropped.fetch_add(1, std::memory_order_relaxed);
  }
}

long futex(std::atomic<uint32_t>* word, int op, uint32_t value, const timespec* timeout) noexcept {
  return ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op, value, timeout, nullptr, 0);
}

// Vyukov enqueue: claims the slot at enqueue_pos, or returns nullptr when the ring is full.
slot* claim(ring& r, uint64_t& pos) noexcept {
  pos = r.enqueue_pos.load(std::memory_order_relaxed);
  for (;;) {
    slot& s = r.slots[pos & r.mask];
    const uint64_t seq = s.seq.load(std::memory_order_acquire);
    const auto diff = static_cast<int64_t>(seq - pos);
    if (diff == 0) {
      if (r.enqueue_pos.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) return &s;
    } else if (diff < 0) {
      return nullptr;
    } else {
      pos = r.enqueue_pos.load(std::memory_order_relaxed);
    }
  }
}

// After publishing the slot at `pos`: wakes a sleeping writer, or nudges a napping one when the
// ring is half full (at most once per nap), so a burst is not dropped while it naps.
void wake_writer(const ring& r, uint64_t pos) noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with the writer's fence in idle()
  if (g.sleeping.load(std::memory_order_relaxed) == 1) {
    if (g.sleeping.exchange(0) == 1) futex(&g.sleeping, FUTEX_WAKE_PRIVATE, 1, nullptr);
    return;
  }
  if (pos - g.drained.load(std::memory_order_relaxed) >= (r.mask + 1) / 2 &&
      !g.nudged.load(std::memory_order_relaxed) &&
      !g.nudged.exchange(true, std::memory_order_relaxed)) {
    futex(&g.sleeping, FUTEX_WAKE_PRIVATE, 1, nullptr);
  }
}

void enqueue(ring& r, level l, std::string_view msg, std::initializer_list<field> fields) noexcept {
  uint64_t pos = 0;
  slot* s = claim(r, pos);
  if (s == nullptr) {
    g.dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  s->len = static_cast<uint32_t>(format_line(s->data, l, msg, fields));
  s->seq.store(pos + 1, std::memory_order_release);
  wake_writer(r, pos);
}

// ---- writer thread ----------------------------------------------------------------------------

bool head_ready(const ring& r) noexcept {
  const slot& s = r.slots[r.dequeue_pos & r.mask];
  return s.seq.load(std::memory_order_acquire) == r.dequeue_pos + 1;
}

// Writes up to batch_lines published lines of one channel with one writev, then frees their
// slots. A slot may carry a shard's access_batch block, which goes back to its owner once written.
size_t drain_batch(ring& r) noexcept {
  iovec iov[batch_lines];
  access_batch::block* blocks[batch_lines];
  size_t n = 0;
  size_t block_count = 0;
  uint64_t lines = 0;
  bool access = false;
  for (uint64_t pos = r.dequeue_pos; n < batch_lines; ++pos, ++n) {
    slot& s = r.slots[pos & r.mask];
    if (s.seq.load(std::memory_order_acquire) != pos + 1) break;
    const bool is_access = (s.len & access_flag) != 0;
    if (n == 0) access = is_access;
    if (is_access != access) break;
    if ((s.len & block_flag) != 0) {
      access_batch::block* b = nullptr;
      std::memcpy(&b, s.data, sizeof b);
      iov[n] = {b->data, b->len};
      blocks[block_count++] = b;
      lines += b->lines;
    } else {
      iov[n] = {s.data, s.len & len_mask};
      ++lines;
    }
  }
  if (n == 0) return 0;
  const int fd = (access ? g.access_fd : g.fd).load(std::memory_order_relaxed);
  if (!write_all(fd, iov, n)) {
    (access ? g.access_dropped : g.dropped).fetch_add(lines, std::memory_order_relaxed);
  }
  for (size_t i = 0; i < block_count; ++i) blocks[i]->release();
  for (size_t i = 0; i < n; ++i, ++r.dequeue_pos) {
    r.slots[r.dequeue_pos & r.mask].seq.store(r.dequeue_pos + r.mask + 1,
                                              std::memory_order_release);
  }
  g.drained.store(r.dequeue_pos, std::memory_order_relaxed);
  return n;
}

// Opens the access-log file for appending; -1 (and errno) on failure.
int open_access_file(const std::string& path) noexcept {
  return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

// SIGUSR1 asked for it: reopen the access-log file (logrotate moved the old one away).
void maybe_reopen() noexcept {
  if (!g.reopen_requested.exchange(false, std::memory_order_acq_rel)) return;
  if (g.access_path.empty()) return;
  const int fd = open_access_file(g.access_path);
  if (fd < 0) {
    write_sync(level::error, "cannot reopen the access log; still writing to the old file",
               {{"path", std::string_view(g.access_path)}, {"error", strerror(errno)}});
    return;
  }
  const int old = g.access_fd.exchange(fd, std::memory_order_relaxed);
  if (old > 2) ::close(old);
}

// The degraded mode's own warning: at most one line a second while lines are being dropped.
struct drop_report {
  uint64_t reported = 0;  // drops already reported (or older than this writer)
  int64_t last_s = 0;
  bool any = false;
};

void report_drops(drop_report& d) noexcept {
  const uint64_t total = g.dropped.load(std::memory_order_relaxed);
  if (total == d.reported || !enabled(level::warn)) return;
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  if (d.any && now.tv_sec - d.last_s < 1) return;
  const uint64_t since = total - d.reported;
  d = {.reported = total, .last_s = now.tv_sec, .any = true};
  write_sync(level::warn, "log lines dropped", {{"dropped", since}, {"dropped_total", total}});
}

// Busy mode's wait: sleeping stays 0, so producers do not wake it (except the half-full nudge and
// stop()/reopen, which wake whatever waits on the word).
void nap() noexcept {
  g.nudged.store(false, std::memory_order_relaxed);
  const timespec t{0, linger_ns};
  futex(&g.sleeping, FUTEX_WAIT_PRIVATE, 0, &t);
}

void idle(const ring& r) noexcept {
  g.sleeping.store(1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with the producer's fence
  if (head_ready(r) || g.stop_requested.load(std::memory_order_relaxed)) {
    g.sleeping.store(0, std::memory_order_relaxed);
    return;
  }
  const timespec safety{0, 500'000'000};
  futex(&g.sleeping, FUTEX_WAIT_PRIVATE, 1, &safety);
  g.sleeping.store(0, std::memory_order_relaxed);
}

void writer_loop(ring* r, uint64_t dropped_at_start) noexcept {
  drop_report drops{.reported = dropped_at_start};
  int empty_naps = naps_before_sleep;  // start idle: the first line wakes the writer
  for (;;) {
    maybe_reopen();
    if (drain_batch(*r) != 0) {
      empty_naps = 0;
      continue;
    }
    report_drops(drops);
    // stop() sets stop_requested only once no producer can still be publishing into the ring.
    if (g.stop_requested.load(std::memory_order_acquire) &&
        r->enqueue_pos.load(std::memory_order_acquire) == r->dequeue_pos) {
      break;
    }
    if (empty_naps < naps_before_sleep) {
      ++empty_naps;
      nap();
    } else {
      idle(*r);
    }
  }
}

uint64_t capacity_for(uint32_t lines) noexcept {
  uint64_t cap = 2;
  while (cap < lines && cap < queue_lines_max) cap <<= 1;
  return cap;
}

}  // namespace

void format_utc_us(int64_t unix_us, char* out) noexcept {
  int64_t secs = unix_us / 1000000;
  int64_t us = unix_us % 1000000;
  if (us < 0) us += 1000000, secs -= 1;
  // Every access line needs one: the calendar part is kept per thread for the current second.
  thread_local int64_t cached_secs = INT64_MIN;
  thread_local char cached[20];  // "YYYY-MM-DDTHH:MM:SS."
  if (secs == cached_secs) {
    std::memcpy(out, cached, sizeof cached);
    const auto u = static_cast<uint32_t>(us);  // < 10^6: three digit pairs
    runtime::put_two_digits(out + 20, u / 10000);
    runtime::put_two_digits(out + 22, u / 100 % 100);
    runtime::put_two_digits(out + 24, u % 100);
    out[26] = 'Z';
    return;
  }
  int64_t days = secs / 86400;
  int64_t sod = secs % 86400;
  if (sod < 0) sod += 86400, days -= 1;
  // Civil date from days since 1970-01-01 (H. Hinnant's days_from_civil inverse); no tz lock.
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const auto digits = [&](size_t at, int64_t v, int width) {
    for (int i = width - 1; i >= 0; --i, v /= 10)
      out[at + static_cast<size_t>(i)] = static_cast<char>('0' + v % 10);
  };
  digits(0, year, 4);
  digits(5, month, 2);
  digits(8, day, 2);
  digits(11, sod / 3600, 2);
  digits(14, sod / 60 % 60, 2);
  digits(17, sod % 60, 2);
  digits(20, us, 6);
  out[4] = out[7] = '-';
  out[10] = 'T';
  out[13] = out[16] = ':';
  out[19] = '.';
  out[26] = 'Z';
  std::memcpy(cached, out, sizeof cached);
  cached_secs = secs;
}

void configure(const options& opts) noexcept {
  g.min_level.store(static_cast<uint8_t>(opts.min_level), std::memory_order_relaxed);
  g.fmt.store(static_cast<uint8_t>(opts.fmt), std::memory_order_relaxed);
  g.fd.store(opts.fd, std::memory_order_relaxed);
}

void start(const options& opts) {
  stop();
  configure(opts);
  std::lock_guard lock(g.control);
  const uint64_t cap = capacity_for(opts.queue_lines);
  slot* slots = new (std::nothrow) slot[cap];
  if (slots == nullptr) {
    write_sync(level::error, "log: cannot allocate the queue, logging synchronously",
               {{"queue_lines", cap}});
    return;
  }
  g.queue = new (std::nothrow) ring(slots, cap);
  if (g.queue == nullptr) {
    delete[] slots;
    return;
  }
  // The writer inherits a full signal mask: signals belong to the control thread's signalfd, and a
  // write to a closed pipe then fails with EPIPE instead of killing the process.
  sigset_t all, old;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  try {
    g.writer = std::thread(writer_loop, g.queue, g.dropped.load(std::memory_order_relaxed));
    ::pthread_setname_np(g.writer.native_handle(), "rg-log");
  } catch (...) {
    delete g.queue;
    g.queue = nullptr;
  }
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (g.queue != nullptr) g.running.store(true, std::memory_order_seq_cst);
}

void stop() {
  std::lock_guard lock(g.control);
  if (!g.running.load(std::memory_order_relaxed)) return;
  g.running.store(false, std::memory_order_seq_cst);
  // A producer that saw running == true is counted in `producers`: wait until it has published.
  while (g.producers.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
  g.stop_requested.store(true, std::memory_order_seq_cst);
  g.sleeping.store(0, std::memory_order_seq_cst);
  futex(&g.sleeping, FUTEX_WAKE_PRIVATE, 1, nullptr);
  g.writer.join();
  delete g.queue;
  g.queue = nullptr;
  g.stop_requested.store(false, std::memory_order_relaxed);
}

void set_level(level l) noexcept {
  g.min_level.store(static_cast<uint8_t>(l), std::memory_order_relaxed);
}

bool enabled(level l) noexcept {
  return static_cast<uint8_t>(l) >= g.min_level.load(std::memory_order_relaxed);
}

uint64_t dropped() noexcept {
  return g.dropped.load(std::memory_order_relaxed);
}

void write(level l, std::string_view msg, std::initializer_list<field> fields) noexcept {
  if (!enabled(l)) return;
  g.producers.fetch_add(1, std::memory_order_seq_cst);
  if (g.running.load(std::memory_order_seq_cst)) {
    enqueue(*g.queue, l, msg, fields);
    g.producers.fetch_sub(1, std::memory_order_release);
    return;
  }
  g.producers.fetch_sub(1, std::memory_order_release);
  write_sync(l, msg, fields);
}

std::string set_access_file(const std::string& path) {
  std::lock_guard lock(g.control);
  int fd = 1;
  if (!path.empty()) {
    fd = open_access_file(path);
    if (fd < 0) return "cannot open " + path + ": " + strerror(errno);
  }
  const int old = g.access_fd.exchange(fd, std::memory_order_relaxed);
  if (old > 2) ::close(old);
  g.access_path = path;
  return {};
}

void reopen_access_file() noexcept {
  g.reopen_requested.store(true, std::memory_order_release);
  g.sleeping.store(0, std::memory_order_seq_cst);
  futex(&g.sleeping, FUTEX_WAKE_PRIVATE, 1, nullptr);
}

uint64_t access_dropped() noexcept { return g.access_dropped.load(std::memory_order_relaxed); }

void access(std::string_view line) noexcept {
  // One slot per line, newline included; a line that cannot fit is dropped whole (a cut JSON
  // line would be worse than a counted gap).
  if (line.size() + 1 > line_max) {
    g.access_dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  g.producers.fetch_add(1, std::memory_order_seq_cst);
  if (g.running.load(std::memory_order_seq_cst)) {
    ring& r = *g.queue;
    uint64_t pos = 0;
    slot* s = claim(r, pos);
    if (s == nullptr) {
      g.access_dropped.fetch_add(1, std::memory_order_relaxed);
    } else {
      std::memcpy(s->data, line.data(), line.size());
      s->data[line.size()] = '\n';
      s->len = uint32_t(line.size() + 1) | access_flag;
      s->seq.store(pos + 1, std::memory_order_release);
      wake_writer(r, pos);
    }
    g.producers.fetch_sub(1, std::memory_order_release);
    return;
  }
  g.producers.fetch_sub(1, std::memory_order_release);
  char buf[line_max];
  std::memcpy(buf, line.data(), line.size());
  buf[line.size()] = '\n';
  iovec iov{buf, line.size() + 1};
  if (!write_all(g.access_fd.load(std::memory_order_relaxed), &iov, 1)) {
    g.access_dropped.fetch_add(1, std::memory_order_relaxed);
  }
}

// ---- access_batch ----------------------------------------------------------------------------

namespace {

// Queues a handed-over block; false when the writer is not running (the caller writes it).
// `nudge`: wake a napping writer now (its owner is running out of free blocks).
bool enqueue_block(access_batch::block* b, bool nudge) noexcept {
  g.producers.fetch_add(1, std::memory_order_seq_cst);
  if (!g.running.load(std::memory_order_seq_cst)) {
    g.producers.fetch_sub(1, std::memory_order_release);
    return false;
  }
  ring& r = *g.queue;
  uint64_t pos = 0;
  if (slot* s = claim(r, pos); s == nullptr) {
    g.access_dropped.fetch_add(b->lines, std::memory_order_relaxed);
    b->release();
  } else {
    std::memcpy(s->data, &b, sizeof b);
    s->len = uint32_t(sizeof b) | access_flag | block_flag;
    s->seq.store(pos + 1, std::memory_order_release);
    wake_writer(r, pos);
    // A napping writer is nudged (at most once per nap) when the shard is down to its last free
    // block; otherwise the blocks wait out the nap, so a busy shard costs the writer one wake-up
    // per few blocks rather than per block.
    if (nudge && !g.nudged.load(std::memory_order_relaxed) &&
        !g.nudged.exchange(true, std::memory_order_relaxed)) {
      futex(&g.sleeping, FUTEX_WAKE_PRIVATE, 1, nullptr);
    }
  }
  g.producers.fetch_sub(1, std::memory_order_release);
  return true;
}

}  // namespace

access_batch::~access_batch() {
  flush();
  // A queued block belongs to the writer until written (stop() drains the queue before it
  // returns). One still queued after the wait is left allocated rather than freed under it.
  for (block* b : _blocks) {
    if (b == nullptr) continue;
    for (int i = 0; i < 2000 && b->queued.load(std::memory_order_acquire); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (!b->queued.load(std::memory_order_acquire)) delete b;
  }
}

access_batch::block* access_batch::free_block() noexcept {
  for (block*& b : _blocks) {
    if (b == nullptr) {
      b = new (std::nothrow) block;  // untouched pages cost no memory until lines arrive
      return b;
    }
    if (!b->queued.load(std::memory_order_acquire)) return b;
  }
  return nullptr;
}

std::span<char> access_batch::reserve_in_next_block(size_t max) noexcept {
  if (max + 1 > block_bytes) return {};
  if (_current != nullptr) hand_over();  // no room left in it
  _current = free_block();
  if (_current == nullptr) return {};
  _cursor = _current->data;  // a free block is empty
  _end = _current->data + block_bytes;
  _lines = 0;
  return {_cursor, max};
}

void access_batch::drop() noexcept {
  g.access_dropped.fetch_add(1, std::memory_order_relaxed);
}

void access_batch::flush() noexcept {
  if (pending()) hand_over();
}

void access_batch::hand_over() noexcept {
  block* b = _current;
  if (b == nullptr) return;
  b->len = uint32_t(_cursor - b->data);
  b->lines = _lines;
  _current = nullptr;
  _cursor = _end = nullptr;
  _lines = 0;
  if (b->len == 0) return;
  b->queued.store(true, std::memory_order_relaxed);
  size_t free_left = 0;
  for (block* other : _blocks) {
    if (other == nullptr || !other->queued.load(std::memory_order_relaxed)) ++free_left;
  }
  if (enqueue_block(b, free_left <= 1)) return;
  // No writer (before start() or after stop()): write it now, as access() does.
  iovec iov{b->data, b->len};
  if (!write_all(g.access_fd.load(std::memory_order_relaxed), &iov, 1)) {
    g.access_dropped.fetch_add(b->lines, std::memory_order_relaxed);
  }
  b->release();
}

}  // namespace rg::log
