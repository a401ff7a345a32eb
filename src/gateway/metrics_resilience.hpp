// The resilience block of the gateway's metrics: retries, fallbacks, circuit transitions,
// hedges, bulkhead queueing and refusals (counted per shard, on the request path), plus gauges
// read from the shared endpoint and provider state at scrape time (circuit state, requests in
// flight, health, queue depth). Labels are configured names only (provider, model, and the
// endpoint's configured base_url).
#pragma once

#include <cstdint>

#include <ringgate/observe/metrics.hpp>
#include <ringgate/resilience/circuit.hpp>

namespace rg::gateway {

class route_table;

enum class retry_reason : uint8_t {
  stale_connection,
  connect_error,
  reset,
  timeout,
  status,
  pool_exhausted,  // this shard's connection pool for the endpoint was at connections_max
  count_
};
enum class hedge_event : uint8_t { started, won, cancelled, count_ };
enum class queue_result : uint8_t { admitted, timeout, full, count_ };
enum class refusal : uint8_t { no_endpoint, saturated, count_ };

class resilience_metrics {
 public:
  // Registers the families (counters in shard blocks) and the scrape hook (gauges).
  void add(observe::registry& reg, const route_table& routes);

  void retry(observe::shard_block& b, uint32_t provider, retry_reason why) const noexcept {
    b.add(_retries, provider * uint32_t(retry_reason::count_) + uint32_t(why));
  }
  void fallback(observe::shard_block& b, uint32_t model) const noexcept {
    b.add(_fallbacks, model);
  }
  void transition(observe::shard_block& b, uint32_t endpoint,
                  resilience::transition t) const noexcept {
    if (t != resilience::transition::none) b.add(_transitions, endpoint * 3 + uint32_t(t) - 1);
  }
  void hedge(observe::shard_block& b, uint32_t model, hedge_event e) const noexcept {
    b.add(_hedges, model * uint32_t(hedge_event::count_) + uint32_t(e));
  }
  void queued(observe::shard_block& b, uint32_t provider, queue_result r,
              uint64_t wait_ns) const noexcept {
    b.add(_queue, provider * uint32_t(queue_result::count_) + uint32_t(r));
    if (r != queue_result::full) b.observe_ns(_queue_wait, provider, wait_ns);
  }
  // `target`: a model index, or models + provider index for the provider/model form.
  void refused(observe::shard_block& b, uint32_t target, refusal r) const noexcept {
    b.add(_refused, target * uint32_t(refusal::count_) + uint32_t(r));
  }
  void health_check(observe::shard_block& b, uint32_t endpoint, bool passed) const noexcept {
    b.add(_health_checks, endpoint * 2 + (passed ? 0 : 1));
  }

 private:
  observe::family_id _retries, _fallbacks, _transitions, _hedges, _queue, _queue_wait, _refused;
  observe::family_id _health_checks;
};

}  // namespace rg::gateway
