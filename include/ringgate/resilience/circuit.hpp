// Circuit breaker for one endpoint, shared by every shard through atomics (no lock):
//   closed    → open       after `failures` consecutive failures, or when failures reach
//                          `rate_percent` of at least `min_requests` requests within `window`
//   open      → half-open  once `cooldown` has passed (on the next request that asks)
//   half-open → closed     when a probe succeeds; → open again when one fails
// Half-open lets at most `probes` trial requests through at once. State, probe count, a
// generation and the cooldown's end live in one 64-bit word changed only by CAS, so every
// transition happens exactly once however many shards race for it; a probe's verdict counts only
// in the generation it was let through in. The failure-rate window is a ring of time buckets
// whose counts are approximate under concurrent rollover (a count may be lost, never invented).
#pragma once

#include <atomic>
#include <cstdint>

namespace rg::resilience {

struct circuit_options {
  uint32_t failures = 5;       // consecutive failures that open it (0 = not this rule)
  uint32_t rate_percent = 50;  // failure share that opens it (0 = not this rule)
  uint32_t min_requests = 20;  // the share counts only with this many requests in the window
  uint64_t window_ns = 10'000'000'000;
  uint64_t cooldown_ns = 30'000'000'000;
  uint32_t probes = 1;  // concurrent trial requests while half-open (1..1023)
};

// Gauge values (ringgate_circuit_state): 0 closed, 1 half-open, 2 open.
enum class circuit_state : uint8_t { closed = 0, half_open = 1, open = 2 };

enum class transition : uint8_t { none, opened, half_opened, closed };

// What acquire() granted; handed back with the verdict.
struct permit {
  enum kind_t : uint8_t { denied, normal, probe } kind = denied;
  uint8_t generation = 0;
  explicit operator bool() const noexcept { return kind != denied; }
};

class circuit_breaker {
 public:
  explicit circuit_breaker(const circuit_options& opts) noexcept;
  circuit_breaker(const circuit_breaker&) = delete;
  circuit_breaker& operator=(const circuit_breaker&) = delete;

  // Would acquire() let a request through now? No side effect: for balancers choosing.
  bool available(uint64_t now_ns) const noexcept;
  // Lets a request through (normal when closed, probe when half-open) or not. An open circuit
  // whose cooldown has passed turns half-open here (`t` reports it).
  permit acquire(uint64_t now_ns, transition* t = nullptr) noexcept;
  // The verdict on a request that was let through. Returns the transition it caused.
  transition on_success(permit p, uint64_t now_ns) noexcept;
  transition on_failure(permit p, uint64_t now_ns) noexcept;
  // A probe that ended without a verdict (cancelled, client gone): its slot is free again.
  void on_abandon(permit p) noexcept;

  // The state as an operator sees it: an open circuit past its cooldown reads as half-open
  // (the next request will probe).
  circuit_state state(uint64_t now_ns) const noexcept;
  uint32_t consecutive_failures() const noexcept {
    return _consecutive.load(std::memory_order_relaxed);
  }
  const circuit_options& options() const noexcept { return _opts; }

 private:
  static constexpr uint32_t buckets = 10;
  struct bucket {
    std::atomic<uint64_t> epoch{UINT64_MAX};
    std::atomic<uint64_t> counts{0};  // low 32 bits: requests; high 32 bits: failures
  };

  // Records one request in the window; returns true when the failure rate now trips the circuit.
  bool record(uint64_t now_ns, bool failed) noexcept;
  transition trip(uint64_t expected_word, uint64_t now_ns) noexcept;
  void clear_counts() noexcept;

  circuit_options _opts;
  uint64_t _bucket_ns;
  std::atomic<uint64_t> _word{0};  // see circuit.cpp for the layout
  std::atomic<uint32_t> _consecutive{0};
  bucket _window[buckets];
};

}  // namespace rg::resilience
