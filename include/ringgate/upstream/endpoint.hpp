// An upstream endpoint as every shard sees it: where to connect (resolved by the control thread,
// at load and periodically, never on a shard) and how to speak to it. The address is published
// through a seqlock so shards read it without locks while the control thread refreshes it.
#pragma once

#include <atomic>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

#include <ringgate/net/socket.hpp>

namespace rg::upstream {

struct endpoint_options {
  std::string provider;          // configured provider name (logs, metrics)
  std::string host;              // from base_url
  uint16_t port = 0;
  bool tls = false;
  std::string host_header;       // "host" or "host:port" as sent upstream
  std::string base_path;         // base_url's path without a trailing slash, e.g. "/v1"
  uint32_t connect_timeout_ms = 5000;
  uint32_t first_byte_timeout_ms = 60000;
  uint32_t idle_timeout_ms = 60000;
  uint32_t total_timeout_ms = 600000;
  uint32_t pool_idle_per_shard_max = 64;   // idle keep-alive connections kept per shard
  uint32_t pool_idle_timeout_ms = 30000;   // an idle pooled connection is closed after this
  uint32_t pool_connections_per_shard_max = 1024;  // idle + leased + connecting, per shard
};

// What a rate-limited warning about an endpoint is about: each topic has its own interval, so a
// burst of one kind never hides the other.
enum class log_topic : uint8_t { tls_failure, pool_exhausted, count };

// Splits "http://host:port/base" / "https://host/base". Errors as text.
std::expected<endpoint_options, std::string> parse_base_url(std::string_view url);

class endpoint {
 public:
  explicit endpoint(endpoint_options opts) noexcept : _opts(std::move(opts)) {}
  endpoint(const endpoint&) = delete;
  endpoint& operator=(const endpoint&) = delete;

  const endpoint_options& options() const noexcept { return _opts; }

  // Control thread: resolves host (getaddrinfo, blocking) and publishes the first address.
  std::expected<void, std::string> resolve();
  // Any thread: the current address (a consistent copy). False before the first resolve.
  bool address(net::address& out) const noexcept;
  // Any thread: true for at most one caller per `interval_ns` and topic (rate-limits warnings
  // about this endpoint across shards); `suppressed` gets how many calls were refused since the
  // last true.
  bool claim_log(log_topic topic, uint64_t now_ns, uint64_t interval_ns,
                 uint64_t& suppressed) const noexcept;

 private:
  void publish(const net::address& a) noexcept;

  endpoint_options _opts;
  mutable std::atomic<uint32_t> _seq{0};
  net::address _addr;
  std::atomic<bool> _resolved{false};
  mutable std::atomic<uint64_t> _log_ns[size_t(log_topic::count)] = {};
  mutable std::atomic<uint64_t> _log_suppressed[size_t(log_topic::count)] = {};
};

}  // namespace rg::upstream
