// Wires the configuration to the routing table, the metrics, the data listener and the admin
// listener (see gateway.hpp).
#include <ringgate/gateway/gateway.hpp>

#include <ctime>

#include <ringgate/governance/governor.hpp>
#include <ringgate/runtime/log.hpp>

#include "admin.hpp"
#include "handler.hpp"
#include "metrics.hpp"
#include "routes.hpp"

namespace rg::gateway {
namespace {

int64_t unix_seconds() noexcept { return int64_t(::time(nullptr)); }

// Keys, per-key pools and budgets; with [usage] file, the ledger: spend restored from it and its
// writer started (so rows queued from the first request on are written).
std::expected<std::unique_ptr<governance::governance>, std::string> start_governance(
    const config::config& cfg, const route_table& routes, uint32_t shards) {
  auto gov = std::make_unique<governance::governance>(governance::key_table::build(cfg.keys),
                                                      shards, cfg.auth.required, unix_seconds());
  if (cfg.auth.required && cfg.keys.empty() && !cfg.providers.empty()) {
    log::warn("auth.required is on but no [[keys]] are configured: every proxied request will "
              "be refused (401); add a key, or set [auth] required = false on a trusted network");
  }
  if (!cfg.auth.required) {
    log::warn("auth.required = false: requests without a known key are served anonymously");
  }
  if (cfg.usage.file.empty()) {
    for (const auto& k : cfg.keys) {
      if (k.budget_usd > 0) {
        log::warn("key has a budget but [usage] file is not set: spend starts at 0 on every "
                  "restart",
                  {{"key", k.name}});
      }
    }
    return gov;
  }
  auto db = governance::ledger::open(cfg.usage.file, governance::ledger::access::read_write);
  if (!db) return std::unexpected("usage.file: " + db.error());
  if (auto r = gov->restore(**db, unix_seconds()); !r) {
    return std::unexpected("usage.file: " + cfg.usage.file + ": " + r.error());
  }
  governance::ledger_names names;
  for (const auto& k : cfg.keys) names.keys.push_back(k.name);
  for (const auto& p : routes.providers()) names.providers.push_back(p.name);
  governance::ledger_writer::options opts;
  opts.shards = shards;
  opts.queue_rows = cfg.usage.queue_rows;
  opts.flush_interval_ms = cfg.usage.flush_interval_ms;
  auto writer = std::make_unique<governance::ledger_writer>(std::move(*db), std::move(names), opts);
  writer->start();
  gov->attach_writer(std::move(writer));
  return gov;
}

}  // namespace

gateway::gateway(config::config cfg)
    : _cfg(std::make_unique<const config::config>(std::move(cfg))),
      _data(_cfg->server, [this](runtime::shard& s, uint32_t) {
        std::unique_ptr<admin_handler> admin;
        if (_cfg->admin.expose_on_data) {
          admin = std::make_unique<admin_handler>(_metrics.get(), *_cfg, *_routes);
        }
        return std::unique_ptr<httpd::handler>(std::make_unique<shard_handler>(
            s, *_cfg, *_routes, _metrics.get(), std::move(admin), *_governance, _shard_count));
      }) {}

gateway::~gateway() {
  if (_admin) stop_admin();
  stop_ledger();
}

std::expected<void, std::string> gateway::start() {
  uint32_t shards =
      _cfg->server.shards ? _cfg->server.shards : uint32_t(httpd::affinity_cpus().size());
  _shard_count = shards;
  auto routes = route_table::build(*_cfg, shards);
  if (!routes) return std::unexpected(routes.error());
  _routes = std::move(*routes);
  if (auto gov = start_governance(*_cfg, *_routes, shards); !gov) {
    return std::unexpected(gov.error());
  } else {
    _governance = std::move(*gov);
  }
  // Metrics off: no blocks, no families; shards get a null gateway_metrics* and skip every
  // metric update.
  if (_cfg->admin.metrics) {
    _metrics = std::make_unique<gateway_metrics>(*_routes, _cfg->keys, shards, _data);
    if (auto* w = _governance->writer()) _metrics->watch_ledger(&w->counters());
  }
  if (auto started = _data.start(); !started) return started;
  if (_cfg->admin.listen == "off") return {};
  config::server_config a;
  a.listen = _cfg->admin.listen;
  a.shards = 1;
  a.drain_timeout_ms = 1000;
  _admin = std::make_unique<httpd::http_server>(a, [this](runtime::shard&, uint32_t) {
    return std::unique_ptr<httpd::handler>(
        std::make_unique<admin_handler>(_metrics.get(), *_cfg, *_routes));
  });
  if (auto started = _admin->start(); !started) {
    _admin.reset();
    _data.begin_drain();
    _data.wait();
    return std::unexpected("admin listener: " + started.error());
  }
  return {};
}

void gateway::stop_admin() {
  if (!_admin) return;
  _admin->begin_drain();
  _admin->wait();
  _admin.reset();
}

void gateway::tick_governance() {
  if (_governance) _governance->roll_periods(unix_seconds());
}

void gateway::stop_ledger() {
  if (_governance) _governance->stop_writer();
}

void gateway::refresh_dns() {
  if (_routes) _routes->refresh_dns();
}

}  // namespace rg::gateway
