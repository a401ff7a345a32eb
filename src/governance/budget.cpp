// Integer money, UTC budget periods (civil-date arithmetic, no gmtime on the request path) and
// the lock-free budget account.
#include <ringgate/governance/budget.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string_view>

namespace rg::governance {
namespace {

constexpr int64_t seconds_per_day = 86400;

int64_t floor_div(int64_t a, int64_t b) noexcept {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = unsigned(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + int64_t(doe) - 719468;
}

struct civil {
  int64_t y;
  unsigned m, d;
};

civil civil_from_days(int64_t z) noexcept {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = unsigned(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {int64_t(yoe) + era * 400 + (m <= 2), m, d};
}

int64_t clamp_tokens(int64_t v) noexcept { return v < 0 ? 0 : v; }

__extension__ typedef unsigned __int128 u128;  // products of tokens and prices

}  // namespace

price price::from(const config::model_price& p) noexcept {
  price out;
  out.input = std::llround(p.input_per_mtok * 1e9);
  out.output = std::llround(p.output_per_mtok * 1e9);
  out.cached_input = std::llround(p.cached_input() * 1e9);
  return out;
}

nano_usd cost(const price& p, const token_counts& t) noexcept {
  const int64_t input = clamp_tokens(t.input);
  const int64_t cached = std::min(clamp_tokens(t.cached), input);
  u128 total = u128(uint64_t(input - cached)) * uint64_t(p.input) +
               u128(uint64_t(cached)) * uint64_t(p.cached_input) +
               u128(uint64_t(clamp_tokens(t.output))) * uint64_t(p.output);
  u128 nano = (total + 999'999) / 1'000'000;
  return nano > u128(committed_max) ? committed_max : nano_usd(nano);
}

size_t format_usd(nano_usd amount, char* out, size_t cap) noexcept {
  const char* sign = amount < 0 ? "-" : "";
  uint64_t a = amount < 0 ? uint64_t(-amount) : uint64_t(amount);
  int n = snprintf(out, cap, "%s%llu.%09llu", sign, (unsigned long long)(a / nano_per_usd),
                   (unsigned long long)(a % nano_per_usd));
  return n > 0 && size_t(n) < cap ? size_t(n) : 0;
}

period parse_period(std::string_view text) noexcept {
  if (text == "daily") return period::daily;
  if (text == "total") return period::total;
  return period::monthly;
}

int64_t period_index(period p, int64_t unix_s) noexcept {
  const int64_t days = floor_div(unix_s, seconds_per_day);
  switch (p) {
    case period::daily:
      return days;
    case period::monthly: {
      civil c = civil_from_days(days);
      return (c.y - 1970) * 12 + int64_t(c.m) - 1;
    }
    case period::total:
      break;
  }
  return 0;
}

int64_t period_start(period p, int64_t index) noexcept {
  switch (p) {
    case period::daily:
      return index * seconds_per_day;
    case period::monthly:
      return days_from_civil(1970 + floor_div(index, 12), unsigned(index - floor_div(index, 12) * 12) + 1, 1) *
             seconds_per_day;
    case period::total:
      break;
  }
  return 0;
}

std::string period_label(period p, int64_t index) {
  char buf[64];
  switch (p) {
    case period::daily: {
      civil c = civil_from_days(index);
      snprintf(buf, sizeof buf, "d:%04lld-%02u-%02u", (long long)c.y, c.m, c.d);
      return buf;
    }
    case period::monthly:
      snprintf(buf, sizeof buf, "m:%04lld-%02lld", (long long)(1970 + floor_div(index, 12)),
               (long long)(index - floor_div(index, 12) * 12 + 1));
      return buf;
    case period::total:
      break;
  }
  return "total";
}

void budget_account::configure(period p, nano_usd limit, int64_t period_idx,
                               nano_usd restored_spend) noexcept {
  _period = p;
  _limit = limit;
  _word.store(pack(uint8_t(period_idx), std::min(restored_spend, committed_max)),
              std::memory_order_relaxed);
}

bool budget_account::reserve(int64_t period_idx, nano_usd amount, reservation& out) noexcept {
  const uint8_t mine = uint8_t(period_idx);
  uint64_t w = _word.load(std::memory_order_relaxed);
  for (;;) {
    const uint8_t tag = tag_of(w);
    const int8_t ahead = int8_t(uint8_t(mine - tag));  // > 0: our period is newer
    nano_usd base = ahead > 0 ? 0 : amount_of(w);
    if (base + amount > _limit) return false;
    const uint8_t use = ahead > 0 ? mine : tag;
    if (_word.compare_exchange_weak(w, pack(use, base + amount), std::memory_order_acq_rel)) {
      out = {amount, use, ahead < 0 ? period_idx - ahead : period_idx, true};
      return true;
    }
  }
}

void budget_account::settle(reservation& r, nano_usd actual) noexcept {
  if (!r.held) return;
  r.held = false;
  uint64_t w = _word.load(std::memory_order_relaxed);
  for (;;) {
    if (tag_of(w) != r.tag) return;  // that period closed: its spend is in the ledger only
    nano_usd c = amount_of(w) - r.amount + actual;
    c = c < 0 ? 0 : std::min(c, committed_max);
    if (_word.compare_exchange_weak(w, pack(r.tag, c), std::memory_order_acq_rel)) return;
  }
}

void budget_account::roll(int64_t period_idx) noexcept {
  const uint8_t mine = uint8_t(period_idx);
  uint64_t w = _word.load(std::memory_order_relaxed);
  while (int8_t(uint8_t(mine - tag_of(w))) > 0 &&
         !_word.compare_exchange_weak(w, pack(mine, 0), std::memory_order_acq_rel)) {
  }
}

nano_usd budget_account::committed(int64_t period_idx) const noexcept {
  uint64_t w = _word.load(std::memory_order_relaxed);
  int8_t ahead = int8_t(uint8_t(uint8_t(period_idx) - tag_of(w)));
  return ahead > 0 ? 0 : amount_of(w);
}

}  // namespace rg::governance
