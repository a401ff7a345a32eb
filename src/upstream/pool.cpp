// Upstream keep-alive pool (see pool.hpp).
#include <ringgate/upstream/pool.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <ringgate/runtime/clock.hpp>
#include <ringgate/runtime/io_call.hpp>
#include <ringgate/runtime/log.hpp>

namespace rg::upstream {

namespace {
constexpr error cancelled_error() noexcept {
  return error{error_kind::cancelled, error_source::gateway, false, ECANCELED, "connect cancelled"};
}
}  // namespace

// A queued acquire leaves the queue from the timer loop, as at its deadline, never on the
// canceller's stack.
void acquire_cancel::cancel() noexcept {
  cancelled = true;
  if (waiting) shard->timers().arm(*waiting, shard->now_ns());
  if (connecting) connecting->cancel();
  if (handshaking) handshaking->abort();
}

runtime::task<void> close_connection(pool& p, connection* c) {
  ++p._closing;
  co_await c->io.close();
  --p._closing;
  delete c;
}

// Waits on an idle connection: anything but being leased (EOF, stray bytes, an error, the idle
// timeout) ends it. Leasing interrupts the wait without touching the stream.
runtime::task<void> watch_idle(pool& p, connection& c) {
  c.watched = true;
  uint64_t deadline = p._shard.now_ns() + runtime::ms_to_ns(p._ep.options().pool_idle_timeout_ms);
  co_await c.io.read_more(deadline);
  c.watched = false;
  if (c.leased) co_return;
  p.unlink_idle(c);
  ++p._counters.idle_closed;
  runtime::spawn(close_connection(p, &c));
  p.wake_one();
}

// An acquire blocked on a full pool, living in its coroutine frame. Its timer fires at the
// deadline, or at once when wake_one() picks it: either way the loop resumes it, not the caller
// of release(), whose own coroutine must not be re-entered.
struct pool::waiter {
  pool& p;
  uint64_t deadline_ns;
  bool front;              // a waiter that lost its turn to a newcomer keeps its place at the head
  acquire_cancel* cancel;  // its cancel() fires the timer early (see acquire_cancel::cancel)
  std::coroutine_handle<> handle;
  runtime::timer timer;
  waiter* prev = nullptr;
  waiter* next = nullptr;
  bool queued = false;
  bool woken = false;

  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) noexcept {
    handle = h;
    timer.set_callback(&waiter::fire, this);
    p.enqueue(*this, front);
    p._shard.timers().arm(timer, deadline_ns);
    if (cancel) {
      cancel->shard = &p._shard;
      cancel->waiting = &timer;
    }
  }
  bool await_resume() const noexcept {
    if (cancel) cancel->waiting = nullptr;
    return woken;
  }
  static void fire(runtime::timer&, void* ctx) noexcept {
    auto* w = static_cast<waiter*>(ctx);
    if (w->queued) w->p.dequeue(*w);  // the deadline passed first
    w->handle.resume();
  }
};

void pool::enqueue(waiter& w, bool front) noexcept {
  if (front) {
    w.next = _wait_head;
    if (_wait_head) _wait_head->prev = &w;
    _wait_head = &w;
    if (!_wait_tail) _wait_tail = &w;
  } else {
    w.prev = _wait_tail;
    if (_wait_tail) _wait_tail->next = &w;
    _wait_tail = &w;
    if (!_wait_head) _wait_head = &w;
  }
  w.queued = true;
  ++_waiting;
}

void pool::dequeue(waiter& w) noexcept {
  if (w.prev) w.prev->next = w.next;
  if (w.next) w.next->prev = w.prev;
  if (_wait_head == &w) _wait_head = w.next;
  if (_wait_tail == &w) _wait_tail = w.prev;
  w.prev = w.next = nullptr;
  w.queued = false;
  --_waiting;
}

// A connection went idle or a slot came free: the longest waiter gets the first chance at it.
void pool::wake_one() noexcept {
  waiter* w = _wait_head;
  if (!w) return;
  dequeue(*w);
  w->woken = true;
  _shard.timers().arm(w->timer, _shard.now_ns());
}

pool::pool(runtime::shard& s, runtime::block_pool& input_blocks, const endpoint& ep,
           const tls::client_config* tls) noexcept
    : _shard(s), _blocks(input_blocks), _ep(ep), _tls(tls) {}

pool::~pool() {
  // The owner drains the pool (close_idle, leases returned) before the shard stops; anything left
  // here is a bug, and freeing it would leave the kernel a dangling pointer.
  if (_idle_count || _leased_count || _closing || _connecting || _waiting) {
    log::error("upstream pool destroyed while in use",
               {{"provider", _ep.options().provider}, {"idle", _idle_count},
                {"leased", _leased_count}, {"connecting", _connecting}, {"waiting", _waiting}});
  }
}

