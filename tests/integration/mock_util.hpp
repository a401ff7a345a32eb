// Helpers for the integration tests that put ringgate in front of tools/mockllm: starting the
// mock, one-shot exchanges on a fresh connection, /mock/stats fields, and metric samples from
// ringgate's admin listener. Every wait has a deadline.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "harness.hpp"
#include "sse_util.hpp"

namespace rg::itest {

// mockllm ($MOCKLLM_BIN) on an ephemeral port; `args` are extra flags.
inline std::unique_ptr<server> start_mock(uint32_t shards = 1, std::vector<std::string> args = {}) {
  server_options o;
  const char* bin = std::getenv("MOCKLLM_BIN");
  o.binary = bin ? bin : "";
  o.shards = shards;
  o.args = std::move(args);
  return server::start(o);
}

// One request on a fresh connection; nullopt when it could not be sent or no answer came.
inline std::optional<http_response> roundtrip(uint16_t port, const std::string& request,
                                              ms timeout = 10s) {
  client c;
  if (!c.connect(port) || !c.send(request)) return std::nullopt;
  return c.read_response(timeout);
}

// One keep-alive connection to mockllm's /mock/* endpoints: asking adds exactly one connection
// to the counts asked about (and none after a reset, which it precedes).
class mock_probe {
 public:
  explicit mock_probe(uint16_t port) : _port(port) {}

  std::unique_ptr<json_doc> stats() {
    auto r = ask(get_request("/mock/stats"));
    return r && r->status == 200 ? parse_json(r->body) : nullptr;
  }
  // A top-level number of /mock/stats; UINT64_MAX (and a test failure) when it is missing.
  uint64_t stat(const char* key) {
    auto s = stats();
    uint64_t v = 0;
    if (!s || s->root[key].get(v)) {
      ADD_FAILURE() << "no " << key << " in /mock/stats";
      return UINT64_MAX;
    }
    return v;
  }
  // Polls until `key` equals `want` or `timeout` passes; returns the last value seen.
  uint64_t wait_for(const char* key, uint64_t want, ms timeout = 5s) {
    auto give_up = steady::now() + timeout;
    uint64_t v = stat(key);
    while (v != want && v != UINT64_MAX && steady::now() < give_up) {
      std::this_thread::sleep_for(10ms);
      v = stat(key);
    }
    return v;
  }
  void reset() {
    auto r = ask(post_request("/mock/reset", ""));
    EXPECT_TRUE(r && r->status == 200) << "POST /mock/reset failed";
  }

 private:
  std::optional<http_response> ask(const std::string& request) {
    if (!_connected) _connected = _c.connect(_port);
    if (!_connected || !_c.send(request)) return std::nullopt;
    auto r = _c.read_response(10s);
    if (!r || r->connection_close()) {
      _c.close();
      _connected = false;
    }
    return r;
  }

  uint16_t _port;
  client _c;
  bool _connected = false;
};

// GET /metrics from ringgate's admin listener ("" when it fails).
inline std::string scrape(uint16_t admin_port) {
  auto r = http_get(admin_port, "/metrics");
  return r && r->status == 200 ? r->body : std::string();
}

// The value of the sample line `series` (exact text before the value), or -1 when absent.
inline double metric_sample(const std::string& text, const std::string& series) {
  size_t pos = 0;
  while ((pos = text.find(series + " ", pos)) != std::string::npos) {
    if (pos == 0 || text[pos - 1] == '\n') return std::stod(text.substr(pos + series.size() + 1));
    ++pos;
  }
  return -1;
}

}  // namespace rg::itest
