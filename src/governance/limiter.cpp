// The token pool (one CAS per lease) and the slice logic on top of it; see limiter.hpp for the
// shape that makes "admitted ≤ limit + shards over any 60 s" hold.
#include <ringgate/governance/limiter.hpp>

#include <algorithm>

namespace rg::governance {
namespace {

constexpr int64_t ticks_per_minute = 60'000'000'000ll * ticks_per_ns;

// Floor division for a possibly negative numerator (debt) and a positive divisor.
int64_t floor_div(int64_t a, int64_t b) noexcept {
  int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

}  // namespace

limit_shape limit_shape::make(uint64_t per_minute, uint32_t shards) noexcept {
  limit_shape s;
  if (per_minute == 0) return s;
  const int64_t n = std::max<uint32_t>(shards, 1);
  const int64_t burst = int64_t(per_minute / 25);
  const int64_t stock = n + burst;
  s.limit = per_minute;
  s.rate_per_min = per_minute - uint64_t(burst);
  s.slice_max = stock / (2 * n);
  s.pool_cap = stock - n * s.slice_max;
  // Rounded up: the pool never refills faster than rate_per_min.
  s.interval_ticks = (ticks_per_minute + int64_t(s.rate_per_min) - 1) / int64_t(s.rate_per_min);
  return s;
}

void token_pool::configure(const limit_shape& s) noexcept {
  _interval = std::max<int64_t>(s.interval_ticks, 1);
  _cap = s.pool_cap;
  _tat.store(INT64_MIN / 4, std::memory_order_relaxed);
}

bool token_pool::take(int64_t now_ticks, int64_t n) noexcept {
  const int64_t cost = n * _interval;
  int64_t tat = _tat.load(std::memory_order_relaxed);
  for (;;) {
    int64_t eff = effective(tat, now_ticks);
    if (now_ticks - eff < cost) return false;
    if (_tat.compare_exchange_weak(tat, eff + cost, std::memory_order_relaxed)) return true;
  }
}

bool token_pool::take_unless_in_debt(int64_t now_ticks, int64_t n) noexcept {
  int64_t tat = _tat.load(std::memory_order_relaxed);
  for (;;) {
    int64_t eff = effective(tat, now_ticks);
    if (eff > now_ticks) return false;
    if (_tat.compare_exchange_weak(tat, eff + n * _interval, std::memory_order_relaxed)) {
      return true;
    }
  }
}

void token_pool::force(int64_t now_ticks, int64_t n) noexcept {
  int64_t tat = _tat.load(std::memory_order_relaxed);
  while (!_tat.compare_exchange_weak(tat, effective(tat, now_ticks) + n * _interval,
                                     std::memory_order_relaxed)) {
  }
}

void token_pool::give_back(int64_t n) noexcept {
  _tat.fetch_sub(n * _interval, std::memory_order_relaxed);
}

int64_t token_pool::available(int64_t now_ticks) const noexcept {
  int64_t eff = effective(_tat.load(std::memory_order_relaxed), now_ticks);
  return floor_div(now_ticks - eff, _interval);
}

uint64_t token_pool::wait_ns(int64_t now_ticks, int64_t n) const noexcept {
  n = std::min(n, _cap);
  int64_t eff = effective(_tat.load(std::memory_order_relaxed), now_ticks);
  int64_t missing = n * _interval - (now_ticks - eff);
  if (missing <= 0) return 0;
  return uint64_t((missing + ticks_per_ns - 1) / ticks_per_ns);
}

void limiter::configure(uint64_t per_minute, uint32_t shards) noexcept {
  _shape = limit_shape::make(per_minute, shards);
  _pool.configure(_shape);
}

take_result limiter::take(slice& s, int64_t now_ticks, int64_t n) noexcept {
  if (uint64_t(n) > _shape.limit) return take_result::too_large;
  if (s.tokens >= n) {
    s.tokens -= n;
    return take_result::ok;
  }
  const int64_t need = n - s.tokens;
  // Lease a fresh slice with the missing part: one CAS serves the next few admissions too.
  if (_shape.slice_max > 0 && _pool.take(now_ticks, need + _shape.slice_max)) {
    s.tokens = _shape.slice_max;
    return take_result::ok;
  }
  if (_pool.take(now_ticks, need) ||
      (need > _shape.pool_cap && _pool.take_unless_in_debt(now_ticks, need))) {
    s.tokens = 0;
    return take_result::ok;
  }
  return take_result::limited;
}

void limiter::refund(slice& s, int64_t now_ticks, int64_t n) noexcept {
  int64_t keep = 0;
  if (s.tokens < _shape.slice_max && _pool.available(now_ticks) >= 0) {
    keep = std::min(n, _shape.slice_max - s.tokens);
  }
  s.tokens += keep;
  if (n > keep) _pool.give_back(n - keep);
}

void limiter::charge(slice& s, int64_t now_ticks, int64_t n) noexcept {
  if (s.tokens >= n) {
    s.tokens -= n;
    return;
  }
  _pool.force(now_ticks, n - s.tokens);
  s.tokens = 0;
}

int64_t limiter::remaining(const slice& s, int64_t now_ticks) const noexcept {
  return std::max<int64_t>(_pool.available(now_ticks), 0) + s.tokens;
}

uint64_t limiter::retry_ns(const slice& s, int64_t now_ticks, int64_t n) const noexcept {
  int64_t need = n - s.tokens;
  if (need <= 0) return 0;
  // An oversized charge waits only for the debt to be repaid (see take()).
  return _pool.wait_ns(now_ticks, need > _shape.pool_cap ? 0 : need);
}

}  // namespace rg::governance
