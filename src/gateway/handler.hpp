// The gateway's request handler, one per shard: gives every request its id, routes by path to the
// built-in endpoints and the proxy, and records metrics and the access line when it ends. Owns
// the shard's upstream pools (one per endpoint; their figures mirrored per provider into its
// metric block), its balancer state (smooth-WRR weights, a random generator), its wait lists for
// the providers' queues and its health checks.
#pragma once

#include <atomic>
#include <memory>
#include <span>
#include <vector>

#include <ringgate/config/config.hpp>
#include <ringgate/governance/governor.hpp>
#include <ringgate/httpd/exchange.hpp>
#include <ringgate/resilience/rng.hpp>
#include <ringgate/runtime/block_pool.hpp>
#include <ringgate/runtime/log.hpp>
#include <ringgate/runtime/shard.hpp>
#include <ringgate/runtime/timer.hpp>
#include <ringgate/upstream/pool.hpp>

#include "bulkhead.hpp"
#include "health_check.hpp"
#include "metrics.hpp"
#include "routes.hpp"

namespace rg::gateway {

class admin_handler;

// Per-shard counters of the proxy path (relaxed atomics). Streamed chunks and bytes are metrics
// (gateway_metrics), by provider.
struct proxy_counters {
  std::atomic<uint64_t> upstream_requests{0}, upstream_errors{0}, stale_retries{0};
  std::atomic<uint64_t> streams{0}, stream_failures{0};
  std::atomic<uint64_t> client_disconnects{0};
  std::atomic<uint64_t> tokens_in{0}, tokens_out{0};
  static void bump(std::atomic<uint64_t>& c, uint64_t n = 1) noexcept {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
};

class shard_handler final : public httpd::handler {
 public:
  // `metrics` may be null (metrics off: no metric work at all); `admin` answers /metrics and
  // /admin/* on this listener when admin.expose_on_data is set (null otherwise). `gov`: the
  // keys, limits and budgets.
  shard_handler(runtime::shard& s, const config::config& cfg, const route_table& routes,
                gateway_metrics* metrics, std::unique_ptr<admin_handler> admin,
                governance::governance& gov, uint32_t shard_count = 1);
  ~shard_handler() override;
  runtime::task<void> handle(httpd::exchange& ex) override;
  void drain() noexcept override;

  runtime::shard& shard() noexcept { return _shard; }
  const config::config& cfg() const noexcept { return _cfg; }
  const route_table& routes() const noexcept { return _routes; }
  gateway_metrics* metrics() noexcept { return _metrics; }
  governance::shard_governor* governor() noexcept { return &_governor; }
  upstream::pool& pool_for(const endpoint_route& e) noexcept {
    return *_pools[size_t(&e - _routes.endpoints().data())];
  }
  // This shard's smooth-WRR running weights for `p`'s members.
  std::span<int64_t> wrr(const pool_route& p) noexcept {
    return {_wrr.data() + p.wrr_offset, p.members.size()};
  }
  resilience::rng& rng() noexcept { return _rng; }
  runtime::block_pool& body_blocks() noexcept { return _body_blocks; }
  proxy_counters& counters() noexcept { return _counters; }
  // Shard-wide scratch for work that completes without suspending (never across a co_await).
  std::span<char> event_scratch() noexcept { return {_event_scratch.get(), scratch_bytes}; }
  std::span<char> json_scratch() noexcept { return {_json_scratch.get(), scratch_bytes + 64}; }
  // A new request id: 32 hex digits, unique per process (shard id, counter, start time).
  void make_request_id(char out[32]) noexcept;
  // The client's x-request-id when valid (1 to 128 of [A-Za-z0-9._:-]), else a new one.
  void assign_request_id(const http::request_head& head, exchange_note& note) noexcept;

 private:
  runtime::task<void> dispatch(httpd::exchange& ex, exchange_note& note);
  // Copies the pool's figures into this shard's metric block (metrics on only).
  void publish_pool(uint32_t provider) noexcept;
  static void on_pool_timer(runtime::timer& t, void* self) noexcept;
  static void on_access_timer(runtime::timer& t, void* self) noexcept;

  runtime::shard& _shard;
  const config::config& _cfg;
  const route_table& _routes;
  gateway_metrics* _metrics;
  std::unique_ptr<admin_handler> _admin;
  runtime::block_pool _upstream_blocks;
  runtime::block_pool _body_blocks;
  std::vector<std::unique_ptr<upstream::pool>> _pools;
  std::vector<int64_t> _wrr;
  resilience::rng _rng;
  std::unique_ptr<shard_queue[]> _queues;  // per provider
  health_checker _health;
  proxy_counters _counters;
  governance::shard_governor _governor;  // this shard's slices of every key's limits
  static constexpr size_t scratch_bytes = 16 * 1024;
  std::unique_ptr<char[]> _event_scratch = std::make_unique<char[]>(scratch_bytes);
  std::unique_ptr<char[]> _json_scratch = std::make_unique<char[]>(scratch_bytes + 64);
  uint64_t _request_seq = 0;
  uint64_t _id_salt = 0;
  // The pools' figures are copied into the metric block every pool_publish_ms (and at drain),
  // not per request: a scrape or /admin/providers sees them at most that old.
  runtime::timer _pool_timer;
  static constexpr uint64_t pool_publish_ms = 1000;
  // Access lines wait in this shard's batch at most access_flush_ms (the timer is armed by the
  // first line of a block, so an idle shard has no timer).
  log::access_batch _access;
  runtime::timer _access_timer;
  static constexpr uint64_t access_flush_ms = 100;
};

}  // namespace rg::gateway
