// A shard: one pinned thread, one io_uring, and everything a request touches on its path.
// Invariant: only the shard's own thread touches its ring, timers and buffers; other threads reach
// it only through post(). Every SQE's user_data is an op* owned by whoever submitted it, and that
// owner stays alive until the op's final completion (in_flight() counts those not yet reaped).
#pragma once

#include <liburing.h>

#include <atomic>
#include <cstdint>
#include <span>

#include <ringgate/runtime/buffer_ring.hpp>
#include <ringgate/runtime/mpsc_queue.hpp>
#include <ringgate/runtime/timer.hpp>

namespace rg::runtime {

// The completion target of an SQE. `flags` carries IORING_CQE_F_MORE / F_BUFFER as from the CQE.
class op {
 public:
  virtual void complete(int res, uint32_t flags) noexcept = 0;

 protected:
  ~op() = default;
};

struct shard_options {
  uint32_t id = 0;
  int cpu = -1;                     // pin to this CPU; -1 = no pinning
  uint32_t sq_entries = 1024;
  uint32_t cq_entries = 8192;
  uint16_t recv_buffers = 256;      // provided-buffer ring: count (power of two)
  uint32_t recv_buffer_bytes = 16384;
  uint32_t mailbox_capacity = 1024; // cross-shard messages
  uint32_t timers_per_turn_max = 4096;
  uint32_t completions_per_turn_max = 1024;
  // Tests: set up the ring as on a kernel without SINGLE_ISSUER|DEFER_TASKRUN (the fallback path).
  bool force_ring_fallback = false;
};

// A message to a shard: `fn(target_shard, arg)` runs on the target's thread.
struct message {
  void (*fn)(class shard&, void* arg) noexcept = nullptr;
  void* arg = nullptr;
};

struct shard_stats {
  uint64_t loop_turns = 0;
  uint64_t completions = 0;
  uint64_t submits = 0;            // io_uring_enter calls
  uint64_t mailbox_refused = 0;    // post() to a full mailbox (atomic in shard; copied here)
  uint64_t timers_fired = 0;
  uint64_t wakes_msg_ring = 0;     // mailbox wakes that arrived as an IORING_OP_MSG_RING completion
  uint64_t wakes_eventfd = 0;      // mailbox wakes that arrived through the eventfd
};

class shard {
 public:
  // Must be constructed on the thread that will run it (SINGLE_ISSUER).
  explicit shard(const shard_options& opts);
  shard(const shard&) = delete;
  shard& operator=(const shard&) = delete;
  ~shard();

  // The shard running on this thread, or nullptr.
  static shard* current() noexcept;

  uint32_t id() const noexcept { return _opts.id; }
  // A free SQE (submitting queued ones first when the SQ is full), tagged with `o` and counted as in
  // flight until its final completion.
  io_uring_sqe* sqe_for(op* o) noexcept;
  // A free SQE whose completion is ignored (cancel requests, fire-and-forget).
  io_uring_sqe* sqe_untracked() noexcept;
  // Cancels the in-flight operation `o` (its completion still arrives, normally -ECANCELED).
  void cancel(op* o) noexcept;

  timer_heap& timers() noexcept { return _timers; }
  uint64_t now_ns() const noexcept { return _now_ns; }
  buffer_ring& recv_buffers() noexcept { return _bufs; }
  io_uring& ring() noexcept { return _ring; }
  bool defer_taskrun() const noexcept { return _defer_taskrun; }
  uint32_t in_flight() const noexcept { return _in_flight; }

  // Thread-safe: queues `m` and wakes the shard (MSG_RING from a shard thread, eventfd otherwise).
  // Returns false (and counts) when the mailbox is full.
  bool post(const message& m) noexcept;

  // Runs the loop until stop() is called from this shard's thread, then cancels and reaps every
  // in-flight operation before returning.
  void run();
  void stop() noexcept { _stop = true; }
  bool stopping() const noexcept { return _stop; }

  // Loop turn counter, readable from any thread (the watchdog checks it advances).
  uint64_t heartbeat() const noexcept { return _heartbeat.load(std::memory_order_relaxed); }
  // True from the start of run() until its loop ends, readable from any thread: a shard that has
  // finished (drained) has a still heartbeat without being stalled.
  bool looping() const noexcept { return _looping.load(std::memory_order_acquire); }
  shard_stats stats() const noexcept;
  // Loop turns and completions so far, readable from any thread (metrics scrapes).
  uint64_t published_turns() const noexcept {
    return _published_turns.load(std::memory_order_relaxed);
  }
  uint64_t published_completions() const noexcept {
    return _published_completions.load(std::memory_order_relaxed);
  }

 private:
  struct wake_op final : op {
    shard* self = nullptr;
    uint64_t value = 0;
    void complete(int res, uint32_t flags) noexcept override;
  };
  void setup_ring();
  void arm_eventfd_read() noexcept;
  void drain_mailbox() noexcept;
  void reap() noexcept;
  void submit_and_wait() noexcept;
  void quiesce() noexcept;
  static void on_heartbeat(timer& t, void* ctx) noexcept;

  shard_options _opts;
  io_uring _ring{};
  bool _defer_taskrun = false;
  bool _stop = false;
  uint32_t _in_flight = 0;
  uint64_t _now_ns = 0;
  timer_heap _timers;
  timer _heartbeat_timer;
  buffer_ring _bufs;
  mpsc_queue<message> _mailbox;
  int _eventfd = -1;
  wake_op _eventfd_op;
  std::atomic<uint64_t> _heartbeat{0};
  std::atomic<bool> _looping{false};
  std::atomic<uint64_t> _published_turns{0};
  std::atomic<uint64_t> _published_completions{0};
  std::atomic<uint64_t> _mailbox_refused{0};
  std::atomic<bool> _wake_pending{false};
  shard_stats _stats;
};

}  // namespace rg::runtime
