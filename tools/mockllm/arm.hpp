// Faults armed for the next N requests (POST /mock/arm): tests make "fail twice, then answer"
// or "slow for the next request" deterministic without a header on each request, and across
// every mock shard. The armed fault is copied out per request, so re-arming never changes a
// request already in progress. Nothing is locked or copied while nothing is armed.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

#include "mock.hpp"

namespace rg::mockllm {

// One request's copy of the armed fault (its strings included).
struct armed_fault {
  plan p;
  char retry_after[64] = {};
  char retry_after_ms[64] = {};
  char error_body[2048] = {};
  // Overrides the request's own fault fields (status, Retry-After, error body, fault, delays).
  void apply(plan& target) const noexcept;
};

class arming {
 public:
  // The next `count` API requests get `p`'s faults (count 0 disarms). Views in `p` are copied.
  // False when a value is too long to keep.
  bool arm(const plan& p, uint64_t count) noexcept;
  // Claims one armed answer for a request; false when none is left.
  bool take(armed_fault& out) noexcept;
  uint64_t remaining() const noexcept { return _remaining.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> _remaining{0};
  std::mutex _mutex;  // guards _fault (copied in and out; never on a path without a fault)
  armed_fault _fault;
};

}  // namespace rg::mockllm
