// Wires the configuration to the data listener's HTTP server (see gateway.hpp).
#include <ringgate/gateway/gateway.hpp>

#include "handler.hpp"

namespace rg::gateway {

gateway::gateway(config::config cfg)
    : _cfg(std::make_unique<const config::config>(std::move(cfg))),
      _data(_cfg->server, [c = _cfg.get()](runtime::shard&, uint32_t) {
        return std::unique_ptr<httpd::handler>(std::make_unique<shard_handler>(*c));
      }) {}

gateway::~gateway() = default;

}  // namespace rg::gateway
