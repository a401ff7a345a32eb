// The admin endpoints: GET /metrics (Prometheus text format 0.0.4), GET /admin/providers (each
// provider's endpoint and its state as far as it is tracked), GET /admin/config (the running
// configuration, secrets redacted). Served on the admin listener, and on the data listener too
// when admin.expose_on_data is set. With metrics off ([admin] metrics = false) /metrics answers
// 404 and /admin/providers reports no pool figures (they live in the metric blocks).
#pragma once
#include <string>

#include <ringgate/config/config.hpp>
#include <ringgate/httpd/exchange.hpp>

namespace rg::gateway {

class gateway_metrics;
class route_table;

class admin_handler final : public httpd::handler {
 public:
  // `metrics` is null when metrics are off.
  admin_handler(const gateway_metrics* metrics, const config::config& cfg,
                const route_table& routes) noexcept
      : _metrics(metrics), _cfg(cfg), _routes(routes) {}
  runtime::task<void> handle(httpd::exchange& ex) override { return serve(ex, {}); }
  // Answers with `extra_headers` (complete lines, e.g. the data listener's x-request-id).
  runtime::task<void> serve(httpd::exchange& ex, std::string_view extra_headers);

 private:
  const gateway_metrics* _metrics;
  const config::config& _cfg;
  const route_table& _routes;
};

// The configuration as JSON with every secret (API keys, provider header values, key hashes)
// replaced by "[redacted]".
std::string redacted_config_json(const config::config& cfg);

}  // namespace rg::gateway
