// The gateway's metric families and how a request maps to its series. Labels come only from
// configured names (models, providers) and fixed tables (endpoints, status classes, shard
// numbers), so the series are all known at startup. Each shard writes its own block; the admin
// listener sums them. Nothing here exists when metrics are off ([admin] metrics = false): the
// handler then holds a null gateway_metrics* and does no metric work at all.
#pragma once
#include <cstdint>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <ringgate/config/config.hpp>
#include <ringgate/governance/ledger.hpp>
#include <ringgate/httpd/server.hpp>
#include <ringgate/observe/metrics.hpp>
#include <ringgate/upstream/pool.hpp>

#include "metrics_resilience.hpp"

namespace rg::gateway {

class route_table;
struct resolved_model;

enum class endpoint : uint8_t { chat, embeddings, models, health, ready, other, count_ };
// The request path of each endpoint but `other`: the handler names an endpoint only when the
// path (without its query) is exactly this.
inline constexpr std::string_view endpoint_paths[] = {
    "/v1/chat/completions", "/v1/embeddings", "/v1/models", "/health", "/ready", {}};
static_assert(std::size(endpoint_paths) == size_t(endpoint::count_));

// Why governance refused a request (govern.cpp), for metrics.
enum class key_refusal : uint8_t {
  none, missing_key, invalid_key, model_not_allowed, concurrency, rpm, tpm, budget
};

// What the request handler learned about one exchange, for metrics and the access log. Views
// point into the request (valid until the handler returns) or the route table.
struct exchange_note {
  endpoint ep = endpoint::other;
  uint32_t model_slot = 0;  // 0 = none; see gateway_metrics::model_slot()
  // The request id (the client's x-request-id when valid, else generated), set for every request.
  char request_id[129] = {};
  uint8_t request_id_len = 0;
  // Filled by the proxy:
  std::string_view model;           // as the client asked (client text: logs only, never labels)
  std::string_view provider;        // configured provider name (of the attempt that answered)
  uint32_t provider_index = UINT32_MAX;  // its index in the route table; none: the model's
  std::string_view upstream_model;  // as sent upstream
  // The same three as JSON string tokens when they are configured names (built at start-up, so
  // the access line copies them instead of escaping them); empty: the line escapes the text.
  std::string_view model_json, provider_json, upstream_model_json;
  const config::model_price* price = nullptr;  // a configured model's prices, else null
  bool stream = false;
  bool usage_known = false;
  int64_t tokens_in = 0;
  int64_t tokens_out = 0;
  int64_t cached_tokens = 0;
  uint64_t upstream_ttfb_ns = 0;    // request sent → upstream response head; 0 = none
  uint64_t upstream_ns = 0;         // upstream connection acquired → relay finished; 0 = none
  uint16_t upstream_status = 0;     // the upstream's status, 0 when it never answered
  uint32_t retries = 0;
  std::string_view error;           // static error code (e.g. "upstream_timeout"), or empty
  std::string_view request_id_view() const noexcept { return {request_id, request_id_len}; }

  // Governance (govern.cpp): the virtual key by its configured name (never the key itself).
  std::string_view key;             // empty: anonymous or not authenticated
  int32_t key_index = -1;
  key_refusal refused = key_refusal::none;
  int64_t cost_nano = -1;           // billed cost (exact integer nano-dollars); -1 = unknown
  int64_t billed_in = 0, billed_out = 0;  // tokens billed to the key
  bool usage_estimated = false;     // no usage reported upstream: billed tokens are estimates
};

class gateway_metrics final : public upstream::tls_observer {
 public:
  // Families for `routes`, blocks for `shards` shards, scrape hooks reading `data` (server
  // counters) and process figures.
  gateway_metrics(const route_table& routes, const std::vector<config::key_config>& keys,
                  uint32_t shards, const httpd::http_server& data);

  observe::shard_block& block(uint32_t shard) noexcept { return *_blocks[shard]; }
  // Slot of a resolved model: 1 + model index for configured models, 1 + M + provider index for
  // the provider/model form, 0 when nothing resolved.
  uint32_t model_slot(const resolved_model& r) const noexcept;

