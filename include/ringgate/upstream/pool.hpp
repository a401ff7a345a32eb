// Per-shard keep-alive pool for one upstream endpoint. Idle connections keep a recv armed, so a
// connection the server closed is noticed and dropped while idle; one that dies between the
// check and the request is reported as `stale` by the caller, who retries once on a fresh one.
// The pool holds at most pool_connections_per_shard_max connections (idle + leased + connecting):
// beyond that an acquire waits, in arrival order, for one to be released or closed, up to
// connect_timeout_ms, then fails with error_kind::limit.
// Invariants: a connection is idle (in the list, watched) or leased (owned by one exchange);
// it is freed only after its stream has closed; a waiter is resumed from the timer loop, never
// from inside release().
#pragma once

#include <cstdint>
#include <expected>

#include <ringgate/net/stream.hpp>
#include <ringgate/runtime/block_pool.hpp>
#include <ringgate/runtime/error.hpp>
#include <ringgate/runtime/io_call.hpp>
#include <ringgate/runtime/shard.hpp>
#include <ringgate/runtime/task.hpp>
#include <ringgate/tls/tls.hpp>
#include <ringgate/upstream/endpoint.hpp>

namespace rg::upstream {

class pool;

struct connection {
  connection(runtime::shard& s, runtime::block_pool& blocks, int fd, pool& p) noexcept
      : io(s, blocks, fd), owner(p) {}
  net::stream io;
  pool& owner;
  uint32_t uses = 0;       // exchanges started on it (1 = fresh)
  bool watched = false;    // an idle watcher coroutine is waiting on it
  bool leased = false;
  connection* prev = nullptr;
  connection* next = nullptr;
};

enum class reuse : uint8_t { keep, close };

// Lets another coroutine stop an acquire() in progress (a hedged request's losing attempt, a
// client that went away): cancel() ends a wait for a slot in a full pool, or cuts the connect or
// the TLS handshake short, and acquire() then fails with error_kind::cancelled. The object
// outlives the acquire() it is passed to; cancel() only from the pool's shard.
struct acquire_cancel {
  void cancel() noexcept;
  bool cancelled = false;
  runtime::shard* shard = nullptr;         // the pool's, set with `waiting`
  runtime::timer* waiting = nullptr;       // set by the pool while queued for a slot
  runtime::io_call* connecting = nullptr;  // set by the pool while a connect is in flight
  net::stream* handshaking = nullptr;      // set by the pool during a TLS handshake
};

struct pool_counters {
  uint64_t connects = 0;
  uint64_t connect_errors = 0;
  uint64_t reuses = 0;
  uint64_t idle_closed = 0;  // idle connections dropped (server closed, timeout)
  uint64_t tls_handshakes = 0;  // completed, verified handshakes
  uint64_t tls_resumed = 0;     // of which resumed an earlier session (no full handshake)
  uint64_t tls_failures[size_t(tls::failure::count)] = {};  // by reason
  uint64_t waits = 0;      // acquires that found the pool full and waited for a connection
  uint64_t exhausted = 0;  // of which gave up at the deadline
};

// Where a pool reports its TLS handshakes as they end (the gateway's metrics), on the pool's
// shard; `tag` is the value given to observe_tls() (the provider's index).
class tls_observer {
 public:
  virtual void tls_handshake(uint32_t shard, uint32_t tag, bool resumed) noexcept = 0;
  virtual void tls_failure(uint32_t shard, uint32_t tag, tls::failure why) noexcept = 0;

 protected:
  ~tls_observer() = default;
};

class pool {
 public:
  // `tls` (https endpoints): the provider's shared client configuration; every new connection
  // completes a verified handshake before acquire() hands it out.
  pool(runtime::shard& s, runtime::block_pool& input_blocks, const endpoint& ep,
       const tls::client_config* tls = nullptr) noexcept;
  pool(const pool&) = delete;
  pool& operator=(const pool&) = delete;
  ~pool();

  const endpoint& target() const noexcept { return _ep; }
  // An idle connection if one is healthy, else a new one (connect under connect_timeout_ms);
  // when the pool is full, waits up to connect_timeout_ms for one (error_kind::limit after).
  // `fresh_only` skips the idle list (the retry after a stale pooled connection); `cancel` (may
  // be null) lets another coroutine stop the wait, connect or handshake (error_kind::cancelled).
  runtime::task<std::expected<connection*, error>> acquire(bool fresh_only = false,
                                                           acquire_cancel* cancel = nullptr);
  // Gives a leased connection back: kept idle when `r` is keep and the stream is reusable,
  // otherwise closed (asynchronously) and freed.
  void release(connection* c, reuse r) noexcept;
  // Closes every idle connection and stops keeping new ones (drain); leased ones close when
  // released.
  void close_idle() noexcept;

  // Reports every handshake outcome to `o` (null: none) with `tag`; before the first acquire().
  void observe_tls(tls_observer* o, uint32_t tag) noexcept {
    _tls_observer = o;
    _tls_tag = tag;
  }

  uint32_t idle() const noexcept { return _idle_count; }
  uint32_t leased() const noexcept { return _leased_count; }
  uint32_t connecting() const noexcept { return _connecting; }
  uint32_t closing() const noexcept { return _closing; }
  uint32_t waiting() const noexcept { return _waiting; }
  // The connections counted against the cap.
  uint32_t total() const noexcept { return _idle_count + _leased_count + _connecting; }
  const pool_counters& counters() const noexcept { return _counters; }

 private:
  struct waiter;
  friend runtime::task<void> watch_idle(pool& p, connection& c);
  friend runtime::task<void> close_connection(pool& p, connection* c);
  void unlink_idle(connection& c) noexcept;
  connection* take_idle() noexcept;
  void drop_idle(connection& c) noexcept;
  runtime::task<std::expected<connection*, error>> connect_new(acquire_cancel* cancel);
  runtime::task<std::expected<void, error>> secure(connection& c);
  void note_tls_failure(tls::failure why, int detail) noexcept;
  void note_exhausted() noexcept;
  // Waiters: a FIFO of acquires blocked on a full pool. wake_one() hands the next one the
  // connection or slot that just came free.
  void enqueue(waiter& w, bool front) noexcept;
  void dequeue(waiter& w) noexcept;
  void wake_one() noexcept;

  runtime::shard& _shard;
  runtime::block_pool& _blocks;
  const endpoint& _ep;
  connection* _idle_head = nullptr;  // most recently used first
  uint32_t _idle_count = 0;
  uint32_t _leased_count = 0;
  uint32_t _closing = 0;
  uint32_t _connecting = 0;
  uint32_t _waiting = 0;
  waiter* _wait_head = nullptr;
  waiter* _wait_tail = nullptr;
  bool _draining = false;
  pool_counters _counters;
  const tls::client_config* _tls;
  tls::session_cache _tls_cache;  // the last session, offered for resumption
  tls_observer* _tls_observer = nullptr;
  uint32_t _tls_tag = 0;
};

}  // namespace rg::upstream
