// io_call: one single-shot io_uring operation awaited by one coroutine. It lives in the awaiting
// coroutine's frame, which stays suspended until the completion arrives, so the kernel never holds
// a dangling pointer. deadline_guard cancels the call when its timer fires.
#pragma once

#include <coroutine>
#include <utility>

#include <ringgate/runtime/shard.hpp>

namespace rg::runtime {

class io_call final : public op {
 public:
  explicit io_call(shard& s) noexcept : _shard(s) {}
  io_call(const io_call&) = delete;
  io_call& operator=(const io_call&) = delete;

  // The SQE to prepare; it is tagged with this call. Prepare it, then co_await the call.
  io_uring_sqe* sqe() noexcept {
    _done = false;
    _pending = true;
    return _shard.sqe_for(this);
  }
  bool pending() const noexcept { return _pending; }
  void cancel() noexcept {
    if (_pending) _shard.cancel(this);
  }

  bool await_ready() const noexcept { return _done; }
  void await_suspend(std::coroutine_handle<> h) noexcept { _waiter = h; }
  int await_resume() noexcept { return _res; }

  void complete(int res, uint32_t) noexcept override {
    _res = res;
    _done = true;
    _pending = false;
    if (auto h = std::exchange(_waiter, {})) h.resume();
  }

 private:
  shard& _shard;
  std::coroutine_handle<> _waiter;
  int _res = 0;
  bool _done = false;
  bool _pending = false;
};

// Cancels `call` if it is still pending at `deadline_ns`. Scope-bound: disarms on destruction.
// Not movable: the timer's context is the guard itself.
class deadline_guard {
 public:
  deadline_guard(shard& s, io_call& call, uint64_t deadline_ns) noexcept : _call(&call) {
    _timer.set_callback(&deadline_guard::fire, this);
    if (deadline_ns != UINT64_MAX) s.timers().arm(_timer, deadline_ns);
  }
  deadline_guard(const deadline_guard&) = delete;
  deadline_guard& operator=(const deadline_guard&) = delete;
  bool fired() const noexcept { return _fired; }

 private:
  static void fire(timer&, void* ctx) noexcept {
    auto* self = static_cast<deadline_guard*>(ctx);
    self->_fired = true;
    self->_call->cancel();
  }
  io_call* _call;
  timer _timer;
  bool _fired = false;
};

}  // namespace rg::runtime
