// What every shard knows about one upstream endpoint, shared through atomics: requests in flight
// (also its concurrency limit), the circuit breaker, an EWMA of time to first byte, and health
// from active checks. Each endpoint_state sits on its own cache lines so shards working different
// endpoints never share one. A concurrency limiter for groups of endpoints (a provider) is here
// too. Nothing here blocks or allocates.
#pragma once

#include <atomic>
#include <cmath>
#include <cstdint>

#include <ringgate/resilience/circuit.hpp>

namespace rg::resilience {

// A counting semaphore without waiting: try_acquire() fails when `max` are taken. max 0 means
// unlimited (the count is still kept, for balancers and gauges).
class limiter {
 public:
  explicit limiter(uint32_t max = 0) noexcept : _max(max) {}
  bool try_acquire() noexcept {
    if (_max == 0) {
      _used.fetch_add(1, std::memory_order_seq_cst);
      return true;
    }
    uint32_t n = _used.load(std::memory_order_relaxed);
    do {
      if (n >= _max) return false;
    } while (!_used.compare_exchange_weak(n, n + 1, std::memory_order_seq_cst));
    return true;
  }
  // seq_cst so that a release followed by a load of a waiter count cannot both miss a waiter
  // that counted itself before re-checking this limiter (see the gateway's wait queue).
  void release() noexcept { _used.fetch_sub(1, std::memory_order_seq_cst); }
  bool full() const noexcept { return _max != 0 && used() >= _max; }
  uint32_t used() const noexcept { return _used.load(std::memory_order_relaxed); }
  uint32_t max() const noexcept { return _max; }

 private:
  std::atomic<uint32_t> _used{0};
  uint32_t _max;
};

// Exponentially weighted moving average of a latency, in ns, decaying towards 0 ("unknown, try
// it") when no sample came for a while, so an endpoint that was slow once is probed again later
// instead of being avoided forever. Concurrent updates may lose one another (relaxed load and
// store): an average tolerates that, and a sample costs no locked instruction.
class latency_ewma {
 public:
  static constexpr double alpha = 0.3;
  static constexpr uint64_t half_life_ns = 10'000'000'000;  // of the decay without samples

  void sample(uint64_t latency_ns, uint64_t now_ns) noexcept {
    uint64_t prev = current(now_ns);
    uint64_t next = prev == 0
                        ? latency_ns
                        : uint64_t(double(prev) + alpha * (double(latency_ns) - double(prev)));
    _value_ns.store(next == 0 ? 1 : next, std::memory_order_relaxed);
    _stamp_ns.store(now_ns, std::memory_order_relaxed);
  }
  // The average as of `now_ns` (0 = no information).
  uint64_t current(uint64_t now_ns) const noexcept {
    uint64_t v = _value_ns.load(std::memory_order_relaxed);
    uint64_t at = _stamp_ns.load(std::memory_order_relaxed);
    if (v == 0 || now_ns <= at) return v;
    uint64_t age = now_ns - at;
    if (age >= 16 * half_life_ns) return 0;
    if (age < half_life_ns / 16) return v;  // fresh: skip the exp2
    return uint64_t(double(v) * std::exp2(-double(age) / double(half_life_ns)));
  }

 private:
  std::atomic<uint64_t> _value_ns{0};
  std::atomic<uint64_t> _stamp_ns{0};
};

struct alignas(64) endpoint_state {
  endpoint_state(const circuit_options& circuit, uint32_t max_concurrent) noexcept
      : in_flight(max_concurrent), breaker(circuit) {}

  // Whether a balancer may pick it now: healthy, circuit letting requests through, below its
  // concurrency limit.
  bool available(uint64_t now_ns) const noexcept {
    return healthy.load(std::memory_order_relaxed) && !in_flight.full() &&
           breaker.available(now_ns);
  }

  limiter in_flight;  // requests to this endpoint now, across shards; and its limit
  latency_ewma ttfb;  // request sent → response head
  // Active health checks (true when the provider has none). Written by one checker only.
  std::atomic<bool> healthy{true};
  circuit_breaker breaker;
};

}  // namespace rg::resilience
