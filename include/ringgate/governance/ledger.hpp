// The usage ledger: one SQLite file in WAL mode with a row per admitted request and, updated in
// the same transaction, the spend per key and budget period (so a restart restores budgets by
// reading a handful of rows). Shards never touch SQLite: they push fixed-size rows into their own
// bounded queue; one writer thread drains the queues and commits a batch every flush interval.
// Invariant: a row is either committed with its spend or not at all; a full queue drops the row
// and counts it, it never blocks a shard. After a crash (kill -9) at most the rows of the last
// flush interval are missing; SIGTERM flushes everything (ledger_writer::stop).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <expected>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <ringgate/governance/budget.hpp>
#include <ringgate/runtime/mpsc_queue.hpp>

struct sqlite3;
struct sqlite3_stmt;

namespace rg::governance {

// What a shard records about one admitted request (plain bytes: copied through the queue).
struct usage_row {
  static constexpr size_t text_max = 128;
  int64_t time_us = 0;     // admission, Unix µs (UTC)
  int64_t latency_us = 0;  // admission → end of the answer
  int64_t tokens_in = 0, tokens_out = 0, tokens_cached = 0;
  nano_usd cost = -1;      // -1: no price for the model
  int32_t key = -1;        // key index, -1: anonymous (auth.required = false)
  int32_t provider = -1;   // provider index, -1: none
  uint16_t status = 0;     // HTTP status answered (0: the client left before any)
  bool estimated = false;  // the upstream reported no usage: tokens are the gateway's estimate
  uint8_t request_id_len = 0;
  uint8_t model_len = 0;
  char request_id[text_max];
  char model[text_max];

  void set_request_id(std::string_view s) noexcept;
  void set_model(std::string_view s) noexcept;
};

// Names the writer resolves indices with (rows carry indices, not strings).
struct ledger_names {
  std::vector<std::string> keys;
  std::vector<std::string> providers;
};

// Spend per key in one report (ringgate usage).
struct usage_summary {
  std::string key;  // "" for anonymous requests
  uint64_t requests = 0;
  int64_t tokens_in = 0, tokens_out = 0;
  nano_usd cost = 0;
  uint64_t estimated = 0;  // rows whose tokens were estimated
};

class ledger {
 public:
  enum class access : uint8_t { read_write, read_only };
  static std::expected<std::unique_ptr<ledger>, std::string> open(const std::string& path,
                                                                  access mode);
  ~ledger();
  ledger(const ledger&) = delete;
  ledger& operator=(const ledger&) = delete;

  // Spend recorded for `key` under a period label (period_label()); 0 when none.
  std::expected<nano_usd, std::string> spend(std::string_view key, std::string_view label);
  // Commits rows (and their spend) in one transaction.
  std::expected<void, std::string> append(const std::vector<usage_row>& rows,
                                          const ledger_names& names);
  // Requests, tokens and cost per key since `since_us` (Unix µs), optionally of one key.
  std::expected<std::vector<usage_summary>, std::string> summarize(int64_t since_us,
                                                                   std::string_view key);
  uint64_t rows();

 private:
  explicit ledger(sqlite3* db) : _db(db) {}
  std::expected<void, std::string> exec(const char* sql);
  std::expected<sqlite3_stmt*, std::string> prepare(const char* sql);
  std::string error_text(std::string_view what) const;

  sqlite3* _db = nullptr;
  sqlite3_stmt* _insert = nullptr;
  sqlite3_stmt* _add_spend = nullptr;
};

// Counters readable from any thread (metrics).
struct ledger_counters {
  std::atomic<uint64_t> written{0};  // rows committed
  std::atomic<uint64_t> dropped{0};  // rows refused by a full queue
  std::atomic<uint64_t> failed{0};   // rows lost to a failing database
};

class ledger_writer {
 public:
  struct options {
    uint32_t shards = 1;
    uint32_t queue_rows = 4096;       // per shard
    uint32_t flush_interval_ms = 1000;
  };
  ledger_writer(std::unique_ptr<ledger> db, ledger_names names, const options& opts);
  ~ledger_writer();

  // Shard `shard` only (its queue has one producer). False when the queue was full (counted).
  bool push(uint32_t shard, const usage_row& row) noexcept;
  void start();
  // Drains every queue, commits, and joins the thread. Call after the shards have stopped.
  void stop();
  const ledger_counters& counters() const noexcept { return _counters; }
  const ledger_names& names() const noexcept { return _names; }

 private:
  void run();
  void drain(std::vector<usage_row>& batch);
  void commit(std::vector<usage_row>& batch);

  std::unique_ptr<ledger> _db;
  ledger_names _names;
  options _opts;
  std::vector<std::unique_ptr<runtime::mpsc_queue<usage_row>>> _queues;
  ledger_counters _counters;
  std::thread _thread;
  std::mutex _mutex;  // writer thread and stop() only; never taken by a shard
  std::condition_variable _wake;
  bool _stopping = false;
  uint64_t _warned_drops = 0;
};

}  // namespace rg::governance
