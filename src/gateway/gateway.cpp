// Wires the configuration to the routing table, the metrics, the data listener and the admin
// listener (see gateway.hpp).
#include <ringgate/gateway/gateway.hpp>

#include "admin.hpp"
#include "handler.hpp"
#include "metrics.hpp"
#include "routes.hpp"

namespace rg::gateway {

gateway::gateway(config::config cfg)
    : _cfg(std::make_unique<const config::config>(std::move(cfg))),
      _data(_cfg->server, [this](runtime::shard& s, uint32_t) {
        std::unique_ptr<admin_handler> admin;
        if (_cfg->admin.expose_on_data) {
          admin = std::make_unique<admin_handler>(_metrics.get(), *_cfg, *_routes);
        }
        return std::unique_ptr<httpd::handler>(std::make_unique<shard_handler>(
            s, *_cfg, *_routes, _metrics.get(), std::move(admin), _shard_count));
      }) {}

gateway::~gateway() {
  if (_admin) stop_admin();
}

std::expected<void, std::string> gateway::start() {
  uint32_t shards =
      _cfg->server.shards ? _cfg->server.shards : uint32_t(httpd::affinity_cpus().size());
  _shard_count = shards;
  auto routes = route_table::build(*_cfg, shards);
  if (!routes) return std::unexpected(routes.error());
  _routes = std::move(*routes);
  // Metrics off: no blocks, no families; shards get a null gateway_metrics* and skip every
  // metric update.
  if (_cfg->admin.metrics) {
    _metrics = std::make_unique<gateway_metrics>(*_routes, _cfg->keys, shards, _data);
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

void gateway::refresh_dns() {
  if (_routes) _routes->refresh_dns();
}

}  // namespace rg::gateway