  // Called on the shard when an exchange starts and ends.
  void begin(uint32_t shard) noexcept { _blocks[shard]->add(_in_flight, 0); }
  void end(uint32_t shard, const exchange_note& n, uint16_t status, uint64_t duration_ns) noexcept;

  // Streams, recorded by the relay on its shard (no allocation, no clock read: the caller passes
  // the shard's cached time). A chunk is one relayed data event other than [DONE].
  void stream_first_token(uint32_t shard, uint32_t provider, uint64_t ns) noexcept {
    _blocks[shard]->observe_ns(_stream_ttft, provider, ns);
  }
  // `chunks` relayed, of which `zero_gaps` came in the same loop turn as the chunk before them
  // (a gap of 0): the relay adds them up per send rather than per event.
  void stream_chunks(uint32_t shard, uint32_t provider, uint64_t chunks,
                     uint64_t zero_gaps) noexcept {
    _blocks[shard]->add(_stream_chunks, provider, chunks);
    if (zero_gaps) _blocks[shard]->observe_zeros(_stream_gap, provider, zero_gaps);
  }
  void stream_gap(uint32_t shard, uint32_t provider, uint64_t ns) noexcept {
    _blocks[shard]->observe_ns(_stream_gap, provider, ns);
  }
  void stream_bytes(uint32_t shard, uint32_t provider, uint64_t n) noexcept {
    _blocks[shard]->add(_stream_bytes, provider, n);
  }
  // Upstream stream bytes as the relay took them in: handed over in the receive buffers (and so
  // sent from them) or copied first (the bytes read with the response head; https plaintext).
  enum class relay_path : uint8_t { zero_copy, copied };
  void stream_relayed(uint32_t shard, relay_path p, uint64_t bytes) noexcept {
    _blocks[shard]->add(_stream_relay, uint32_t(p), bytes);
  }

  // The shard's upstream pool for `provider` now: its block mirrors the pool's figures, so a
  // scrape (or /admin/providers) reads them without touching the pool.
  void pool_state(uint32_t shard, uint32_t provider, uint32_t idle, uint32_t active,
                  uint64_t connects) noexcept;
  struct pool_figures {
    uint64_t idle = 0, active = 0, connects = 0;
  };
  // Summed across shards; any thread.
  pool_figures pool_totals(uint32_t provider) const noexcept;

  // The Prometheus text exposition of everything.
  std::string expose() const;
  const resilience_metrics& resilience() const noexcept { return _resilience; }

  // Upstream TLS handshakes, from each shard's pools (tag = provider index).
  void tls_handshake(uint32_t shard, uint32_t provider, bool resumed) noexcept override;
  void tls_failure(uint32_t shard, uint32_t provider, tls::failure why) noexcept override;

  // Governance: the usage ledger's row counters, read at scrape time (null: no ledger).
  void watch_ledger(const governance::ledger_counters* counters);

 private:
  // Provider index of a model slot (slot ≥ 1).
  uint32_t provider_of_slot(uint32_t slot) const noexcept;
  void add_tls_families(const httpd::http_server& data);
  // Governance families (metrics_keys.cpp): per key, and refusals.
  void add_key_families(const std::vector<config::key_config>& keys);
  void count_key(observe::shard_block& b, const exchange_note& n) noexcept;

  observe::registry _reg;
  std::vector<std::unique_ptr<observe::shard_block>> _blocks;
  const route_table& _routes;
  uint32_t _slots = 1;
  observe::family_id _requests, _duration, _in_flight, _shard_requests;
  observe::family_id _overhead, _upstream_ttfb, _upstream_duration, _upstream_errors;
  observe::family_id _stream_ttft, _stream_gap, _stream_chunks, _stream_bytes;
  observe::family_id _pool_connections, _pool_connects;
  observe::family_id _tokens, _cost, _rate_limited, _budget_rejected;
  observe::family_id _stream_relay;
  resilience_metrics _resilience;
  uint32_t _providers = 0;
  observe::family_id _up_tls_handshakes, _up_tls_resumed, _up_tls_failures;
  uint32_t _keys = 0;
  observe::family_id _key_tokens, _key_cost, _auth_rejected, _model_denied;
};

}  // namespace rg::gateway
