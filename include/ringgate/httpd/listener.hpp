// Per-shard half of an HTTP server: the listener's multishot accept, the connection table, the
// per-request state pool, and drain. Lives on, and is only touched by, its shard's thread (other
// threads post messages); counters are relaxed atomics so a scrape can read them.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include <ringgate/config/config.hpp>
#include <ringgate/http/request.hpp>
#include <ringgate/httpd/exchange.hpp>
#include <ringgate/net/socket.hpp>
#include <ringgate/net/stream.hpp>
#include <ringgate/runtime/block_pool.hpp>
#include <ringgate/runtime/shard.hpp>
#include <ringgate/runtime/task.hpp>
#include <ringgate/tls/tls.hpp>

namespace rg::httpd {

// A client connection: a slot in the shard's table. `generation` changes each time the slot is
// reused, so (index, generation) names one connection for its whole life.
struct connection {
  connection(runtime::shard& s, runtime::block_pool& pool, int fd) noexcept : io(s, pool, fd) {}
  net::stream io;
  // The client's address as text, looked up and formatted on first use (the access log): once
  // per connection, not per request.
  char peer_text[net::address_text_max];
  uint8_t peer_text_len = 0;
  bool peer_known = false;
  uint32_t index = 0;
  uint32_t generation = 0;
  bool idle = true;  // waiting for the first byte of a request
  connection* prev = nullptr;
  connection* next = nullptr;
};

// Counters written by one shard only.
struct listener_counters {
  std::atomic<uint64_t> accepted{0}, closed{0}, shed{0}, requests{0};
  std::atomic<uint64_t> limit_408{0}, limit_413{0}, limit_414{0}, limit_431{0}, bad_requests{0};
  std::atomic<uint64_t> tls_handshakes{0}, tls_resumed{0}, tls_failures{0};
  std::atomic<uint64_t> tls_failures_by[size_t(tls::failure::count)] = {};  // by reason
  static void bump(std::atomic<uint64_t>& c) noexcept {
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
};

class shard_listener {
 public:
  // `tls`: the inbound TLS configuration (null: plain HTTP), shared by every shard.
  shard_listener(runtime::shard& s, const config::server_config& cfg, int listen_fd,
                 const std::atomic<bool>& draining, handler& h,
                 const tls::server_config* tls = nullptr);
  ~shard_listener();
  shard_listener(const shard_listener&) = delete;
  shard_listener& operator=(const shard_listener&) = delete;

  void start();
  // On the shard thread: stop accepting (the listening socket closes as soon as its accept is
  // cancelled), close idle connections, arm the drain deadline. The shard stops once no
  // connection and no accept remain.
  void drain() noexcept;
  void abort_all() noexcept;

  runtime::shard& shard() noexcept { return _shard; }
  const config::server_config& cfg() const noexcept { return _cfg; }
  const http::request_limits& limits() const noexcept { return _limits; }
  bool draining() const noexcept { return _draining.load(std::memory_order_acquire); }
  listener_counters& counters() noexcept { return _counters; }
  const listener_counters& counters() const noexcept { return _counters; }
  handler& app() noexcept { return _handler; }
  const tls::server_config* tls() const noexcept { return _tls; }
  uint32_t live_connections() const noexcept { return _live; }

  // Per-request state (parser, head, response buffer: ~15 KB) is pooled and held only while a
  // request is in progress, so idle keep-alive connections stay small.
  struct request_state;
  request_state* acquire_request() noexcept;
  void release_request(request_state* rs) noexcept;
  // Request bodies up to this size come from a pool; larger ones are allocated for the request.
  runtime::block_pool& body_blocks() noexcept { return _body_blocks; }

  // Called by the session when its connection is closed.
  void release(connection& c) noexcept;

 private:
  struct accept_op final : runtime::op {
    shard_listener* self = nullptr;
    void complete(int res, uint32_t flags) noexcept override { self->on_accept(res, flags); }
  };
  void arm_accept() noexcept;
  void on_accept(int res, uint32_t flags) noexcept;
  connection* acquire(int fd) noexcept;
  void shed(int fd) noexcept;
  void maybe_finish() noexcept;
  static void on_drain_deadline(runtime::timer& t, void* ctx) noexcept;
  static void on_accept_retry(runtime::timer& t, void* ctx) noexcept;

  runtime::shard& _shard;
  const config::server_config& _cfg;
  http::request_limits _limits;
  const std::atomic<bool>& _draining;
  handler& _handler;
  const tls::server_config* _tls;
  int _listen_fd;
  bool _accept_armed = false;
  bool _local_drain = false;
  uint64_t _shed_log_after_ns = 0;
  accept_op _accept;
  runtime::timer _drain_timer;
  runtime::timer _accept_retry_timer;
  runtime::block_pool _input_blocks;
  runtime::block_pool _request_blocks;
  runtime::block_pool _body_blocks;

  // Connection table: slots allocated in chunks on demand (idle shards cost little memory),
  // recycled through a free list; live connections on an intrusive list for drain.
  static constexpr size_t chunk_slots = 64;
  struct slot_storage {
    alignas(connection) unsigned char bytes[sizeof(connection)];
    uint32_t generation = 0;
    int32_t next_free = -1;
  };
  std::vector<std::unique_ptr<slot_storage[]>> _chunks;
  int32_t _free_head = -1;
  uint32_t _slots_total = 0;
  uint32_t _live = 0;
  connection* _live_head = nullptr;
  listener_counters _counters;
};

// The HTTP/1.1 session on one connection: parse, read the body, call the handler, keep-alive.
// Ends by closing the stream and releasing the slot.
runtime::task<void> serve_connection(shard_listener& l, connection& conn);

}  // namespace rg::httpd
