// Admission and settlement for virtual keys. `governance` is the process-wide part, built once by
// the control thread: the key table and, per key, the global pools (RPM, TPM), the budget account
// and the in-flight count, all atomics. `shard_governor` is one shard's part: its slices of every
// key's limits and its ledger queue. Invariant: an admitted request holds a ticket that is settled
// exactly once (settle() or, failing that, the ticket's release), so reservations never leak and
// nothing is charged twice. No locks and no allocation on either path.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include <ringgate/governance/budget.hpp>
#include <ringgate/governance/keys.hpp>
#include <ringgate/governance/ledger.hpp>
#include <ringgate/governance/limiter.hpp>

namespace rg::governance {

// Shared by every shard; one cache-line-aligned block per key.
struct key_shared {
  limiter rpm;
  limiter tpm;
  budget_account budget;
  alignas(64) std::atomic<uint32_t> in_flight{0};
};

class governance {
 public:
  // `unix_s`: now (budgets start in the current period with nothing spent).
  governance(key_table keys, uint32_t shards, bool auth_required, int64_t unix_s);
  ~governance();

  // Control thread, before the shards start: each budgeted key's spend in its current period,
  // from the ledger (so a restart never resets a budget). Without a ledger budgets start at 0.
  std::expected<void, std::string> restore(ledger& db, int64_t unix_s);
  void attach_writer(std::unique_ptr<ledger_writer> w) noexcept { _writer = std::move(w); }
  ledger_writer* writer() noexcept { return _writer.get(); }
  void stop_writer();
  // Control thread, every ~100 ms: begins new budget periods (see budget_account::roll).
  void roll_periods(int64_t unix_s) noexcept;

  const key_table& keys() const noexcept { return _keys; }
  const std::array<uint64_t, 2>& cache_secret() const noexcept { return _cache_secret; }
  key_shared& shared(size_t key) noexcept { return _shared[key]; }
  uint32_t shards() const noexcept { return _shards; }
  bool auth_required() const noexcept { return _auth_required; }

 private:
  key_table _keys;
  std::unique_ptr<key_shared[]> _shared;
  uint32_t _shards;
  bool _auth_required;
  std::array<uint64_t, 2> _cache_secret{};  // random: the key caches' SipHash key
  std::unique_ptr<ledger_writer> _writer;
};

enum class verdict : uint8_t {
  admitted,
  model_not_allowed,  // 403
  unpriced,           // 403: a budgeted key asked for a model without a price
  concurrency,        // 429
  rpm,                // 429
  tpm,                // 429
  tpm_too_large,      // 429: more tokens than the key may use in a minute
  budget,             // 429 insufficient_quota
};

// What admission needs from the request.
struct admission {
  int32_t key = -1;                 // -1: anonymous (no limits)
  std::string_view model;           // as the client asked, for the key's globs
  const price* model_price = nullptr;  // null: the model has no price
  int64_t tpm_tokens = 0;           // prompt estimate + max output
  int64_t budget_input_tokens = 0;  // upper bound on prompt tokens
  int64_t budget_output_tokens = 0; // max output
  uint64_t now_ns = 0;              // monotonic
  int64_t unix_us = 0;              // wall clock, for budget periods and the ledger
};

struct limit_state {
  uint64_t limit = 0;  // 0: the key has no such limit
  int64_t remaining = 0;
  uint64_t reset_ns = 0;
};

// Why a request was refused, for the 429's headers and message.
struct rejection {
  uint64_t retry_after_ns = 0;  // 0: no Retry-After
  limit_state requests, tokens;
  int64_t tokens_asked = 0;     // tpm / tpm_too_large
  nano_usd reserve = 0;         // budget
  nano_usd remaining_budget = 0;
};

// An admitted request's holdings.
struct ticket {
  int32_t key = -1;
  bool concurrency_held = false;
  int64_t tpm_charged = 0;
  budget_account::reservation budget;
  const price* model_price = nullptr;
  int64_t unix_us = 0;  // admission time, moved to the start of the billed period if later
  bool open = false;
};

class shard_governor {
 public:
  shard_governor(governance& g, uint32_t shard);
  ~shard_governor();

  // The index of the key `presented` is (SHA-256 lookup, memoized per shard), or -1.
  int32_t find_key(std::string_view presented) noexcept { return _cache.find(presented); }
  verdict admit(const admission& a, ticket& t, rejection& r) noexcept;
  // Settles an admitted request to what it is billed for (zero tokens releases everything).
  // Returns its cost (-1: no price). Idempotent: a settled ticket is left alone.
  nano_usd settle(ticket& t, const token_counts& billed, uint64_t now_ns) noexcept;
  // Queues a ledger row (false: no ledger, or the queue was full and the row was counted).
  bool record(const usage_row& row) noexcept;

  const governance& shared() const noexcept { return _g; }

 private:
  struct key_slices {
    slice rpm, tpm;
  };
  void rollback(ticket& t, int32_t key, bool rpm_taken, int64_t now) noexcept;
  void describe(int32_t key, int64_t now_ticks, rejection& r) const noexcept;

  governance& _g;
  uint32_t _shard;
  std::vector<key_slices> _slices;
  key_cache _cache;
};

}  // namespace rg::governance
