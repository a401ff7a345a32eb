// The gateway as the control thread sees it: the data listener's HTTP server with one request
// handler per shard, plus the state shared by all shards. Later: admin listener, upstream pools.
#pragma once

#include <memory>

#include <ringgate/config/config.hpp>
#include <ringgate/httpd/server.hpp>

namespace rg::gateway {

class gateway {
 public:
  explicit gateway(config::config cfg);
  gateway(const gateway&) = delete;
  gateway& operator=(const gateway&) = delete;
  ~gateway();

  std::expected<void, std::string> start() { return _data.start(); }
  httpd::http_server& data_server() noexcept { return _data; }
  const config::config& cfg() const noexcept { return *_cfg; }

 private:
  std::unique_ptr<const config::config> _cfg;  // stable address: shards read it without locks
  httpd::http_server _data;
};

}  // namespace rg::gateway
