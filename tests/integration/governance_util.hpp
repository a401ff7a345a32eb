// Helpers for the governance integration tests: a gateway config around one mockllm provider
// with virtual keys, keyed chat requests, the serving shard read from x-request-id, and the
// usage ledger read back through `ringgate usage`.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "harness.hpp"
#include "sse_util.hpp"

namespace rg::itest {

// Demo and test keys with their SHA-256 (printf %s KEY | sha256sum).
inline constexpr std::string_view demo_key = "sk-ringgate-demo";
inline constexpr std::string_view demo_sha =
    "3c5614dabcda33134033118cdf9d8c992d373dc5ea78d80de1b39f23309bf0fe";

// One [[keys]] entry; `extra` holds more lines ("rpm = 60\n").
inline std::string key_toml(std::string_view name, std::string_view sha256,
                            std::string_view extra = "") {
  return "[[keys]]\nname = \"" + std::string(name) + "\"\nsha256 = \"" + std::string(sha256) +
         "\"\n" + std::string(extra) + "\n";
}

// Provider "mock" (x-mock-* forwarded; `provider_extra` adds lines such as static headers) and
// models: mock-small (priced 1 USD per million input tokens, 2 per million output), alias-model,
// and free-model (price 0).
inline std::string gateway_toml(uint16_t mock_port, std::string_view keys,
                                std::string_view extra = "", std::string_view provider_extra = "") {
  return std::string(extra) + "\n[[providers]]\nname = \"mock\"\nkind = \"openai\"\n" +
         "base_url = \"http://127.0.0.1:" + std::to_string(mock_port) + "/v1\"\n" +
         "api_key = \"sk-upstream-governance\"\nforward_headers = [\"x-mock-*\"]\n" +
         std::string(provider_extra) +
         "\n[[models]]\nname = \"mock-small\"\n"
         "targets = [{ provider = \"mock\", model = \"mock-small\" }]\n"
         "price = { input_per_mtok = 1.0, output_per_mtok = 2.0 }\n"
         "\n[[models]]\nname = \"alias-model\"\n"
         "targets = [{ provider = \"mock\", model = \"mock-large\" }]\n"
         "price = { input_per_mtok = 1.0, output_per_mtok = 2.0 }\n\n" +
         std::string(keys);
}

inline std::string chat(std::string_view model = "mock-small", int max_tokens = -1,
                        bool stream = false) {
  std::string b = "{\"model\":\"" + std::string(model) + "\",";
  if (max_tokens >= 0) b += "\"max_tokens\":" + std::to_string(max_tokens) + ",";
  if (stream) b += "\"stream\":true,";
  return b + R"("messages":[{"role":"user","content":"hello"}]})";
}

inline std::string bearer(std::string_view key) {
  return "Authorization: Bearer " + std::string(key) + "\r\n";
}

inline std::optional<http_response> roundtrip(uint16_t port, const std::string& request,
                                              ms timeout = 10s) {
  client c;
  if (!c.connect(port) || !c.send(request)) return std::nullopt;
  return c.read_response(timeout);
}

inline std::optional<http_response> post_chat(uint16_t port, std::string_view headers,
                                              const std::string& body = chat()) {
  return roundtrip(port, post_request("/v1/chat/completions", body, headers));
}

// The shard that served a response, from the gateway's generated x-request-id (its second half
// starts with the shard id, see shard_handler::make_request_id); -1 when not generated.
inline int shard_of(const http_response& r) {
  std::string id = r.header("x-request-id");
  if (id.size() != 32) return -1;
  return std::stoi(id.substr(16, 4), nullptr, 16);
}

inline std::string mockllm_bin() {
  const char* bin = std::getenv("MOCKLLM_BIN");
  return bin ? bin : "";
}

// `ringgate usage --ledger FILE [args]`: stdout, or "" on failure (recorded).
inline std::string usage_report(const std::string& ledger, std::vector<std::string> args = {}) {
  std::vector<std::string> argv = {ringgate_bin(), "usage", "--ledger", ledger};
  argv.insert(argv.end(), args.begin(), args.end());
  run_result r = run_to_exit(argv, 20s);
  if (!r.exit_code || *r.exit_code != 0) {
    ADD_FAILURE() << "ringgate usage failed: " << r.err;
    return {};
  }
  return r.out;
}

// The request count on the report's "total" line, or -1.
inline long total_requests(const std::string& report) {
  size_t at = report.find("\ntotal ");
  if (at == std::string::npos) return -1;
  return std::strtol(report.c_str() + at + 7, nullptr, 10);
}

}  // namespace rg::itest
