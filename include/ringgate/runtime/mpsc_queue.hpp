// Bounded lock-free queue (Vyukov's array queue with per-slot sequence numbers). Safe for many
// producers and many consumers; shards use it as a multi-producer, single-consumer mailbox.
// A full queue refuses the push: callers count the refusal instead of waiting.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace rg::runtime {

template <typename T>
class mpsc_queue {
 public:
  explicit mpsc_queue(size_t capacity)
      : _mask(std::bit_ceil(capacity < 2 ? size_t{2} : capacity) - 1),
        _slots(std::make_unique<slot[]>(_mask + 1)) {
    for (size_t i = 0; i <= _mask; ++i) _slots[i].seq.store(i, std::memory_order_relaxed);
  }

  bool try_push(const T& v) noexcept {
    size_t pos = _tail.load(std::memory_order_relaxed);
    for (;;) {
      slot& s = _slots[pos & _mask];
      size_t seq = s.seq.load(std::memory_order_acquire);
      intptr_t diff = intptr_t(seq) - intptr_t(pos);
      if (diff == 0) {
        if (_tail.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          s.value = v;
          s.seq.store(pos + 1, std::memory_order_release);
          return true;
        }
      } else if (diff < 0) {
        return false;  // full
      } else {
        pos = _tail.load(std::memory_order_relaxed);
      }
    }
  }

  bool try_pop(T& out) noexcept {
    size_t pos = _head.load(std::memory_order_relaxed);
    for (;;) {
      slot& s = _slots[pos & _mask];
      size_t seq = s.seq.load(std::memory_order_acquire);
      intptr_t diff = intptr_t(seq) - intptr_t(pos + 1);
      if (diff == 0) {
        if (_head.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          out = s.value;
          s.seq.store(pos + _mask + 1, std::memory_order_release);
          return true;
        }
      } else if (diff < 0) {
        return false;  // empty
      } else {
        pos = _head.load(std::memory_order_relaxed);
      }
    }
  }

  size_t capacity() const noexcept { return _mask + 1; }

 private:
  struct slot {
    std::atomic<size_t> seq;
    T value;
  };
  const size_t _mask;
  std::unique_ptr<slot[]> _slots;
  alignas(64) std::atomic<size_t> _head{0};
  alignas(64) std::atomic<size_t> _tail{0};
};

}  // namespace rg::runtime
