// Provider-wide concurrency limits (bulkheads) with an optional bounded wait queue, enforced
// across shards without locks. The limit is one atomic counter (resilience::limiter). Waiters
// stay on their own shard: each shard keeps an intrusive list per provider, and every shard
// publishes how many of its requests wait; a release wakes a waiter on its own shard first,
// else posts a wake to a shard that has one (MSG_RING). A woken waiter re-runs endpoint
// selection, so a slot taken by someone else in between only costs it another wait.
// No lost wakeup: a waiter counts itself before re-checking the limit, and a releaser gives the
// slot back before reading the count (both seq_cst), so at least one of them sees the other.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include <ringgate/resilience/endpoint_state.hpp>
#include <ringgate/runtime/alarm.hpp>
#include <ringgate/runtime/shard.hpp>

namespace rg::gateway {

// One waiting request; lives in its coroutine frame while it waits.
struct queue_waiter {
  runtime::alarm* alarm = nullptr;
  queue_waiter* prev = nullptr;
  queue_waiter* next = nullptr;
  bool woken = false;  // a wake was handed to it (passed on if it leaves without a slot)
};

// A shard's waiters for one provider, oldest first. Touched only by its shard.
class shard_queue {
 public:
  void push(queue_waiter& w) noexcept;
  void remove(queue_waiter& w) noexcept;
  // Wakes the oldest waiter not yet woken; false when there is none.
  bool wake_first() noexcept;

 private:
  queue_waiter* _head = nullptr;
  queue_waiter* _tail = nullptr;
};

class alignas(64) provider_gate {
 public:
  provider_gate(uint32_t max_concurrent, uint32_t queue_max, uint32_t shards);

  resilience::limiter& slots() noexcept { return _slots; }
  const resilience::limiter& slots() const noexcept { return _slots; }
  uint32_t queue_max() const noexcept { return _queue_max; }
  uint32_t waiting() const noexcept { return _waiting.load(std::memory_order_relaxed); }

  // Shard `shard`'s list (registered when its handler starts; null before).
  void attach(uint32_t shard, runtime::shard& s, shard_queue* q) noexcept;
  void detach(uint32_t shard) noexcept;

  // Joins the queue on `shard`; false when it is full (queue_max waiters across shards).
  bool enter(uint32_t shard, queue_waiter& w) noexcept;
  void leave(uint32_t shard, queue_waiter& w) noexcept;
  // After a slot of this provider (or of one of its endpoints) was released on `shard`.
  void notify(uint32_t shard) noexcept {
    if (_waiting.load(std::memory_order_seq_cst) != 0) wake_one(shard);
  }

 private:
  struct alignas(64) shard_slot {
    std::atomic<uint32_t> waiting{0};
    std::atomic<runtime::shard*> shard{nullptr};
    std::atomic<shard_queue*> queue{nullptr};
  };
  static void wake_message(runtime::shard&, void* arg) noexcept;
  void wake_one(uint32_t from) noexcept;

  resilience::limiter _slots;
  uint32_t _queue_max;
  std::atomic<uint32_t> _waiting{0};
  uint32_t _shard_count;
  std::unique_ptr<shard_slot[]> _shards;
};

}  // namespace rg::gateway
