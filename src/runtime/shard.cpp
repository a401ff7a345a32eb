// The shard loop and its ring: setup with SINGLE_ISSUER|DEFER_TASKRUN (with fallbacks), cross-shard
// mailbox, completion reaping, and the shutdown that cancels and reaps every in-flight operation.
#include <ringgate/runtime/shard.hpp>

#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <ringgate/runtime/clock.hpp>
#include <ringgate/runtime/log.hpp>

namespace rg::runtime {
namespace {

thread_local shard* current_shard = nullptr;
// user_data tags that are not op pointers.
constexpr uint64_t ud_ignore = 0;
constexpr uint64_t ud_wake = 1;
constexpr uint64_t heartbeat_ns = 100'000'000;  // 100 ms

}  // namespace

shard* shard::current() noexcept { return current_shard; }

shard::shard(const shard_options& opts)
    : _opts(opts), _timers(1024), _mailbox(opts.mailbox_capacity) {
  if (_opts.cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(_opts.cpu, &set);
    if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0) {
      log::warn("cannot pin shard to cpu", {{"shard", _opts.id}, {"cpu", _opts.cpu}});
    }
  }
  setup_ring();
  int rc = _bufs.init(&_ring, 0, _opts.recv_buffers, _opts.recv_buffer_bytes);
  if (rc < 0) {
    log::error("cannot register provided-buffer ring", {{"shard", _opts.id}, {"error", strerror(-rc)}});
    io_uring_queue_exit(&_ring);
    throw std::runtime_error("provided-buffer ring unavailable (kernel too old?)");
  }
  _eventfd = eventfd(0, EFD_CLOEXEC);
  if (_eventfd < 0) throw std::runtime_error("eventfd failed");
  _eventfd_op.self = this;
  _now_ns = monotonic_ns();
  current_shard = this;
  _heartbeat_timer.set_callback(&shard::on_heartbeat, this);
  _timers.arm(_heartbeat_timer, _now_ns + heartbeat_ns);
}

shard::~shard() {
  _timers.cancel(_heartbeat_timer);
  _bufs.destroy();
  io_uring_queue_exit(&_ring);
  if (_eventfd >= 0) close(_eventfd);
  if (current_shard == this) current_shard = nullptr;
}

void shard::setup_ring() {
  io_uring_params p{};
  int rc = -EINVAL;
  if (!_opts.force_ring_fallback) {
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE |
              IORING_SETUP_SUBMIT_ALL;
    p.cq_entries = _opts.cq_entries;
    rc = io_uring_queue_init_params(_opts.sq_entries, &_ring, &p);
    if (rc == 0) {
      _defer_taskrun = true;
      return;
    }
  }
  // Older kernels: keep the ring, lose the task-run batching. Every shard would fail the same
  // way, so one line per process, not one per shard.
  static std::atomic<bool> warned{false};
  if (!warned.exchange(true, std::memory_order_relaxed)) {
    log::warn("io_uring SINGLE_ISSUER|DEFER_TASKRUN unavailable, falling back to COOP_TASKRUN",
              {{"shard", _opts.id},
               {"error", _opts.force_ring_fallback ? "forced by shard_options" : strerror(-rc)}});
  }
  p = io_uring_params{};
  p.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_CQSIZE;
  p.cq_entries = _opts.cq_entries;
  rc = io_uring_queue_init_params(_opts.sq_entries, &_ring, &p);
  if (rc < 0) {
    p = io_uring_params{};
    rc = io_uring_queue_init_params(_opts.sq_entries, &_ring, &p);
  }
  if (rc < 0) {
    log::error("io_uring_queue_init failed", {{"shard", _opts.id}, {"error", strerror(-rc)}});
    throw std::runtime_error("io_uring unavailable");
  }
}

io_uring_sqe* shard::sqe_untracked() noexcept {
  io_uring_sqe* s = io_uring_get_sqe(&_ring);
  while (!s) {
    // SQ full: push what is queued to the kernel to make room (never blocks on completions).
    io_uring_submit(&_ring);
    ++_stats.submits;
    s = io_uring_get_sqe(&_ring);
  }
  io_uring_sqe_set_data64(s, ud_ignore);
  return s;
}

io_uring_sqe* shard::sqe_for(op* o) noexcept {
  io_uring_sqe* s = sqe_untracked();
  io_uring_sqe_set_data(s, o);
  ++_in_flight;
  return s;
}

void shard::cancel(op* o) noexcept {
  io_uring_sqe* s = sqe_untracked();
  io_uring_prep_cancel(s, o, 0);
  io_uring_sqe_set_data64(s, ud_ignore);
}