void pool::unlink_idle(connection& c) noexcept {
  if (c.prev) c.prev->next = c.next;
  if (c.next) c.next->prev = c.prev;
  if (_idle_head == &c) _idle_head = c.next;
  c.prev = c.next = nullptr;
  --_idle_count;
}

// The most recently used idle connection that is still reusable, leased; null when none is.
connection* pool::take_idle() noexcept {
  while (_idle_head) {
    connection* c = _idle_head;
    unlink_idle(*c);
    c->leased = true;
    if (c->watched) c->io.interrupt_reader();  // the watcher sees `leased` and returns
    if (!c->io.reusable()) {
      c->leased = false;
      ++_counters.idle_closed;
      runtime::spawn(close_connection(*this, c));
      continue;
    }
    ++c->uses;
    ++_leased_count;
    ++_counters.reuses;
    return c;
  }
  return nullptr;
}

runtime::task<std::expected<connection*, error>> pool::acquire(bool fresh_only,
                                                               acquire_cancel* cancel) {
  const uint32_t cap = _ep.options().pool_connections_per_shard_max;
  uint64_t wait_deadline = 0;
  bool waited = false;
  for (;;) {
    if (cancel && cancel->cancelled) co_return std::unexpected(cancelled_error());
    if (!fresh_only) {
      if (connection* c = take_idle()) co_return c;
    }
    if (total() < cap) break;
    if (_idle_head) {
      // Full, but with idle connections this caller may not use (fresh_only): make room.
      ++_counters.idle_closed;
      drop_idle(*_idle_head);
      continue;
    }
    if (wait_deadline == 0) {
      wait_deadline = _shard.now_ns() + runtime::ms_to_ns(_ep.options().connect_timeout_ms);
      ++_counters.waits;
    }
    bool woken = co_await waiter{*this, wait_deadline, waited, cancel};
    waited = true;
    if (cancel && cancel->cancelled) {
      if (woken) wake_one();  // the slot it was handed goes to the next in line
      co_return std::unexpected(cancelled_error());
    }
    if (!woken) {
      ++_counters.exhausted;
      note_exhausted();
      co_return std::unexpected(error{error_kind::limit, error_source::gateway, true, EBUSY,
                                      "upstream connection pool exhausted"});
    }
  }
  co_return co_await connect_new(cancel);
}

// Opens, connects (and for https, verifies) a new connection, counted as connecting meanwhile.
runtime::task<std::expected<connection*, error>> pool::connect_new(acquire_cancel* cancel) {
  net::address addr;
  if (!_ep.address(addr)) {
    co_return std::unexpected(error{error_kind::io, error_source::upstream, true, EHOSTUNREACH,
                                    "upstream address not resolved"});
  }
  int fd = ::socket(addr.storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    co_return std::unexpected(error{error_kind::io, error_source::gateway, true, errno, "socket"});
  }
  net::set_nodelay(fd);
  ++_connecting;
  runtime::io_call call(_shard);
  io_uring_prep_connect(call.sqe(), fd, addr.sa(), addr.len);
  int res;
  bool timed_out;
  {
    runtime::deadline_guard guard(
        _shard, call, _shard.now_ns() + runtime::ms_to_ns(_ep.options().connect_timeout_ms));
    if (cancel) cancel->connecting = &call;
    res = co_await call;
    if (cancel) cancel->connecting = nullptr;
    timed_out = guard.fired();
  }
  ++_counters.connects;
  if (cancel && cancel->cancelled) {
    ::close(fd);
    --_connecting;
    wake_one();
    co_return std::unexpected(cancelled_error());
  }
  if (res < 0) {
    ::close(fd);
    ++_counters.connect_errors;
    --_connecting;
    wake_one();
    if (timed_out) {
      co_return std::unexpected(
          error{error_kind::timeout, error_source::upstream, true, ETIMEDOUT, "connect"});
    }
    co_return std::unexpected(error{error_kind::io, error_source::upstream, true, -res, "connect"});
  }
  auto* c = new connection(_shard, _blocks, fd, *this);
  if (_tls) {
    // The request (and the provider key in it) goes out only on a verified connection.
    if (cancel) cancel->handshaking = &c->io;
    auto ok = co_await secure(*c);
    if (cancel) cancel->handshaking = nullptr;
    if (ok && cancel && cancel->cancelled) ok = std::unexpected(cancelled_error());
    if (!ok) {
      runtime::spawn(close_connection(*this, c));
      --_connecting;
      wake_one();
      co_return std::unexpected(ok.error());
    }
  }
  --_connecting;
  c->leased = true;
  c->uses = 1;
  ++_leased_count;
  co_return c;
}

