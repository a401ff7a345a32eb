// Helpers for the resilience integration tests: several mockllm instances on port 0 (each one
// shard, so its in-flight figures are exact), a ringgate whose configuration each test writes,
// faults armed on a mock for its next N requests (POST /mock/arm), and readers for /mock/stats,
// /admin/providers and /metrics. Waits poll with deadlines; nothing sleeps to assert.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "sse_util.hpp"

namespace rg::itest {

constexpr std::string_view chat_body =
    R"({"model":"MODEL","messages":[{"role":"user","content":"hello"}]})";

inline std::string chat(std::string_view model, std::string_view headers = "") {
  std::string body(chat_body);
  body.replace(body.find("MODEL"), 5, model);
  return post_request("/v1/chat/completions", body, headers);
}

inline std::string stream_chat(std::string_view model, std::string_view headers = "") {
  std::string body = R"({"model":")" + std::string(model) +
                     R"(","stream":true,"messages":[{"role":"user","content":"hello"}]})";
  return post_request("/v1/chat/completions", body, headers);
}

inline std::optional<http_response> roundtrip(uint16_t port, const std::string& request,
                                              ms timeout = 15s) {
  client c;
  if (!c.connect(port) || !c.send(request)) return std::nullopt;
  return c.read_response(timeout);
}

// A mockllm on an ephemeral port.
struct mock {
  std::unique_ptr<server> srv;
  uint16_t port() const { return srv->port(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port()) + "/v1"; }

  // The next `count` API requests get the faults in `headers` (x-mock-status, x-mock-fault, …).
  void arm(uint64_t count, std::string_view headers) const {
    auto r = roundtrip(port(), post_request("/mock/arm", "",
                                            "x-mock-arm-count: " + std::to_string(count) + "\r\n" +
                                                std::string(headers)));
    ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
  }
  void reset() const { roundtrip(port(), post_request("/mock/reset", "")); }
  std::unique_ptr<json_doc> stats() const {
    auto r = roundtrip(port(), get_request("/mock/stats"));
    return r ? parse_json(r->body) : nullptr;
  }
  uint64_t stat(const char* key) const {
    auto s = stats();
    uint64_t v = 0;
    if (!s || s->root[key].get(v)) ADD_FAILURE() << "no " << key << " in /mock/stats";
    return v;
  }
  // Chat completions this mock answered (health checks and other paths not counted).
  uint64_t chats() const {
    auto s = stats();
    uint64_t v = 0;
    if (!s || s->root["requests_by_path"]["/v1/chat/completions"].get(v)) return 0;
    return v;
  }
  // The last request's body as the mock received it.
  std::string last_body() const {
    auto s = stats();
    std::string_view b;
    if (!s || s->root["last_request"]["body"].get(b)) return "<none>";
    return std::string(b);
  }
};

inline mock start_mock(std::vector<std::string> args = {}) {
  server_options o;
  const char* bin = std::getenv("MOCKLLM_BIN");
  o.binary = bin ? bin : "";
  o.shards = 1;
  o.args = std::move(args);
  mock m{server::start(o)};
  return m;
}

// No [[keys]]: these tests are about the upstream side, so auth is off.
inline std::unique_ptr<server> start_gateway(const std::string& toml, uint32_t shards = 2) {
  server_options o;
  o.shards = shards;
  o.config_toml = "[auth]\nrequired = false\n\n" + toml;
  return server::start(o);
}

// A provider block for `urls` (one: base_url; several: base_urls) with `extra` lines.
inline std::string provider(std::string_view name, const std::vector<std::string>& urls,
                            std::string_view extra = "") {
  std::string out = "[[providers]]\nname = \"" + std::string(name) + "\"\nkind = \"openai\"\n";
  if (urls.size() == 1) {
    out += "base_url = \"" + urls[0] + "\"\n";
  } else {
    out += "base_urls = [";
    for (size_t i = 0; i < urls.size(); ++i) out += (i ? ", \"" : "\"") + urls[i] + "\"";
    out += "]\n";
  }
  out += "api_key = \"sk-test\"\nforward_headers = [\"x-mock-*\"]\nfirst_byte_timeout_ms = 10000\n";
  return out + std::string(extra) + "\n";
}

// Polls `pred` every 10 ms until it holds or `timeout` passes.
inline bool eventually(const std::function<bool()>& pred, ms timeout = 10s) {
  auto deadline = steady::now() + timeout;
  while (!pred()) {
    if (steady::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);  // polling interval, not an assertion
  }
  return true;
}

// /admin/providers: the circuit of endpoint `index` of provider `name` ("" when not found).
inline std::string endpoint_field(server& gw, std::string_view name, size_t index,
                                  const char* field) {
  auto r = roundtrip(gw.admin_port(), get_request("/admin/providers"));
  if (!r) return "";
  auto j = parse_json(r->body);
  if (!j) return "";
  simdjson::dom::array providers;
  if (j->root["providers"].get(providers)) return "";
  for (auto p : providers) {
    std::string_view n;
    if (p["name"].get(n) || n != name) continue;
    simdjson::dom::element e;
    if (p["endpoints"].at(index).get(e)) return "";
    simdjson::dom::element v;
    if (e[field].get(v)) return "";
    if (v.is_string()) return std::string(std::string_view(v));
    if (v.is_bool()) return bool(v) ? "true" : "false";
    return simdjson::to_string(v);
  }
  return "";
}

inline std::string circuit(server& gw, std::string_view provider_name, size_t index = 0) {
  return endpoint_field(gw, provider_name, index, "circuit");
}

// The value of one metric series in a /metrics scrape (-1 when absent).
inline double metric(server& gw, const std::string& series) {
  auto r = roundtrip(gw.admin_port(), get_request("/metrics"));
  if (!r) return -1;
  std::string_view body = r->body;
  size_t at = 0;
  while ((at = body.find(series, at)) != std::string_view::npos) {
    bool line_start = at == 0 || body[at - 1] == '\n';
    size_t after = at + series.size();
    if (line_start && after < body.size() && body[after] == ' ') {
      return std::stod(std::string(body.substr(after + 1, body.find('\n', after) - after - 1)));
    }
    at = after;
  }
  return -1;
}

inline std::string error_code(const http_response& r) {
  auto j = parse_json(r.body);
  std::string_view code;
  if (!j || j->root["error"]["code"].get(code)) return "<no error code>";
  return std::string(code);
}

}  // namespace rg::itest