bool shard::post(const message& m) noexcept {
  if (!_mailbox.try_push(m)) {
    _mailbox_refused.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (_wake_pending.exchange(true, std::memory_order_acq_rel)) return true;  // already woken
  shard* from = current_shard;
  if (from && from != this) {
    io_uring_sqe* s = from->sqe_untracked();
    io_uring_prep_msg_ring(s, _ring.ring_fd, 0, ud_wake, 0);
    io_uring_sqe_set_data64(s, ud_ignore);
  } else if (from != this) {
    uint64_t one = 1;
    ssize_t n = write(_eventfd, &one, sizeof(one));
    (void)n;  // EAGAIN means a wake is already pending
  }
  return true;
}

void shard::wake_op::complete(int res, uint32_t) noexcept {
  if (res > 0) ++self->_stats.wakes_eventfd;
  if (!self->_stop) self->arm_eventfd_read();
}

void shard::arm_eventfd_read() noexcept {
  io_uring_sqe* s = sqe_for(&_eventfd_op);
  io_uring_prep_read(s, _eventfd, &_eventfd_op.value, sizeof(_eventfd_op.value), 0);
}

void shard::drain_mailbox() noexcept {
  _wake_pending.store(false, std::memory_order_release);
  message m;
  // Bounded: a flood of messages cannot starve I/O; the rest waits for the next turn.
  for (uint32_t i = 0; i < _mailbox.capacity() && _mailbox.try_pop(m); ++i) m.fn(*this, m.arg);
}

void shard::on_heartbeat(timer& t, void* ctx) noexcept {
  auto* self = static_cast<shard*>(ctx);
  self->_heartbeat.fetch_add(1, std::memory_order_relaxed);
  self->_timers.arm(t, self->_now_ns + heartbeat_ns);
}

void shard::reap() noexcept {
  struct done {
    uint64_t ud;
    int res;
    uint32_t flags;
  };
  constexpr unsigned batch = 256;
  io_uring_cqe* cqes[batch];
  done copy[batch];
  for (uint32_t total = 0; total < _opts.completions_per_turn_max;) {
    unsigned n = io_uring_peek_batch_cqe(&_ring, cqes, batch);
    if (n == 0) break;
    for (unsigned i = 0; i < n; ++i) copy[i] = {cqes[i]->user_data, cqes[i]->res, cqes[i]->flags};
    // Advance before running handlers: they may submit, and the CQ slots are free to reuse.
    io_uring_cq_advance(&_ring, n);
    _stats.completions += n;
    _published_completions.store(_stats.completions, std::memory_order_relaxed);
    total += n;
    for (unsigned i = 0; i < n; ++i) {
      if (copy[i].ud == ud_wake) ++_stats.wakes_msg_ring;
      if (copy[i].ud == ud_ignore || copy[i].ud == ud_wake) continue;
      if (!(copy[i].flags & IORING_CQE_F_MORE)) --_in_flight;
      reinterpret_cast<op*>(copy[i].ud)->complete(copy[i].res, copy[i].flags);
    }
  }
}

void shard::submit_and_wait() noexcept {
  uint64_t next = _timers.next_deadline_ns();
  uint64_t now = monotonic_ns();
  __kernel_timespec ts{};
  if (next > now) {
    uint64_t wait = next - now;
    ts.tv_sec = int64_t(wait / 1'000'000'000ull);
    ts.tv_nsec = int64_t(wait % 1'000'000'000ull);
  }
  io_uring_cqe* cqe = nullptr;
  // One io_uring_enter per turn: submits everything queued and waits for one completion or the
  // earliest timer. A pending mailbox wake arrives as a completion, so it also ends the wait.
  io_uring_submit_and_wait_timeout(&_ring, &cqe, 1, &ts, nullptr);
  ++_stats.submits;
}

// Loop order per turn, each step bounded:
//   1. submit queued SQEs and wait (until a completion or the earliest timer)
//   2. reap completions (≤ completions_per_turn_max), resuming the coroutines they complete
//   3. drain the cross-shard mailbox (≤ its capacity)
//   4. fire due timers (≤ timers_per_turn_max)
void shard::run() {
  current_shard = this;
  arm_eventfd_read();
  _looping.store(true, std::memory_order_release);
  while (!_stop) {
    submit_and_wait();
    _now_ns = monotonic_ns();
    ++_stats.loop_turns;
    _published_turns.store(_stats.loop_turns, std::memory_order_relaxed);
    reap();
    drain_mailbox();
    _stats.timers_fired += _timers.fire_expired(_now_ns, _opts.timers_per_turn_max);
  }
  _looping.store(false, std::memory_order_release);  // quiesce() is bounded on its own
  quiesce();
}

// Cancel everything still in flight and reap until the kernel holds no pointer into our memory.
void shard::quiesce() noexcept {
  for (int round = 0; _in_flight > 0 && round < 1000; ++round) {
    io_uring_sqe* s = sqe_untracked();
    io_uring_prep_cancel64(s, 0, IORING_ASYNC_CANCEL_ANY);
    __kernel_timespec ts{0, 10'000'000};
    io_uring_cqe* cqe = nullptr;
    io_uring_submit_and_wait_timeout(&_ring, &cqe, 1, &ts, nullptr);
    _now_ns = monotonic_ns();
    reap();
    drain_mailbox();
  }
  if (_in_flight > 0) {
    log::error("shard exit with operations still in flight",
               {{"shard", _opts.id}, {"in_flight", _in_flight}});
    return;  // keep the buffers registered: the kernel may still write into them
  }
  _bufs.destroy();  // unregister from the owning thread (SINGLE_ISSUER)
}

shard_stats shard::stats() const noexcept {
  shard_stats s = _stats;
  s.mailbox_refused = _mailbox_refused.load(std::memory_order_relaxed);
  return s;
}

}  // namespace rg::runtime
