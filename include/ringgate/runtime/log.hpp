// Structured logging that never blocks a shard: callers format into a slot of a bounded lock-free
// queue; one writer thread drains it to stderr. When the queue is full the line is dropped and
// counted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

namespace rg::log {

enum class level : uint8_t { debug = 0, info = 1, warn = 2, error = 3 };
enum class format : uint8_t { json, text };

// A key/value pair attached to a line. Values are copied when the line is formatted.
struct field {
  enum class kind : uint8_t { str, i64, u64, f64, boolean };
  std::string_view key;
  kind k;
  union {
    std::string_view s;
    int64_t i;
    uint64_t u;
    double d;
    bool b;
  };
  field(std::string_view key_, std::string_view v) noexcept : key(key_), k(kind::str), s(v) {}
  field(std::string_view key_, const char* v) noexcept : key(key_), k(kind::str), s(v) {}
  field(std::string_view key_, int v) noexcept : key(key_), k(kind::i64), i(v) {}
  field(std::string_view key_, long v) noexcept : key(key_), k(kind::i64), i(v) {}
  field(std::string_view key_, long long v) noexcept : key(key_), k(kind::i64), i(v) {}
  field(std::string_view key_, unsigned v) noexcept : key(key_), k(kind::u64), u(v) {}
  field(std::string_view key_, unsigned long v) noexcept : key(key_), k(kind::u64), u(v) {}
  field(std::string_view key_, unsigned long long v) noexcept : key(key_), k(kind::u64), u(v) {}
  field(std::string_view key_, double v) noexcept : key(key_), k(kind::f64), d(v) {}
  field(std::string_view key_, bool v) noexcept : key(key_), k(kind::boolean), b(v) {}
};

struct options {
  level min_level = level::info;
  format fmt = format::json;
  int fd = 2;                   // where lines go (stderr by default)
  uint32_t queue_lines = 1024;  // bounded queue capacity (power of two); 1 KiB per slot
};

// Sets level, format and fd without starting the writer thread (lines stay synchronous until
// start()). Control thread only; lines already queued keep the format they were written in.
void configure(const options& opts) noexcept;
// Starts the writer thread. Before start() (or after stop()), lines are written synchronously;
// that only happens during startup and exit.
void start(const options& opts);
// Drains every queued line, then joins the writer thread.
void stop();
void set_level(level l) noexcept;
bool enabled(level l) noexcept;
// Lines dropped because the queue was full (or the line exceeded the slot size and was cut).
uint64_t dropped() noexcept;

// Writes "YYYY-MM-DDTHH:MM:SS.ffffffZ" (ts_chars bytes, no NUL) for a Unix time in microseconds.
inline constexpr size_t ts_chars = 27;
void format_utc_us(int64_t unix_us, char* out) noexcept;

void write(level l, std::string_view msg, std::initializer_list<field> fields = {}) noexcept;

// ---- the access log: one preformatted line per request, through the same bounded queue and
// writer thread, to its own destination ----

// Where access lines go: "" = stdout, else FILE opened for appending. Control thread. Returns an
// error message ("cannot open FILE: reason"), or "" on success.
std::string set_access_file(const std::string& path);
// Asks the writer to reopen the access file before its next write (SIGUSR1, for logrotate).
void reopen_access_file() noexcept;
// Queues one line (a complete JSON object; the newline is added). Never blocks: a full queue, or
// a line longer than a slot (~1 KiB), drops it and counts it.
void access(std::string_view line) noexcept;
uint64_t access_dropped() noexcept;

// A shard's access lines, batched: formatted in place into a block of its own and handed to the
// writer thread a block at a time (one queue slot and one wake-up check per ~128 KiB instead of
// per line, and one write for several blocks). Queueing each line on its own cost a shard two
// shared atomic read-modify-writes, a full fence and a copy per request, and the writer a wake-up
// every 2 ms (callgrind and perf, small workload at ~50k req/s). One batch per thread; not
// thread-safe. Lines reach the file when a block fills or at the owner's flush(), called within
// the latency the owner accepts (the gateway: 100 ms after a block's first line) and on exit.
class access_batch {
 public:
  static constexpr size_t block_bytes = 128 * 1024;
  static constexpr size_t blocks = 4;  // allocated on first use; 512 KiB per batch at most

  access_batch() noexcept = default;
  access_batch(const access_batch&) = delete;
  access_batch& operator=(const access_batch&) = delete;
  // Flushes, then waits (bounded) until the writer is done with every block.
  ~access_batch();

  // Room for one line of at most `max` bytes (the newline comes on top), in place. Empty when
  // every block is still queued (or none can be allocated): send that line through access()
  // (which keeps the order: no line of this batch is pending then), or drop() it.
  // Inline: every access line takes this path (a call each for reserve, commit and pending
  // was a tenth of the line's cost); the block changes out of line.
  std::span<char> reserve(size_t max) noexcept {
    if (max + 1 <= size_t(_end - _cursor)) return {_cursor, max};
    return reserve_in_next_block(max);
  }
  // The line written into the last reserve(): n bytes (0: nothing; the reservation is abandoned).
  void commit(size_t n) noexcept {
    if (_cursor == nullptr || n == 0) return;
    _cursor[n] = '\n';
    _cursor += n + 1;
    ++_lines;
  }
  // Counts a line that could not be reserved or formatted as dropped.
  static void drop() noexcept;
  // Hands the current block to the writer if it holds any line.
  void flush() noexcept;
  // Lines wait in the current block for a flush() (or for the block to fill).
  bool pending() const noexcept { return _lines != 0; }

  struct block;  // log.cpp

 private:
  std::span<char> reserve_in_next_block(size_t max) noexcept;
  block* free_block() noexcept;
  void hand_over() noexcept;

  block* _blocks[blocks] = {};
  block* _current = nullptr;
  // The current block's free part and its lines so far (its len and lines are set when it is
  // handed over); all null / 0 without a current block.
  char* _cursor = nullptr;
  char* _end = nullptr;
  uint32_t _lines = 0;
};

inline void debug(std::string_view m, std::initializer_list<field> f = {}) noexcept {
  if (enabled(level::debug)) write(level::debug, m, f);
}
inline void info(std::string_view m, std::initializer_list<field> f = {}) noexcept {
  if (enabled(level::info)) write(level::info, m, f);
}
inline void warn(std::string_view m, std::initializer_list<field> f = {}) noexcept {
  if (enabled(level::warn)) write(level::warn, m, f);
}
inline void error(std::string_view m, std::initializer_list<field> f = {}) noexcept {
  if (enabled(level::error)) write(level::error, m, f);
}

}  // namespace rg::log
