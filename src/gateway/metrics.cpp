#include "metrics.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <fstream>

#include <ringgate/runtime/clock.hpp>
#include <ringgate/runtime/log.hpp>

#include "access.hpp"
#include "routes.hpp"

namespace rg::gateway {
namespace {

constexpr std::string_view endpoint_names[] = {
    "/v1/chat/completions", "/v1/embeddings", "/v1/models", "/health", "/ready", "other"};
constexpr std::string_view status_classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx", "none"};
constexpr uint32_t class_count = std::size(status_classes);
constexpr uint32_t endpoint_count = uint32_t(endpoint::count_);

// Upstream failure kinds: the error codes the proxy reports, plus an upstream 5xx answer.
constexpr std::string_view upstream_error_kinds[] = {"upstream_error", "upstream_timeout",
                                                     "upstream_stream_failed", "upstream_tls_error",
                                                     "upstream_pool_exhausted",
                                                     "status_5xx"};  // status_5xx stays last
constexpr uint32_t error_kind_count = std::size(upstream_error_kinds);

uint32_t status_class(uint16_t status) noexcept {
  if (status >= 100 && status < 600) return status / 100 - 1;
  return class_count - 1;  // no answer was written (the client went away first)
}

double wall_start_s() {
  static const double start = [] {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
  }();
  return start;
}

uint64_t open_fds() {
  uint64_t n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    closedir(d);
    if (n) --n;  // the directory stream's own descriptor
  }
  return n;
}

uint64_t rss_bytes() {
  std::ifstream f("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  f >> size >> resident;
  return resident * uint64_t(sysconf(_SC_PAGESIZE));
}

void gauge_line(std::string& out, std::string_view name, std::string_view help,
                std::string_view type, double value) {
  observe::append_help_type(out, name, help, type);
  out += name;
  out += ' ';
  observe::append_value(out, value);
  out += '\n';
}

}  // namespace

gateway_metrics::gateway_metrics(const route_table& routes, const std::vector<config::key_config>& keys,
                                 uint32_t shards, const httpd::http_server& data)
    : _routes(routes) {
  wall_start_s();
  const auto& models = routes.models();
  const auto& providers = routes.providers();
  _slots = 1 + uint32_t(models.size() + providers.size());
  // Slot → (model, provider) labels.
  std::vector<std::pair<std::string, std::string>> slot_labels{{"none", "none"}};
  for (const auto& m : models) slot_labels.emplace_back(m.name, providers[m.provider].name);
  for (const auto& p : providers) slot_labels.emplace_back(p.name + "/*", p.name);

  observe::family_options req{"ringgate_requests_total",
                              "Requests answered, by endpoint, model, provider and status class.",
                              observe::metric_type::counter,
                              {"endpoint", "model", "provider", "status_class"},
                              {}};
  for (uint32_t e = 0; e < endpoint_count; ++e) {
    for (uint32_t s = 0; s < _slots; ++s) {
      for (uint32_t c = 0; c < class_count; ++c) {
        req.series.push_back({std::string(endpoint_names[e]), slot_labels[s].first,
                              slot_labels[s].second, std::string(status_classes[c])});
      }
    }
  }
  _requests = _reg.add(std::move(req));

  observe::family_options dur{"ringgate_request_duration_seconds",
                              "Time from the complete request head to the end of the answer.",
                              observe::metric_type::histogram,
                              {"endpoint"},
                              {}};
  for (auto e : endpoint_names) dur.series.push_back({std::string(e)});
  std::vector<std::vector<std::string>> dur_series = dur.series;
  _duration = _reg.add(std::move(dur));

  _in_flight = _reg.add({"ringgate_requests_in_flight",
                         "Requests being answered now.",
                         observe::metric_type::gauge,
                         {},
                         {},
                         true});
  std::vector<std::vector<std::string>> by_shard;
  for (uint32_t i = 0; i < shards; ++i) by_shard.push_back({std::to_string(i)});
  _shard_requests = _reg.add({"ringgate_shard_requests_total",
                              "Requests answered, by the shard that served them.",
                              observe::metric_type::counter, {"shard"}, by_shard, true});

  _overhead = _reg.add({"ringgate_gateway_overhead_seconds",
                        "Time inside ringgate per request, excluding the upstream: the request's "
                        "duration minus the time from acquiring the upstream connection to the "
                        "end of the relay.",
                        observe::metric_type::histogram, {"endpoint"}, dur_series});

  std::vector<std::vector<std::string>> by_provider;
  for (const auto& p : providers) by_provider.push_back({p.name});
  _providers = uint32_t(providers.size());
  _upstream_ttfb = _reg.add({"ringgate_upstream_ttfb_seconds",
                             "Upstream time to first byte: request sent to response head.",
                             observe::metric_type::histogram, {"provider"}, by_provider});
  _upstream_duration = _reg.add({"ringgate_upstream_duration_seconds",
                                 "Upstream connection acquired to the end of the relayed answer.",
                                 observe::metric_type::histogram, {"provider"}, by_provider});
  _stream_ttft = _reg.add({"ringgate_stream_ttft_seconds",
                           "Streams: time from the request to the first chunk carrying content.",
                           observe::metric_type::histogram, {"provider"}, by_provider});
  _stream_gap = _reg.add({"ringgate_stream_chunk_gap_seconds",
                          "Streams: time between consecutive chunks relayed (0 when they "
                          "arrived together).",
                          observe::metric_type::histogram, {"provider"}, by_provider});
  _stream_chunks = _reg.add({"ringgate_stream_chunks_total",
                             "Streamed chunks relayed to clients (SSE data events, [DONE] "
                             "excluded).",
                             observe::metric_type::counter, {"provider"}, by_provider, true});
  _stream_bytes = _reg.add({"ringgate_stream_bytes_total",
                            "Streamed body bytes relayed to clients (events, without the HTTP "
                            "chunk framing).",
                            observe::metric_type::counter, {"provider"}, by_provider, true});
  observe::family_options pool{"ringgate_upstream_connections",
                               "Upstream pool connections by provider and state (idle: kept "
                               "alive in the pool; active: carrying a request).",
                               observe::metric_type::gauge,
                               {"provider", "state"},
                               {},
                               true};
  for (const auto& p : providers) {
    pool.series.push_back({p.name, "idle"});
    pool.series.push_back({p.name, "active"});
  }
  _pool_connections = _reg.add(std::move(pool));
  _pool_connects = _reg.add({"ringgate_upstream_connects_total",
                             "New upstream connections opened (attempts, failed ones included).",
                             observe::metric_type::counter, {"provider"}, by_provider, true});
  observe::family_options errs{"ringgate_upstream_errors_total",
                               "Upstream failures by provider and kind.",
                               observe::metric_type::counter,
                               {"provider", "kind"},
                               {}};
  for (const auto& p : providers) {
    for (auto k : upstream_error_kinds) errs.series.push_back({p.name, std::string(k)});
  }
  _upstream_errors = _reg.add(std::move(errs));

  observe::family_options tokens{"ringgate_tokens_total",
                                 "Tokens reported by the upstream, by model, provider and "
                                 "direction (in = prompt, out = completion).",
                                 observe::metric_type::counter,
                                 {"model", "provider", "direction"},
                                 {}};
  observe::family_options cost{"ringgate_cost_usd_total",
                               "Cost in US dollars at the configured prices, by model and provider.",
                               observe::metric_type::counter,
                               {"model", "provider"},
                               {}};
  cost.scale = 1e-9;  // cells count nano-dollars
  for (uint32_t s = 0; s < _slots; ++s) {
    tokens.series.push_back({slot_labels[s].first, slot_labels[s].second, "in"});
    tokens.series.push_back({slot_labels[s].first, slot_labels[s].second, "out"});
    cost.series.push_back({slot_labels[s].first, slot_labels[s].second});
  }
  _tokens = _reg.add(std::move(tokens));
  _cost = _reg.add(std::move(cost));
  _resilience.add(_reg, routes);  // retries, fallbacks, circuits, hedges, bulkheads, health
  add_key_families(keys);         // governance (metrics_keys.cpp)

  _stream_relay = _reg.add({"ringgate_stream_relay_bytes_total",
                            "Upstream stream bytes relayed, by path: zero_copy (sent to the "
                            "client from the receive buffers) or copied (read with a response "
                            "head that spanned receive buffers, or decrypted from an https "
                            "upstream).",
                            observe::metric_type::counter,
                            {"path"},
                            {{"zero_copy"}, {"copied"}},
                            true});

  // Figures kept elsewhere, read at scrape time.
  _reg.add_hook([&data](std::string& out) {
    httpd::server_counters c = data.counters();
    auto counter = [&out](std::string_view name, std::string_view help, uint64_t v) {
      gauge_line(out, name, help, "counter", double(v));
    };
    counter("ringgate_connections_accepted_total", "Client connections accepted.",
            c.connections_accepted);
    counter("ringgate_connections_closed_total", "Client connections closed.",
            c.connections_closed);
    counter("ringgate_connections_shed_total",
            "Client connections closed at once because the shard was at its connection limit.",
            c.connections_shed);
    observe::append_help_type(out, "ringgate_limit_hits_total",
                              "Requests refused by a server limit, by status.", "counter");
    const std::pair<std::string_view, uint64_t> limits[] = {
        {"408", c.limit_408}, {"413", c.limit_413}, {"414", c.limit_414}, {"431", c.limit_431}};
    for (const auto& [code, v] : limits) {
      out += "ringgate_limit_hits_total{code=\"";
      out += code;
      out += "\"} ";
      observe::append_value(out, double(v));
      out += '\n';
    }
    counter("ringgate_bad_requests_total", "Malformed requests refused (400 and similar).",
            c.bad_requests);
    auto stats = data.loop_figures();
    observe::append_help_type(out, "ringgate_loop_turns_total", "Event loop turns, by shard.",
                              "counter");
    for (size_t i = 0; i < stats.size(); ++i) {
      out += "ringgate_loop_turns_total{shard=\"" + std::to_string(i) + "\"} ";
      observe::append_value(out, double(stats[i].first));
      out += '\n';
    }
    observe::append_help_type(out, "ringgate_loop_completions_total",
                              "io_uring completions handled, by shard (divide by turns for "
                              "completions per turn).",
                              "counter");
    for (size_t i = 0; i < stats.size(); ++i) {
      out += "ringgate_loop_completions_total{shard=\"" + std::to_string(i) + "\"} ";
      observe::append_value(out, double(stats[i].second));
      out += '\n';
    }
    counter("ringgate_log_lines_dropped_total", "Log lines dropped because the log queue was full.",
            log::dropped());
    counter("ringgate_access_log_lines_dropped_total",
            "Access log lines dropped because the log queue was full.", log::access_dropped());
    gauge_line(out, "ringgate_process_resident_memory_bytes", "Resident set size.", "gauge",
               double(rss_bytes()));
    gauge_line(out, "ringgate_process_open_fds", "Open file descriptors.", "gauge",
               double(open_fds()));
    gauge_line(out, "ringgate_process_start_time_seconds",
               "Start time of the process since the Unix epoch.", "gauge", wall_start_s());
    observe::append_help_type(out, "ringgate_build_info", "Version of this build.", "gauge");
    out += "ringgate_build_info{version=\"" RINGGATE_VERSION "\"} 1\n";
  });

  add_tls_families(data);
  for (uint32_t i = 0; i < shards; ++i) _blocks.push_back(_reg.make_block());
}

uint32_t gateway_metrics::model_slot(const resolved_model& r) const noexcept {
  if (!r.provider) return 0;
  if (r.model) return 1 + uint32_t(r.model - _routes.models().data());
  return 1 + uint32_t(_routes.models().size()) + uint32_t(r.provider - _routes.providers().data());
}

void gateway_metrics::end(uint32_t shard, const exchange_note& n, uint16_t status,
                          uint64_t duration_ns) noexcept {
  observe::shard_block& b = *_blocks[shard];
  b.sub(_in_flight, 0);
  uint32_t e = uint32_t(n.ep);
  uint32_t slot = n.model_slot < _slots ? n.model_slot : 0;
  b.add(_requests, (e * _slots + slot) * class_count + status_class(status));
  b.add(_shard_requests, shard);
  b.observe_ns(_duration, e, duration_ns);
  b.observe_ns(_overhead, e, duration_ns > n.upstream_ns ? duration_ns - n.upstream_ns : 0);
  count_key(b, n);  // governance (metrics_keys.cpp)
  if (slot == 0) return;  // nothing was routed
  // The provider that answered (a model's pool may span several), else the model's own.
  uint32_t p = n.provider_index < _providers ? n.provider_index : provider_of_slot(slot);
  if (n.upstream_ttfb_ns) b.observe_ns(_upstream_ttfb, p, n.upstream_ttfb_ns);
  if (n.upstream_ns) b.observe_ns(_upstream_duration, p, n.upstream_ns);
  int kind = -1;
  for (uint32_t k = 0; k < error_kind_count && !n.error.empty(); ++k) {  // most requests: none
    if (n.error == upstream_error_kinds[k]) kind = int(k);
  }
  if (kind < 0 && n.upstream_status >= 500) kind = int(error_kind_count - 1);
  if (kind >= 0) b.add(_upstream_errors, p * error_kind_count + uint32_t(kind));
  if (n.usage_known) {
    b.add(_tokens, slot * 2, uint64_t(n.tokens_in));
    b.add(_tokens, slot * 2 + 1, uint64_t(n.tokens_out));
    double usd = cost_usd(n);
    if (usd > 0) b.add(_cost, slot, uint64_t(usd * 1e9 + 0.5));
  }
}

uint32_t gateway_metrics::provider_of_slot(uint32_t slot) const noexcept {
  const auto& models = _routes.models();
  if (slot >= 1 && slot <= models.size()) return models[slot - 1].provider;
  return slot - 1 - uint32_t(models.size());
}

void gateway_metrics::pool_state(uint32_t shard, uint32_t provider, uint32_t idle,
                                 uint32_t active, uint64_t connects) noexcept {
  observe::shard_block& b = *_blocks[shard];
  b.set(_pool_connections, provider * 2, idle);
  b.set(_pool_connections, provider * 2 + 1, active);
  b.set(_pool_connects, provider, connects);
}

gateway_metrics::pool_figures gateway_metrics::pool_totals(uint32_t provider) const noexcept {
  pool_figures f;
  for (const auto& b : _blocks) {
    f.idle += b->value(_pool_connections, provider * 2);
    f.active += b->value(_pool_connections, provider * 2 + 1);
    f.connects += b->value(_pool_connects, provider);
  }
  return f;
}

std::string gateway_metrics::expose() const {
  std::vector<const observe::shard_block*> blocks;
  for (const auto& b : _blocks) blocks.push_back(b.get());
  std::string out;
  out.reserve(16384);
  _reg.expose(blocks, out);
  return out;
}

// ---- TLS: upstream handshakes per provider (counted by each shard's pools into its block) and
// the inbound listener's handshakes (read from the server's counters at scrape time). Reasons are
// tls::label() names, a fixed table.

namespace {
constexpr uint32_t tls_reasons = uint32_t(tls::failure::count) - 1;  // every reason but `none`
}

void gateway_metrics::add_tls_families(const httpd::http_server& data) {
  std::vector<std::vector<std::string>> by_provider, by_reason;
  for (const auto& p : _routes.providers()) {
    by_provider.push_back({p.name});
    for (uint32_t r = 1; r <= tls_reasons; ++r) {
      by_reason.push_back({p.name, std::string(tls::label(tls::failure(r)))});
    }
  }
  _up_tls_handshakes = _reg.add({"ringgate_upstream_tls_handshakes_total",
                                 "Completed TLS handshakes with an https provider (each a new "
                                 "connection).",
                                 observe::metric_type::counter, {"provider"}, by_provider});
  _up_tls_resumed = _reg.add({"ringgate_upstream_tls_resumed_total",
                              "Of those, handshakes that resumed an earlier session (no full "
                              "handshake).",
                              observe::metric_type::counter, {"provider"}, by_provider});
  _up_tls_failures = _reg.add({"ringgate_upstream_tls_failures_total",
                               "Failed TLS handshakes with an https provider, by reason (the "
                               "request was not sent).",
                               observe::metric_type::counter, {"provider", "reason"}, by_reason});
  if (data.cfg().tls_cert.empty()) return;
  _reg.add_hook([&data](std::string& out) {
    httpd::server_counters c = data.counters();
    gauge_line(out, "ringgate_inbound_tls_handshakes_total",
               "Completed TLS handshakes on the data listener.", "counter",
               double(c.tls_handshakes));
    gauge_line(out, "ringgate_inbound_tls_resumed_total",
               "Of those, handshakes that resumed a session (ticket): no full handshake.",
               "counter", double(c.tls_resumed));
    observe::append_help_type(out, "ringgate_inbound_tls_failures_total",
                              "Failed TLS handshakes on the data listener, by reason.", "counter");
    // The reasons a server can meet (it asks for no client certificate).
    for (tls::failure r : {tls::failure::protocol_version, tls::failure::handshake,
                           tls::failure::closed, tls::failure::timeout}) {
      out += "ringgate_inbound_tls_failures_total{reason=\"";
      out += tls::label(r);
      out += "\"} ";
      observe::append_value(out, double(c.tls_failures_by[size_t(r)]));
      out += '\n';
    }
  });
}

void gateway_metrics::tls_handshake(uint32_t shard, uint32_t provider, bool resumed) noexcept {
  _blocks[shard]->add(_up_tls_handshakes, provider);
  if (resumed) _blocks[shard]->add(_up_tls_resumed, provider);
}

void gateway_metrics::tls_failure(uint32_t shard, uint32_t provider, tls::failure why) noexcept {
  if (why == tls::failure::none || why >= tls::failure::count) return;
  _blocks[shard]->add(_up_tls_failures, provider * tls_reasons + uint32_t(why) - 1);
}

}  // namespace rg::gateway
