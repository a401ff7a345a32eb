// Wires the configuration to the routing table and the data listener (see gateway.hpp).
#include <ringgate/gateway/gateway.hpp>

#include "handler.hpp"
#include "routes.hpp"

namespace rg::gateway {

gateway::gateway(config::config cfg)
    : _cfg(std::make_unique<const config::config>(std::move(cfg))),
      _data(_cfg->server, [this](runtime::shard& s, uint32_t) {
        return std::unique_ptr<httpd::handler>(std::make_unique<shard_handler>(s, *_cfg, *_routes));
      }) {}

gateway::~gateway() = default;

std::expected<void, std::string> gateway::start() {
  auto routes = route_table::build(*_cfg);
  if (!routes) return std::unexpected(routes.error());
  _routes = std::move(*routes);
  return _data.start();
}

void gateway::refresh_dns() {
  if (_routes) _routes->refresh_dns();
}

}  // namespace rg::gateway
