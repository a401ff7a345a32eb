// Active health checks, off the request path: each endpoint whose provider configures a
// health_check path is checked by exactly one shard (endpoint index modulo the shard count), in
// a coroutine of its own that GETs the path every interval and publishes the verdict into the
// endpoint's shared state. drain() stops every loop; each is gone before the shard stops.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <ringgate/resilience/health.hpp>
#include <ringgate/runtime/alarm.hpp>
#include <ringgate/runtime/task.hpp>
#include <ringgate/runtime/timer.hpp>
#include <ringgate/upstream/pool.hpp>

namespace rg::gateway {

class shard_handler;
struct endpoint_route;

class health_checker {
 public:
  health_checker(shard_handler& h, uint32_t shard_count);
  health_checker(const health_checker&) = delete;
  health_checker& operator=(const health_checker&) = delete;
  ~health_checker();

  void start();
  void drain() noexcept;

 private:
  struct probe {
    probe(shard_handler& h, const endpoint_route& e, const resilience::health_options& o);
    const endpoint_route& endpoint;
    resilience::health_tracker tracker;
    runtime::alarm alarm;
    upstream::acquire_cancel cancel;
    runtime::timer connect_deadline;  // cuts a connect short at the check's timeout_ms
    bool cut_while_queued = false;    // …or a wait for a slot in this shard's full pool
    upstream::connection* conn = nullptr;
    bool running = false;
  };
  friend runtime::task<void> check_loop(health_checker& hc, probe& p);
  static void on_connect_deadline(runtime::timer& t, void* ctx) noexcept;
  // Passed or failed; nullopt when the check could not be made (this shard's pool for the
  // endpoint was full: that says nothing about the endpoint).
  runtime::task<std::optional<bool>> check_once(probe& p);
  void publish(probe& p, bool passed);

  shard_handler& _h;
  uint32_t _shard_count;
  bool _stopping = false;
  std::vector<std::unique_ptr<probe>> _probes;
};

}  // namespace rg::gateway
