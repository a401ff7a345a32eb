// The gateway's metric families and how a request maps to its series. Labels come only from
// configured names (models, providers) and fixed tables (endpoints, status classes), so the
// series are all known at startup. Each shard writes its own block; the admin listener sums them.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <ringgate/httpd/server.hpp>
#include <ringgate/observe/metrics.hpp>

namespace rg::gateway {

class route_table;
struct resolved_model;

enum class endpoint : uint8_t { chat, embeddings, models, health, ready, other, count_ };

// What the request handler learned about one exchange, for metrics (and later the access log).
struct exchange_note {
  endpoint ep = endpoint::other;
  uint32_t model_slot = 0;  // 0 = none; see gateway_metrics::model_slot()
};

class gateway_metrics {
 public:
  // Families for `routes`, blocks for `shards` shards, scrape hooks reading `data` (server
  // counters) and process figures.
  gateway_metrics(const route_table& routes, uint32_t shards, const httpd::http_server& data);

  observe::shard_block& block(uint32_t shard) noexcept { return *_blocks[shard]; }
  // Slot of a resolved model: 1 + model index for configured models, 1 + M + provider index for
  // the provider/model form, 0 when nothing resolved.
  uint32_t model_slot(const resolved_model& r) const noexcept;

  // Called on the shard when an exchange starts and ends.
  void begin(uint32_t shard) noexcept { _blocks[shard]->add(_in_flight, 0); }
  void end(uint32_t shard, const exchange_note& n, uint16_t status, uint64_t duration_ns) noexcept;

  // The Prometheus text exposition of everything.
  std::string expose() const;

 private:
  observe::registry _reg;
  std::vector<std::unique_ptr<observe::shard_block>> _blocks;
  const route_table& _routes;
  uint32_t _slots = 1;
  observe::family_id _requests, _duration, _in_flight;
};

}  // namespace rg::gateway
