// The gateway as the control thread sees it: the routing table (built and DNS-resolved here, off
// the shards), and the data listener's HTTP server with one request handler per shard.
#pragma once

#include <expected>
#include <memory>
#include <string>

#include <ringgate/config/config.hpp>
#include <ringgate/httpd/server.hpp>

namespace rg::gateway {

class route_table;

class gateway {
 public:
  explicit gateway(config::config cfg);
  gateway(const gateway&) = delete;
  gateway& operator=(const gateway&) = delete;
  ~gateway();

  // Builds the routing table (resolving provider hosts), then starts the shards.
  std::expected<void, std::string> start();
  httpd::http_server& data_server() noexcept { return _data; }
  const config::config& cfg() const noexcept { return *_cfg; }
  // Control thread, periodically: re-resolve provider hosts.
  void refresh_dns();

 private:
  std::unique_ptr<const config::config> _cfg;  // stable address: shards read it without locks
  std::unique_ptr<route_table> _routes;
  httpd::http_server _data;
};

}  // namespace rg::gateway
