// Intrusive min-heap of shard timers (see timer.hpp).
#include <ringgate/runtime/timer.hpp>

#include <utility>

namespace rg::runtime {

timer::~timer() {
  if (_heap) _heap->cancel(*this);
}

timer_heap::~timer_heap() {
  for (timer* t : _heap) t->_heap = nullptr;
}

void timer_heap::arm(timer& t, uint64_t deadline_ns) {
  if (t._heap == this) {
    uint64_t old = t._deadline_ns;
    t._deadline_ns = deadline_ns;
    if (deadline_ns < old) {
      sift_up(t._index);
    } else {
      sift_down(t._index);
    }
    return;
  }
  if (t._heap) t._heap->cancel(t);
  t._heap = this;
  t._deadline_ns = deadline_ns;
  _heap.push_back(&t);
  t._index = _heap.size() - 1;
  sift_up(t._index);
}

void timer_heap::cancel(timer& t) noexcept {
  if (t._heap != this) return;
  size_t i = t._index;
  timer* last = _heap.back();
  _heap.pop_back();
  t._heap = nullptr;
  if (last == &t) return;
  place(i, last);
  sift_up(i);
  sift_down(last->_index);
}

size_t timer_heap::fire_expired(uint64_t now_ns, size_t max) noexcept {
  size_t fired = 0;
  while (fired < max && !_heap.empty() && _heap.front()->_deadline_ns <= now_ns) {
    timer* t = _heap.front();
    cancel(*t);
    ++fired;
    if (t->_cb) t->_cb(*t, t->_ctx);  // may re-arm t or others
  }
  return fired;
}

void timer_heap::sift_up(size_t i) noexcept {
  timer* t = _heap[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (_heap[parent]->_deadline_ns <= t->_deadline_ns) break;
    place(i, _heap[parent]);
    i = parent;
  }
  place(i, t);
}

void timer_heap::sift_down(size_t i) noexcept {
  timer* t = _heap[i];
  size_t n = _heap.size();
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && _heap[child + 1]->_deadline_ns < _heap[child]->_deadline_ns) ++child;
    if (t->_deadline_ns <= _heap[child]->_deadline_ns) break;
    place(i, _heap[child]);
    i = child;
  }
  place(i, t);
}

}  // namespace rg::runtime
