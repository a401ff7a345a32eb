// An HTTP/1.1 server: one shard thread per CPU, each with its own SO_REUSEPORT listener and its
// own handler instance. The control thread starts it, asks it to drain, and watches heartbeats.
#pragma once

#include <atomic>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <ringgate/config/config.hpp>
#include <ringgate/net/socket.hpp>
#include <ringgate/runtime/watchdog.hpp>
#include <ringgate/tls/tls.hpp>

namespace rg::runtime {
class shard;
}

namespace rg::httpd {

class shard_listener;
class handler;

// Aggregated counters across shards (each shard writes only its own).
struct server_counters {
  uint64_t connections_accepted = 0;
  uint64_t connections_closed = 0;
  uint64_t connections_shed = 0;  // over connections_per_shard_max
  uint64_t requests = 0;
  uint64_t limit_408 = 0;
  uint64_t limit_413 = 0;
  uint64_t limit_414 = 0;
  uint64_t limit_431 = 0;
  uint64_t bad_requests = 0;  // other rejections of malformed input
  uint64_t tls_handshakes = 0;  // inbound TLS: completed handshakes
  uint64_t tls_resumed = 0;     // of which resumed a session (ticket)
  uint64_t tls_failures = 0;    // handshakes that failed or timed out
  uint64_t tls_failures_by[size_t(tls::failure::count)] = {};  // the same, by reason
};

// Builds the handler for one shard, on that shard's thread.
using handler_factory = std::function<std::unique_ptr<handler>(runtime::shard&, uint32_t index)>;

class http_server {
 public:
  http_server(config::server_config cfg, handler_factory factory);
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;
  ~http_server();

  // Binds every shard's listener and starts the shard threads; returns once all of them listen.
  // Errors are one line naming the cause ("bind 127.0.0.1:80: Permission denied").
  // With tls_cert/tls_key set the certificate and key are (re)loaded here: a bad file fails the
  // start with one line naming it.
  std::expected<void, std::string> start();
  // Test hook (mockllm --tls-max-version): offer only up to TLS 1.<minor - 1>; before start().
  void set_tls_max_minor_version(int minor) noexcept { _tls_max_minor = minor; }
  const net::address& bound_address() const noexcept { return _bound; }
  uint32_t shard_count() const noexcept { return uint32_t(_shards.size()); }

  // Thread-safe. Listeners close, idle connections close, in-flight requests finish until
  // drain_timeout_ms, after which the rest are aborted. draining() turns true at once.
  void begin_drain();
  // Thread-safe: aborts every connection now (second signal).
  void abort_all();
  bool draining() const noexcept { return _draining.load(std::memory_order_acquire); }
  // Joins the shard threads (after they exit on their own following begin_drain()).
  void wait();
  bool stopped() const noexcept { return _running.load(std::memory_order_acquire) == 0; }

  // Per-shard loop heartbeats for the systemd watchdog; `looping` is false for a shard that has
  // not started or has finished (drained), whose heartbeat is still without being stalled.
  std::vector<runtime::shard_beat> heartbeats() const;
  server_counters counters() const;
  // Per shard, readable from any thread: {loop turns, io_uring completions}.
  std::vector<std::pair<uint64_t, uint64_t>> loop_figures() const;
  const config::server_config& cfg() const noexcept { return _cfg; }

 private:
  void shard_main(uint32_t index, int cpu, int listen_fd);

  config::server_config _cfg;
  handler_factory _factory;
  std::unique_ptr<tls::server_config> _tls;  // inbound TLS, shared read-only by every shard
  int _tls_max_minor = 0;
  net::address _bound;
  std::vector<std::thread> _threads;
  std::vector<std::atomic<shard_listener*>> _shards;  // set once a shard serves
  std::vector<std::unique_ptr<runtime::shard>> _runtimes;
  std::vector<std::unique_ptr<handler>> _handlers;
  std::vector<std::unique_ptr<shard_listener>> _listeners;
  std::atomic<bool> _draining{false};
  std::atomic<uint32_t> _running{0};
  std::atomic<uint32_t> _started{0};
  std::atomic<uint32_t> _failed{0};
};

// CPUs in this process's affinity mask, in order.
std::vector<int> affinity_cpus();

}  // namespace rg::httpd
