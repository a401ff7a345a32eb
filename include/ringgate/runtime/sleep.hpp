// Suspends the calling coroutine until a deadline on the current shard's timer heap.
// The awaiter (and its timer) lives in the coroutine frame for the duration of the wait.
#pragma once

#include <coroutine>
#include <cstdint>

#include <ringgate/runtime/clock.hpp>
#include <ringgate/runtime/shard.hpp>

namespace rg::runtime {

class sleep_until {
 public:
  sleep_until(shard& s, uint64_t deadline_ns) noexcept : _shard(s), _deadline_ns(deadline_ns) {}
  sleep_until(const sleep_until&) = delete;
  sleep_until& operator=(const sleep_until&) = delete;

  bool await_ready() const noexcept { return _deadline_ns <= _shard.now_ns(); }
  void await_suspend(std::coroutine_handle<> h) noexcept {
    _waiter = h;
    _timer.set_callback(&sleep_until::fire, this);
    _shard.timers().arm(_timer, _deadline_ns);
  }
  void await_resume() const noexcept {}

 private:
  static void fire(timer&, void* ctx) noexcept {
    auto* self = static_cast<sleep_until*>(ctx);
    self->_waiter.resume();
  }
  shard& _shard;
  uint64_t _deadline_ns;
  std::coroutine_handle<> _waiter;
  timer _timer;
};

inline sleep_until sleep_for_ms(shard& s, uint64_t ms) noexcept {
  return sleep_until(s, s.now_ns() + ms_to_ns(ms));
}

}  // namespace rg::runtime
