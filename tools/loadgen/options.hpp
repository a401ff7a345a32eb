// loadgen's command line: what to send, how hard, for how long, and what to report.
#pragma once
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include <ringgate/net/socket.hpp>

namespace rg::loadgen {

struct target {
  std::string host;  // as written in the URL (Host header)
  uint16_t port = 80;
  std::string path = "/";  // path and query
  net::address addr;       // resolved at parse time (numeric, or getaddrinfo on the main thread)
};

struct options {
  target url;
  std::string method = "GET";
  std::vector<std::string> headers;  // "Name: value", validated
  std::string body;                  // --body FILE contents
  bool body_given = false;
  uint32_t connections = 8;
  uint32_t pipeline = 1;
  uint32_t threads = 0;   // 0 = one per CPU in the affinity mask (capped at connections)
  std::vector<int> cpus;  // pin thread i to cpus[i % size]; empty = no pinning
  double rate = 0;        // open loop: total requests per second; 0 = closed loop
  double duration_s = 0;  // measured phase; 0 with requests = until the count is done
  uint64_t requests = 0;  // total measured requests; 0 = bounded by duration only
  double warmup_s = 0;
  bool stream = false;
  uint16_t expect_status = 0;
  uint32_t timeout_ms = 30000;  // per request: from send to the last byte of the answer
  bool hold = false;            // one request per connection, then idle until the end
  bool json = false;
  bool help = false;
  bool version = false;
};

// Parses argv (without argv[0]). Errors name the flag: "--rate: expected a positive number".
std::expected<options, std::string> parse_options(const std::vector<std::string_view>& args);

// Parses "http://host[:port][/path]" and resolves the host. https is refused with a clear message.
std::expected<target, std::string> parse_url(std::string_view url);

extern const std::string_view usage_text;

}  // namespace rg::loadgen
