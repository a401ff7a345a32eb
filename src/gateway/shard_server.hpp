// Per-shard half of the server: the listener's multishot accept, the connection table, drain.
// Lives on, and is only touched by, its shard's thread (other threads post messages).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include <ringgate/config/config.hpp>
#include <ringgate/gateway/server.hpp>
#include <ringgate/http/request.hpp>
#include <ringgate/net/stream.hpp>
#include <ringgate/runtime/block_pool.hpp>
#include <ringgate/runtime/shard.hpp>
#include <ringgate/runtime/task.hpp>

namespace rg::gateway {

// A client connection: a slot in the shard's table. `generation` changes each time the slot is
// reused, so (index, generation) names one connection for its whole life.
struct connection {
  connection(runtime::shard& s, runtime::block_pool& pool, int fd) noexcept : io(s, pool, fd) {}
  net::stream io;
  uint32_t index = 0;
  uint32_t generation = 0;
  bool idle = true;  // waiting for the first byte of a request
  connection* prev = nullptr;
  connection* next = nullptr;
};

// Counters written by this shard only (relaxed atomics so scrapes can read them).
struct shard_counters {
  std::atomic<uint64_t> accepted{0}, closed{0}, shed{0}, requests{0};
  std::atomic<uint64_t> limit_408{0}, limit_413{0}, limit_414{0}, limit_431{0}, bad_requests{0};
  void bump(std::atomic<uint64_t>& c) noexcept { c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }
};

class shard_server {
 public:
  shard_server(runtime::shard& s, const config::config& cfg, int listen_fd,
               const std::atomic<bool>& draining);
  ~shard_server();

  void start();
  // Called on the shard thread (via a message): stop accepting, close idle connections, and
  // arm the drain deadline. The shard stops once no connection and no accept remain.
  void drain() noexcept;
  void abort_all() noexcept;

  runtime::shard& shard() noexcept { return _shard; }
  const config::config& cfg() const noexcept { return _cfg; }
  const http::request_limits& limits() const noexcept { return _limits; }
  bool draining() const noexcept { return _draining.load(std::memory_order_acquire); }
  shard_counters& counters() noexcept { return _counters; }
  const shard_counters& counters() const noexcept { return _counters; }

  // Connection lifecycle, used by the session coroutine.
  void release(connection& c) noexcept;

 private:
  struct accept_op final : runtime::op {
    shard_server* self = nullptr;
    void complete(int res, uint32_t flags) noexcept override { self->on_accept(res, flags); }
  };
  void arm_accept() noexcept;
  void on_accept(int res, uint32_t flags) noexcept;
  connection* acquire(int fd) noexcept;
  void maybe_finish() noexcept;
  static void on_drain_deadline(runtime::timer& t, void* ctx) noexcept;
  static void on_accept_retry(runtime::timer& t, void* ctx) noexcept;

  runtime::shard& _shard;
  const config::config& _cfg;
  http::request_limits _limits;
  const std::atomic<bool>& _draining;
  int _listen_fd;
  bool _accept_armed = false;
  bool _local_drain = false;
  accept_op _accept;
  runtime::timer _drain_timer;
  runtime::timer _accept_retry_timer;
  runtime::block_pool _input_blocks;

  // Connection table: slots allocated in chunks on demand (so idle shards cost little memory),
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
  shard_counters _counters;
};

// The HTTP/1.1 session on one connection: parse, route, respond, keep-alive. Ends by closing the
// stream and releasing the slot.
runtime::task<void> serve_connection(shard_server& srv, connection& conn);

}  // namespace rg::gateway
