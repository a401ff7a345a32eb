// The gateway's request handler, one per shard: routes by path to the built-in endpoints.
#pragma once

#include <ringgate/config/config.hpp>
#include <ringgate/httpd/exchange.hpp>

namespace rg::gateway {

class shard_handler final : public httpd::handler {
 public:
  explicit shard_handler(const config::config& cfg) noexcept : _cfg(cfg) {}
  runtime::task<void> handle(httpd::exchange& ex) override;

 private:
  const config::config& _cfg;
};

}  // namespace rg::gateway
