// The gateway as the control thread sees it: the routing table (built and DNS-resolved here, off
// the shards), and the data listener's HTTP server with one request handler per shard.
#pragma once

#include <expected>
#include <memory>
#include <string>

#include <ringgate/config/config.hpp>
#include <ringgate/httpd/server.hpp>

namespace rg::governance {
class governance;
}

namespace rg::gateway {

class route_table;
class gateway_metrics;

class gateway {
 public:
  explicit gateway(config::config cfg);
  gateway(const gateway&) = delete;
  gateway& operator=(const gateway&) = delete;
  ~gateway();

  // Builds the routing table (resolving provider hosts) and the governance state (keys, limits,
  // budgets restored from the usage ledger, whose writer thread starts here), then starts the
  // data shards and the admin listener (unless admin.listen is "off").
  std::expected<void, std::string> start();
  httpd::http_server& data_server() noexcept { return _data; }
  // The admin listener, or null when it is off.
  httpd::http_server* admin_server() noexcept { return _admin.get(); }
  // Drains and joins the admin listener (after the data listener has stopped).
  void stop_admin();
  const config::config& cfg() const noexcept { return *_cfg; }
  // Control thread, periodically: re-resolve provider hosts.
  void refresh_dns();
  // Control thread, every loop turn: begin new budget periods (midnight, the 1st, UTC).
  void tick_governance();
  // After the data listener has stopped: flush the usage ledger and join its writer.
  void stop_ledger();

 private:
  std::unique_ptr<const config::config> _cfg;  // stable address: shards read it without locks
  std::unique_ptr<route_table> _routes;
  std::unique_ptr<governance::governance> _governance;
  std::unique_ptr<gateway_metrics> _metrics;
  uint32_t _shard_count = 1;
  httpd::http_server _data;
  std::unique_ptr<httpd::http_server> _admin;
};

}  // namespace rg::gateway
