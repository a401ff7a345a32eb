// Shard-local timers: an intrusive binary min-heap of deadlines. Arming, re-arming and cancelling
// are O(log n) and allocate nothing once the heap has grown to its high-water mark.
// Invariant: a timer is in the heap iff armed(); its _index is its slot in the heap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace rg::runtime {

class timer_heap;

class timer {
 public:
  using callback = void (*)(timer&, void* ctx) noexcept;

  timer() noexcept = default;
  timer(callback cb, void* ctx) noexcept : _cb(cb), _ctx(ctx) {}
  timer(const timer&) = delete;
  timer& operator=(const timer&) = delete;
  ~timer();

  void set_callback(callback cb, void* ctx) noexcept {
    _cb = cb;
    _ctx = ctx;
  }
  bool armed() const noexcept { return _heap != nullptr; }
  uint64_t deadline_ns() const noexcept { return _deadline_ns; }

 private:
  friend class timer_heap;
  callback _cb = nullptr;
  void* _ctx = nullptr;
  timer_heap* _heap = nullptr;
  uint64_t _deadline_ns = 0;
  size_t _index = 0;
};

class timer_heap {
 public:
  explicit timer_heap(size_t reserve = 1024) { _heap.reserve(reserve); }
  timer_heap(const timer_heap&) = delete;
  timer_heap& operator=(const timer_heap&) = delete;
  ~timer_heap();

  // Arms (or re-arms) `t` to fire at `deadline_ns`.
  void arm(timer& t, uint64_t deadline_ns);
  void cancel(timer& t) noexcept;
  // Deadline of the earliest timer, or UINT64_MAX when none is armed.
  uint64_t next_deadline_ns() const noexcept {
    return _heap.empty() ? UINT64_MAX : _heap.front()->_deadline_ns;
  }
  // Fires timers due at `now_ns`, at most `max` of them (a bound per loop turn). Returns the count.
  size_t fire_expired(uint64_t now_ns, size_t max) noexcept;
  size_t size() const noexcept { return _heap.size(); }

 private:
  void sift_up(size_t i) noexcept;
  void sift_down(size_t i) noexcept;
  void place(size_t i, timer* t) noexcept {
    _heap[i] = t;
    t->_index = i;
  }
  std::vector<timer*> _heap;
};

}  // namespace rg::runtime
