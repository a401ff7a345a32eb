// alarm: a sleep that can be cut short. One coroutine waits on it (until a deadline, or until
// someone calls wake()); the waker never resumes the waiter on its own stack: wake() re-arms the
// timer for "now", so the waiter resumes in the shard's next timer step. A wake with nobody
// waiting is kept for the next wait. Shard-local: wake() only from the alarm's own shard.
#pragma once

#include <coroutine>
#include <cstdint>
#include <utility>

#include <ringgate/runtime/shard.hpp>
#include <ringgate/runtime/timer.hpp>

namespace rg::runtime {

class alarm {
 public:
  explicit alarm(shard& s) noexcept : _shard(s) { _timer.set_callback(&alarm::fire, this); }
  alarm(const alarm&) = delete;
  alarm& operator=(const alarm&) = delete;

  struct awaiter {
    alarm& a;
    uint64_t deadline_ns;
    bool await_ready() const noexcept { return a._woken || deadline_ns <= a._shard.now_ns(); }
    void await_suspend(std::coroutine_handle<> h) noexcept {
      a._waiter = h;
      if (deadline_ns != UINT64_MAX) a._shard.timers().arm(a._timer, deadline_ns);
    }
    // True when woken, false when the deadline came first.
    bool await_resume() const noexcept { return std::exchange(a._woken, false); }
  };
  // Waits until wake() or `deadline_ns` (UINT64_MAX: only wake()).
  awaiter wait_until(uint64_t deadline_ns) noexcept { return awaiter{*this, deadline_ns}; }

  void wake() noexcept {
    _woken = true;
    if (_waiter) _shard.timers().arm(_timer, _shard.now_ns());
  }
  bool waiting() const noexcept { return bool(_waiter); }

 private:
  static void fire(timer&, void* ctx) noexcept {
    auto* self = static_cast<alarm*>(ctx);
    if (auto h = std::exchange(self->_waiter, {})) h.resume();
  }

  shard& _shard;
  timer _timer;
  std::coroutine_handle<> _waiter;
  bool _woken = false;
};

}  // namespace rg::runtime
