// task<T>: a lazy, single-awaiter C++20 coroutine with symmetric transfer. Awaiting a task starts it;
// its completion resumes the awaiter. spawn() starts a detached root task whose frame frees itself.
// Invariant: a task's frame is destroyed exactly once, by its owner (the task object) or, for
// detached roots, by final_suspend.
#pragma once

#include <coroutine>
#include <cstdlib>
#include <exception>
#include <utility>

#include <ringgate/runtime/frame_pool.hpp>

namespace rg::runtime {

template <typename T>
class task;

namespace detail {

struct promise_base {
  std::coroutine_handle<> continuation;
  bool detached = false;

  static void* operator new(size_t bytes) { return frame_alloc(bytes); }
  static void operator delete(void* p, size_t bytes) noexcept { frame_free(p, bytes); }

  std::suspend_always initial_suspend() noexcept { return {}; }

  struct final_awaiter {
    bool await_ready() const noexcept { return false; }
    template <typename P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
      auto& p = h.promise();
      if (p.detached) {
        h.destroy();
        return std::noop_coroutine();
      }
      return p.continuation ? p.continuation : std::noop_coroutine();
    }
    void await_resume() const noexcept {}
  };
  final_awaiter final_suspend() noexcept { return {}; }
  // The request path does not throw; an escaping exception is a bug, so fail loudly.
  void unhandled_exception() noexcept { std::terminate(); }
};

template <typename T>
struct promise : promise_base {
  T value{};
  task<T> get_return_object() noexcept;
  template <typename U>
  void return_value(U&& v) noexcept(noexcept(T(std::forward<U>(v)))) {
    value = std::forward<U>(v);
  }
};

template <>
struct promise<void> : promise_base {
  task<void> get_return_object() noexcept;
  void return_void() noexcept {}
};

}  // namespace detail

template <typename T = void>
class [[nodiscard]] task {
 public:
  using promise_type = detail::promise<T>;
  using handle = std::coroutine_handle<promise_type>;

  task() noexcept = default;
  explicit task(handle h) noexcept : _h(h) {}
  task(task&& o) noexcept : _h(std::exchange(o._h, {})) {}
  task& operator=(task&& o) noexcept {
    if (this != &o) {
      if (_h) _h.destroy();
      _h = std::exchange(o._h, {});
    }
    return *this;
  }
  task(const task&) = delete;
  task& operator=(const task&) = delete;
  ~task() {
    if (_h) _h.destroy();
  }

  bool await_ready() const noexcept { return !_h || _h.done(); }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiter) noexcept {
    _h.promise().continuation = awaiter;
    return _h;
  }
  T await_resume() noexcept {
    if constexpr (!std::is_void_v<T>) return std::move(_h.promise().value);
  }

  // Starts the task detached: it runs until its first suspension now, and frees itself at the end.
  void start_detached() && noexcept {
    handle h = std::exchange(_h, {});
    h.promise().detached = true;
    h.resume();
  }

 private:
  handle _h;
};

namespace detail {
template <typename T>
task<T> promise<T>::get_return_object() noexcept {
  return task<T>{std::coroutine_handle<promise<T>>::from_promise(*this)};
}
inline task<void> promise<void>::get_return_object() noexcept {
  return task<void>{std::coroutine_handle<promise<void>>::from_promise(*this)};
}
}  // namespace detail

// Runs `t` detached on the current thread (a shard's loop, normally).
inline void spawn(task<void>&& t) noexcept { std::move(t).start_detached(); }

}  // namespace rg::runtime