// Runs the TLS handshake on a new connection (SNI, hostname and chain verified by mbedTLS).
runtime::task<std::expected<void, error>> pool::secure(connection& c) {
  auto s = tls::session::client(*_tls, _ep.options().host, &_tls_cache);
  if (!s) {
    note_tls_failure(tls::failure::handshake, 0);
    co_return std::unexpected(
        error{error_kind::tls, error_source::gateway, false, ENOMEM, "TLS session setup failed"});
  }
  tls::session& session = *s;
  c.io.set_transform(std::move(s));
  uint64_t deadline = _shard.now_ns() + runtime::ms_to_ns(_ep.options().connect_timeout_ms);
  int rc = co_await c.io.handshake(deadline);
  if (rc == 0) {
    ++_counters.tls_handshakes;
    if (session.resumed()) ++_counters.tls_resumed;
    if (_tls_observer) _tls_observer->tls_handshake(_shard.id(), _tls_tag, session.resumed());
    co_return std::expected<void, error>{};
  }
  if (c.io.aborted()) {  // cancelled by the acquirer (acquire_cancel): not a TLS failure
    co_return std::unexpected(error{error_kind::cancelled, error_source::gateway, false, ECANCELED,
                                    "handshake cancelled"});
  }
  tls::failure why = session.failure_for(rc);
  note_tls_failure(why, session.mbedtls_error());
  // Verification failures will fail again: not retryable. A reset or timeout might not.
  bool retryable = why == tls::failure::timeout || why == tls::failure::closed;
  co_return std::unexpected(
      error{error_kind::tls, error_source::upstream, retryable, -rc, tls::describe(why)});
}

// Counts every failure; logs at most once per endpoint per interval (across shards).
void pool::note_tls_failure(tls::failure why, int detail) noexcept {
  ++_counters.tls_failures[size_t(why)];
  if (_tls_observer) _tls_observer->tls_failure(_shard.id(), _tls_tag, why);
  constexpr uint64_t log_interval_ns = 10'000'000'000;
  uint64_t suppressed = 0;
  if (!_ep.claim_log(log_topic::tls_failure, _shard.now_ns(), log_interval_ns, suppressed)) {
    return;
  }
  log::warn("upstream TLS handshake failed",
            {{"provider", _ep.options().provider}, {"host", _ep.options().host},
             {"reason", tls::label(why)}, {"mbedtls_error", detail},
             {"suppressed_since_last", suppressed}});
}

// Counted by the caller; logs at most once per endpoint per interval (across shards).
void pool::note_exhausted() noexcept {
  constexpr uint64_t log_interval_ns = 10'000'000'000;
  uint64_t suppressed = 0;
  if (!_ep.claim_log(log_topic::pool_exhausted, _shard.now_ns(), log_interval_ns, suppressed)) {
    return;
  }
  const auto& o = _ep.options();
  log::warn("upstream connection pool exhausted",
            {{"provider", o.provider}, {"host", o.host},
             {"connections_max", o.pool_connections_per_shard_max},
             {"waited_ms", o.connect_timeout_ms}, {"waiting", _waiting},
             {"suppressed_since_last", suppressed}});
}

void pool::release(connection* c, reuse r) noexcept {
  --_leased_count;
  c->leased = false;
  c->io.set_rx_mode(net::stream::rx_mode::copy);
  if (r == reuse::keep && !_draining && c->io.reusable() &&
      _idle_count < _ep.options().pool_idle_per_shard_max) {
    c->prev = nullptr;
    c->next = _idle_head;
    if (_idle_head) _idle_head->prev = c;
    _idle_head = c;
    ++_idle_count;
    c->io.release_input_if_empty();
    runtime::spawn(watch_idle(*this, *c));
    wake_one();
    return;
  }
  runtime::spawn(close_connection(*this, c));
  wake_one();
}

// Closes an idle connection now; its watcher returns without touching it.
void pool::drop_idle(connection& c) noexcept {
  unlink_idle(c);
  c.leased = true;  // so the watcher returns without closing it again
  if (c.watched) c.io.interrupt_reader();
  c.leased = false;
  runtime::spawn(close_connection(*this, &c));
}

void pool::close_idle() noexcept {
  _draining = true;
  while (_idle_head) {
    drop_idle(*_idle_head);
    wake_one();
  }
}

}  // namespace rg::upstream
