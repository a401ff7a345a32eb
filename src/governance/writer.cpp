// The ledger writer thread: drains the shards' row queues often (so they stay small) and commits
// what it collected once per flush interval, in one transaction. A failing database keeps the
// rows for the next attempt (bounded); a full queue is the shard's to count.
#include <ringgate/governance/ledger.hpp>

#include <algorithm>
#include <chrono>

#include <ringgate/runtime/clock.hpp>
#include <ringgate/runtime/log.hpp>

namespace rg::governance {
namespace {

constexpr uint32_t drain_period_ms = 20;       // queue → batch
constexpr size_t batch_commit_rows = 16384;    // commit early when this many wait
constexpr size_t retained_rows_max = 1 << 20;  // rows kept across failing commits
constexpr uint64_t warn_every_ns = 10'000'000'000;

}  // namespace

ledger_writer::ledger_writer(std::unique_ptr<ledger> db, ledger_names names, const options& opts)
    : _db(std::move(db)), _names(std::move(names)), _opts(opts) {
  for (uint32_t i = 0; i < std::max<uint32_t>(opts.shards, 1); ++i) {
    _queues.push_back(std::make_unique<runtime::mpsc_queue<usage_row>>(opts.queue_rows));
  }
}

ledger_writer::~ledger_writer() { stop(); }

bool ledger_writer::push(uint32_t shard, const usage_row& row) noexcept {
  if (shard < _queues.size() && _queues[shard]->try_push(row)) return true;
  _counters.dropped.fetch_add(1, std::memory_order_relaxed);
  return false;
}

void ledger_writer::start() {
  if (_thread.joinable()) return;
  _thread = std::thread([this] { run(); });
}

void ledger_writer::stop() {
  {
    std::lock_guard lk(_mutex);
    _stopping = true;
  }
  _wake.notify_all();
  if (_thread.joinable()) {
    _thread.join();
  } else if (_db) {
    std::vector<usage_row> batch;  // never started (or already stopped): flush inline
    drain(batch);
    commit(batch);
  }
}

void ledger_writer::drain(std::vector<usage_row>& batch) {
  usage_row row;
  for (auto& q : _queues) {
    while (q->try_pop(row)) batch.push_back(row);
  }
}

void ledger_writer::commit(std::vector<usage_row>& batch) {
  if (batch.empty()) return;
  auto r = _db->append(batch, _names);
  if (r) {
    _counters.written.fetch_add(batch.size(), std::memory_order_relaxed);
    batch.clear();
    return;
  }
  log::error("usage ledger: commit failed; keeping the rows for the next attempt",
             {{"error", r.error()}, {"rows", uint64_t(batch.size())}});
  if (batch.size() > retained_rows_max) {
    size_t lost = batch.size() - retained_rows_max;
    _counters.failed.fetch_add(lost, std::memory_order_relaxed);
    batch.erase(batch.begin(), batch.begin() + ptrdiff_t(lost));
  }
}

void ledger_writer::run() {
  pthread_setname_np(pthread_self(), "rg-ledger");
  std::vector<usage_row> batch;
  const uint64_t interval_ns = runtime::ms_to_ns(_opts.flush_interval_ms);
  const auto wait = std::chrono::milliseconds(std::min(_opts.flush_interval_ms, drain_period_ms));
  uint64_t next_commit = runtime::monotonic_ns() + interval_ns;
  uint64_t next_warn = 0;
  std::unique_lock lk(_mutex);
  while (!_stopping) {
    _wake.wait_for(lk, wait, [this] { return _stopping; });
    lk.unlock();
    drain(batch);
    uint64_t now = runtime::monotonic_ns();
    if (now >= next_commit || batch.size() >= batch_commit_rows) {
      commit(batch);
      next_commit = now + interval_ns;
    }
    uint64_t dropped = _counters.dropped.load(std::memory_order_relaxed);
    if (dropped != _warned_drops && now >= next_warn) {
      log::warn("usage ledger: a shard's row queue was full; rows dropped",
                {{"dropped_total", dropped}, {"queue_rows", _opts.queue_rows}});
      _warned_drops = dropped;
      next_warn = now + warn_every_ns;
    }
    lk.lock();
  }
  lk.unlock();
  drain(batch);  // SIGTERM: everything the shards queued before they stopped
  commit(batch);
  if (!batch.empty()) {
    _counters.failed.fetch_add(batch.size(), std::memory_order_relaxed);
    log::error("usage ledger: rows lost at exit", {{"rows", uint64_t(batch.size())}});
  }
}

}  // namespace rg::governance
