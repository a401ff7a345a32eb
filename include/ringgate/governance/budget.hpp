// Money, prices and budgets in integers, so that reservations and settlements add up exactly:
// amounts are nano-dollars (1e-9 USD), prices nano-dollars per million tokens, and a cost is
// rounded up to the next nano-dollar once per request. A budget account is one atomic word per key
// holding the current period's committed spend (settled + reserved); admission reserves the
// worst case with a CAS that fails instead of overspending, so concurrent requests can never
// together commit more than the budget.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include <ringgate/config/config.hpp>

namespace rg::governance {

using nano_usd = int64_t;
inline constexpr nano_usd nano_per_usd = 1'000'000'000;
// Committed spend lives in 56 bits (the top 8 tag the period): up to ≈ 72 million USD per key
// and period. config validation keeps budgets well below (budget_usd_max).
inline constexpr nano_usd committed_max = (int64_t(1) << 56) - 1;
inline constexpr double budget_usd_max = 10'000'000;

// USD per million tokens → nano-dollars per million tokens (exact for prices given to 1e-9).
struct price {
  int64_t input = 0;
  int64_t output = 0;
  int64_t cached_input = 0;  // = input when not configured (config::model_price::cached_input)
  static price from(const config::model_price& p) noexcept;
};

struct token_counts {
  int64_t input = 0;   // prompt tokens, cached ones included (OpenAI's sense)
  int64_t cached = 0;  // of which served from the prompt cache
  int64_t output = 0;
};

// ceil((uncached·input + cached·cached_input + output·output) / 10^6) nano-dollars.
nano_usd cost(const price& p, const token_counts& t) noexcept;
// "0.000123450" style: USD with nine decimals, no exponent. Returns the length written (≤ 24).
size_t format_usd(nano_usd amount, char* out, size_t cap) noexcept;

enum class period : uint8_t { daily, monthly, total };
period parse_period(std::string_view text) noexcept;  // "daily" | "monthly" | "total"

// The period a wall time (Unix seconds, UTC) falls in: days since 1970-01-01 (daily), months
// since 1970-01 (monthly), 0 (total).
int64_t period_index(period p, int64_t unix_s) noexcept;
// Unix seconds at which period `index` begins.
int64_t period_start(period p, int64_t index) noexcept;
// The ledger's label for a period: "d:2026-11-22", "m:2026-11" or "total".
std::string period_label(period p, int64_t index);

// One key's budget. Word layout: (period index mod 256) << 56 | committed nano-dollars. A new
// period starts lazily: the first reservation that sees a newer period tag starts from zero. A
// reservation remembers its tag, and its settlement changes the account only while the tag is
// still current (a request admitted before midnight is billed to the day it was admitted in).
class budget_account {
 public:
  void configure(period p, nano_usd limit, int64_t period_idx, nano_usd restored_spend) noexcept;

  struct reservation {
    nano_usd amount = 0;
    uint8_t tag = 0;
    int64_t period_idx = 0;  // the period it was billed to (for the ledger)
    bool held = false;
  };
  // Reserves `amount` in the period of `period_idx`; false when committed + amount > limit.
  bool reserve(int64_t period_idx, nano_usd amount, reservation& out) noexcept;
  // Replaces the reservation with the actual cost (0 releases it).
  void settle(reservation& r, nano_usd actual) noexcept;
  // Starts the period of `period_idx` if the account is still in an older one. The control
  // thread calls it often, so a tag never lags by more than one period and the 8-bit tag
  // comparison cannot wrap however long a key stays idle.
  void roll(int64_t period_idx) noexcept;

  // Committed spend in the current period as of `period_idx` (0 when that period has not begun
  // here yet), and the limit.
  nano_usd committed(int64_t period_idx) const noexcept;
  nano_usd limit() const noexcept { return _limit; }
  period kind() const noexcept { return _period; }

 private:
  static constexpr uint64_t pack(uint8_t tag, nano_usd c) noexcept {
    return uint64_t(tag) << 56 | (uint64_t(c) & uint64_t(committed_max));
  }
  static uint8_t tag_of(uint64_t w) noexcept { return uint8_t(w >> 56); }
  static nano_usd amount_of(uint64_t w) noexcept { return nano_usd(w & uint64_t(committed_max)); }

  alignas(64) std::atomic<uint64_t> _word{0};
  nano_usd _limit = 0;
  period _period = period::monthly;
};

}  // namespace rg::governance
