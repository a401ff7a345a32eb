// Provider bulkheads and their wait queues (see bulkhead.hpp).
#include "bulkhead.hpp"

namespace rg::gateway {

void shard_queue::push(queue_waiter& w) noexcept {
  w.prev = _tail;
  w.next = nullptr;
  if (_tail) {
    _tail->next = &w;
  } else {
    _head = &w;
  }
  _tail = &w;
}

void shard_queue::remove(queue_waiter& w) noexcept {
  if (w.prev) {
    w.prev->next = w.next;
  } else if (_head == &w) {
    _head = w.next;
  }
  if (w.next) {
    w.next->prev = w.prev;
  } else if (_tail == &w) {
    _tail = w.prev;
  }
  w.prev = w.next = nullptr;
}

bool shard_queue::wake_first() noexcept {
  for (queue_waiter* w = _head; w; w = w->next) {
    if (w->woken) continue;
    w->woken = true;
    w->alarm->wake();
    return true;
  }
  return false;
}

provider_gate::provider_gate(uint32_t max_concurrent, uint32_t queue_max, uint32_t shards)
    : _slots(max_concurrent),
      _queue_max(queue_max),
      _shard_count(shards ? shards : 1),
      _shards(std::make_unique<shard_slot[]>(_shard_count)) {}

void provider_gate::attach(uint32_t shard, runtime::shard& s, shard_queue* q) noexcept {
  if (shard >= _shard_count) return;
  _shards[shard].shard.store(&s, std::memory_order_release);
  _shards[shard].queue.store(q, std::memory_order_release);
}

void provider_gate::detach(uint32_t shard) noexcept {
  if (shard >= _shard_count) return;
  _shards[shard].queue.store(nullptr, std::memory_order_release);
}

bool provider_gate::enter(uint32_t shard, queue_waiter& w) noexcept {
  shard_queue* q =
      shard < _shard_count ? _shards[shard].queue.load(std::memory_order_acquire) : nullptr;
  if (!q) return false;
  uint32_t n = _waiting.load(std::memory_order_relaxed);
  do {
    if (n >= _queue_max) return false;
  } while (!_waiting.compare_exchange_weak(n, n + 1, std::memory_order_seq_cst));
  _shards[shard].waiting.fetch_add(1, std::memory_order_seq_cst);
  w.woken = false;
  q->push(w);
  return true;
}

void provider_gate::leave(uint32_t shard, queue_waiter& w) noexcept {
  if (shard_queue* q = _shards[shard].queue.load(std::memory_order_acquire)) q->remove(w);
  _shards[shard].waiting.fetch_sub(1, std::memory_order_seq_cst);
  _waiting.fetch_sub(1, std::memory_order_seq_cst);
}

void provider_gate::wake_message(runtime::shard&, void* arg) noexcept {
  auto* slot = static_cast<shard_slot*>(arg);
  if (shard_queue* q = slot->queue.load(std::memory_order_acquire)) q->wake_first();
}

void provider_gate::wake_one(uint32_t from) noexcept {
  if (from < _shard_count && _shards[from].waiting.load(std::memory_order_seq_cst) != 0) {
    if (shard_queue* q = _shards[from].queue.load(std::memory_order_acquire)) {
      if (q->wake_first()) return;
    }
  }
  // None here: hand the wake to the next shard (after `from`) that has a waiter.
  for (uint32_t k = 1; k < _shard_count; ++k) {
    uint32_t s = (from + k) % _shard_count;
    if (_shards[s].waiting.load(std::memory_order_seq_cst) == 0) continue;
    runtime::shard* target = _shards[s].shard.load(std::memory_order_acquire);
    if (target && target->post({&provider_gate::wake_message, &_shards[s]})) return;
  }
}

}  // namespace rg::gateway
