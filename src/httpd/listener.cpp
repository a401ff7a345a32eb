// Per-shard accept loop, connection table, request-state pool and drain (see listener.hpp).
#include <ringgate/httpd/listener.hpp>

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include <ringgate/net/socket.hpp>
#include <ringgate/runtime/clock.hpp>
#include <ringgate/runtime/log.hpp>

#include "request_state.hpp"

namespace rg::httpd {
namespace {

http::request_limits limits_from(const config::server_limits& l) {
  http::request_limits r;
  r.request_line_bytes_max = l.request_line_bytes_max;
  r.head_bytes_max = l.head_bytes_max;
  r.headers_max = std::min<size_t>(l.headers_max, http::headers_cap);
  r.body_bytes_max = l.body_bytes_max;
  return r;
}

constexpr size_t body_block_bytes = 64 * 1024;

// Input blocks hold a whole head plus room to read body bytes behind it.
size_t input_block_bytes(const config::server_limits& l) {
  size_t want = size_t(l.head_bytes_max) + 16 * 1024;
  return (want + 4095) & ~size_t(4095);
}

}  // namespace

shard_listener::shard_listener(runtime::shard& s, const config::server_config& cfg, int listen_fd,
                               const std::atomic<bool>& draining, handler& h,
                               const tls::server_config* tls)
    : _shard(s),
      _cfg(cfg),
      _limits(limits_from(cfg.limits)),
      _draining(draining),
      _handler(h),
      _tls(tls),
      _listen_fd(listen_fd),
      _input_blocks(input_block_bytes(cfg.limits)),
      _request_blocks(sizeof(request_state), 1024),
      _body_blocks(body_block_bytes, 256) {
  _accept.self = this;
  _drain_timer.set_callback(&shard_listener::on_drain_deadline, this);
  _accept_retry_timer.set_callback(&shard_listener::on_accept_retry, this);
}

shard_listener::~shard_listener() {
  if (_listen_fd >= 0) ::close(_listen_fd);
}

void shard_listener::start() { arm_accept(); }

void shard_listener::arm_accept() noexcept {
  if (_accept_armed || _listen_fd < 0 || _local_drain) return;
  io_uring_sqe* sqe = _shard.sqe_for(&_accept);
  io_uring_prep_multishot_accept(sqe, _listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
  _accept_armed = true;
}

void shard_listener::on_accept(int res, uint32_t flags) noexcept {
  if (!(flags & IORING_CQE_F_MORE)) _accept_armed = false;
  if (res >= 0) {
    if (_local_drain) {
      ::close(res);
    } else if (_live >= _cfg.limits.connections_per_shard_max) {
      shed(res);  // over the per-shard connection limit
    } else if (connection* c = acquire(res)) {
      net::set_nodelay(res);
      listener_counters::bump(_counters.accepted);
      runtime::spawn(serve_connection(*this, *c));
    } else {
      shed(res);  // no memory for another slot chunk
    }
  } else if (res != -ECANCELED) {
    // EMFILE/ENFILE/ENOMEM: back off briefly instead of spinning on a failing accept.
    log::warn("accept failed", {{"shard", _shard.id()}, {"error", strerror(-res)}});
    if (!_accept_armed && !_local_drain) {
      _shard.timers().arm(_accept_retry_timer, _shard.now_ns() + 10'000'000);
      return;
    }
  }
  if (!_accept_armed) {
    if (_local_drain) {
      maybe_finish();
    } else {
      arm_accept();
    }
  }
}

// Counted before the close, so a client that sees the close finds it in the next scrape. Logged
// at most every 10 s per shard: a flood of connections must not become a flood of log lines.
void shard_listener::shed(int fd) noexcept {
  listener_counters::bump(_counters.shed);
  ::close(fd);
  uint64_t now = _shard.now_ns();
  if (now >= _shed_log_after_ns) {
    _shed_log_after_ns = now + 10'000'000'000;
    log::warn("connection limit reached: closing new connections",
              {{"shard", _shard.id()},
               {"connections", _live},
               {"connections_per_shard_max", _cfg.limits.connections_per_shard_max},
               {"shed_total", _counters.shed.load(std::memory_order_relaxed)}});
  }
}

void shard_listener::on_accept_retry(runtime::timer&, void* ctx) noexcept {
  static_cast<shard_listener*>(ctx)->arm_accept();
}

connection* shard_listener::acquire(int fd) noexcept {
  if (_free_head < 0) {
    try {
      auto chunk = std::make_unique<slot_storage[]>(chunk_slots);
      for (size_t i = 0; i < chunk_slots; ++i) {
        chunk[i].next_free = (i + 1 < chunk_slots) ? int32_t(_slots_total + i + 1) : -1;
      }
      _free_head = int32_t(_slots_total);
      _slots_total += chunk_slots;
      _chunks.push_back(std::move(chunk));
    } catch (const std::bad_alloc&) {
      return nullptr;
    }
  }
  uint32_t index = uint32_t(_free_head);
  slot_storage& slot = _chunks[index / chunk_slots][index % chunk_slots];
  _free_head = slot.next_free;
  auto* c = new (slot.bytes) connection(_shard, _input_blocks, fd);
  c->index = index;
  c->generation = ++slot.generation;
  c->next = _live_head;
  if (_live_head) _live_head->prev = c;
  _live_head = c;
  ++_live;
  return c;
}

void shard_listener::release(connection& c) noexcept {
  if (c.prev) c.prev->next = c.next;
  if (c.next) c.next->prev = c.prev;
  if (_live_head == &c) _live_head = c.next;
  uint32_t index = c.index;
  c.~connection();
  slot_storage& slot = _chunks[index / chunk_slots][index % chunk_slots];
  slot.next_free = _free_head;
  _free_head = int32_t(index);
  --_live;
  listener_counters::bump(_counters.closed);
  if (_local_drain) maybe_finish();
}

shard_listener::request_state* shard_listener::acquire_request() noexcept {
  try {
    return new (_request_blocks.get()) request_state(_limits);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}

void shard_listener::release_request(request_state* rs) noexcept {
  rs->~request_state();
  _request_blocks.put(reinterpret_cast<char*>(rs));
}

void shard_listener::drain() noexcept {
  if (_local_drain) return;
  _local_drain = true;
  if (_accept_armed) _shard.cancel(&_accept);
  _shard.timers().cancel(_accept_retry_timer);
  _shard.timers().arm(_drain_timer,
                      _shard.now_ns() + runtime::ms_to_ns(_cfg.drain_timeout_ms));
  _handler.drain();
  // Idle keep-alive connections have nothing in flight: close them now.
  for (connection* c = _live_head; c;) {
    connection* next = c->next;  // abort() may resume the session, which may release c
    if (c->idle) c->io.abort();
    c = next;
  }
  maybe_finish();
}

void shard_listener::abort_all() noexcept {
  for (connection* c = _live_head; c;) {
    connection* next = c->next;
    c->io.abort();
    c = next;
  }
}

void shard_listener::on_drain_deadline(runtime::timer&, void* ctx) noexcept {
  auto* self = static_cast<shard_listener*>(ctx);
  if (self->_live > 0) {
    log::warn("drain timeout: aborting in-flight connections",
              {{"shard", self->_shard.id()}, {"connections", self->_live}});
  }
  self->abort_all();
}

void shard_listener::maybe_finish() noexcept {
  if (_accept_armed) return;  // its cancelled completion comes back here
  // Stop accepting for real as soon as no accept refers to the socket: a closed listener makes
  // the kernel refuse new connections (or hand them to a shard not yet draining) instead of
  // queueing them in a backlog nobody accepts from until in-flight requests finish.
  if (_listen_fd >= 0) {
    ::close(_listen_fd);
    _listen_fd = -1;
  }
  if (_live > 0) return;
  _shard.timers().cancel(_drain_timer);
  _shard.stop();
}

}  // namespace rg::httpd
