// The gateway's configuration: loaded from one TOML file, ${ENV} interpolated, validated strictly
// (unknown keys rejected, every error names file:line and key). Plain data, immutable once loaded.
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rg::config {

enum class log_level : uint8_t { debug, info, warn, error };
enum class log_format : uint8_t { json, text };

struct server_limits {
  uint32_t connections_per_shard_max = 10000;   // excess accepted then closed, counted
  uint32_t request_line_bytes_max = 8 * 1024;   // → 414
  uint32_t head_bytes_max = 32 * 1024;          // → 431
  uint32_t headers_max = 100;                   // → 431
  uint64_t body_bytes_max = 8 * 1024 * 1024;    // → 413
  uint32_t requests_per_connection_max = 10000; // then Connection: close (0 = unlimited)
};

struct server_timeouts {
  uint32_t header_read_ms = 10000;    // head deadline; first request from accept (slowloris) → 408 + close
  uint32_t body_read_ms = 60000;      // whole body must arrive within this → 408 + close
  uint32_t keepalive_idle_ms = 75000; // idle keep-alive connection closed after this
  uint32_t send_ms = 30000;           // a client that stops reading is closed after this
};

struct server_config {
  std::string listen = "127.0.0.1:8080";
  uint32_t shards = 0;  // 0 = one per CPU in the affinity mask
  uint32_t drain_timeout_ms = 30000;
  std::string tls_cert;  // inbound TLS (later issue); empty = plain
  std::string tls_key;
  server_limits limits;
  server_timeouts timeouts;
};

struct admin_config {
  std::string listen = "127.0.0.1:9090";
  bool expose_on_data = false;
  bool metrics = true;  // false: no metric work per request, /metrics answers 404
};

struct log_config {
  log_level level = log_level::info;
  log_format format = log_format::json;
  std::string access_file;  // empty = stdout
  bool access_log = true;
};

struct provider_tls {
  std::string ca_file;  // empty = system bundle
  bool insecure_skip_verify = false;
};

// Each shard's keep-alive pool for one provider endpoint (every figure is per shard).
struct provider_pool {
  uint32_t idle_max = 64;            // idle connections kept for reuse (0 = no keep-alive)
  uint32_t idle_timeout_ms = 30000;  // an idle connection is closed after this
  uint32_t connections_max = 1024;   // idle + in use + connecting; beyond it requests wait
};

// Circuit breaker per endpoint (see resilience/circuit.hpp).
struct circuit_config {
  uint32_t failures = 5;               // consecutive failures that open it (0 = not this rule)
  uint32_t failure_rate_percent = 50;  // share of failures in the window that opens it (0 = off)
  uint32_t min_requests = 20;          // the share counts only from this many requests
  uint32_t window_ms = 10000;
  uint32_t cooldown_ms = 30000;        // open → half-open
  uint32_t half_open_probes = 1;       // concurrent trial requests while half-open
};

// Active health checks per endpoint: GET `path` every interval_ms (off when path is empty).
struct health_check_config {
  std::string path;  // absolute, e.g. "/health" or "/v1/models"
  uint32_t interval_ms = 10000;
  uint32_t timeout_ms = 2000;
  uint32_t unhealthy_after = 2;  // consecutive failed checks
  uint32_t healthy_after = 1;    // consecutive passed checks
};

struct provider_config {
  std::string name;
  std::string kind;  // openai (anthropic | gemini | bedrock | azure: not supported yet)
  std::string base_url;
  // Several endpoints (replicas) of one provider, instead of base_url: same key, headers and
  // limits; each has its own connection pools, circuit breaker, health and in-flight count.
  std::vector<std::string> base_urls;
  std::string api_key;  // secret: never logged; redacted in /admin/config
  std::vector<std::pair<std::string, std::string>> headers;
  // Client headers forwarded to this provider besides the built-in allowlist (accept,
  // user-agent, openai-beta); "x-mock-*" matches a prefix. Credentials can never be listed.
  std::vector<std::string> forward_headers;
  provider_tls tls;
  uint32_t max_concurrent = 256;              // in flight to all its endpoints, all shards
  uint32_t max_concurrent_per_endpoint = 0;   // 0 = only the provider-wide limit
  uint32_t queue_max = 0;                     // requests waiting for a slot, all shards (0 = none)
  uint32_t queue_timeout_ms = 1000;           // longest wait in that queue
  std::string on_full = "reject";             // reject (429 + Retry-After) | failover
  circuit_config circuit;
  health_check_config health_check;
  uint32_t connect_timeout_ms = 5000;
  uint32_t first_byte_timeout_ms = 60000;
  uint32_t idle_timeout_ms = 60000;
  uint32_t total_timeout_ms = 600000;
  provider_pool pool;
};

struct model_target {
  std::string provider;
  std::string model;
  uint32_t weight = 1;
};

struct model_price {
  double input_per_mtok = 0;
  double output_per_mtok = 0;
  double cached_input_per_mtok = -1;  // < 0: not given, cache hits cost the input price
  bool present = false;               // a price table was given (else the model is unpriced)

  double cached_input() const noexcept {
    return cached_input_per_mtok >= 0 ? cached_input_per_mtok : input_per_mtok;
  }
};

// Retries of one model's requests (see resilience/retry.hpp).
struct retry_config {
  uint32_t attempts = 3;              // per model, the first included (1 = no retry)
  uint32_t backoff_base_ms = 100;     // full jitter: uniform in [0, min(max, base * 2^n)]
  uint32_t backoff_max_ms = 2000;
  uint32_t max_retry_after_ms = 2000;  // longest Retry-After / retry-after-ms honoured
  uint32_t budget_ms = 30000;         // no attempt starts later than this into the request
  std::vector<uint32_t> statuses = {429, 500, 502, 503, 504, 529};
  bool on_timeout = false;            // also retry a first-byte timeout
};

struct model_config {
  std::string name;
  std::vector<model_target> targets;
  std::vector<std::string> fallbacks;
  model_price price;
  std::string balancer = "weighted";  // weighted | least_outstanding | p2c_ewma
  retry_config retry;
  uint32_t hedge_after_ms = 0;  // 0 = no hedging
  // Output tokens a request without max_tokens is assumed to use at admission (TPM charge and
  // budget reservation), until its actual usage settles it.
  uint32_t reserve_output_tokens = 4096;
};

struct key_config {
  std::string name;
  std::string sha256;  // lowercase hex of SHA-256(key)
  std::vector<std::string> models = {"*"};
  uint32_t rpm = 0;  // 0 = unlimited
  uint32_t tpm = 0;
  uint32_t max_concurrent = 0;
  double budget_usd = 0;  // 0 = none; at most 10,000,000
  std::string budget_period = "monthly";  // daily | monthly | total
  std::vector<std::string> tags;
};

// [auth]: whether every proxied request must present a virtual key.
struct auth_config {
  bool required = true;  // false: trusted network; requests without a known key are anonymous
};

// [usage]: the SQLite usage ledger (one row per admitted request; spend restored at start).
struct usage_config {
  std::string file;                   // empty = no ledger
  uint32_t flush_interval_ms = 1000;  // a batch is committed this often (kill -9 loses ≤ this)
  uint32_t queue_rows = 4096;         // per-shard queue of rows waiting for the writer
};

struct config {
  std::string source;  // file name it came from (for messages)
  server_config server;
  admin_config admin;
  log_config log;
  auth_config auth;
  usage_config usage;
  std::vector<provider_config> providers;
  std::vector<model_config> models;
  std::vector<key_config> keys;
};

// Looks an environment variable up; returns nullopt when unset. Injectable for tests.
using env_lookup = std::function<std::optional<std::string>(std::string_view)>;
env_lookup process_env();

// One line per problem, each "FILE:LINE: KEY: message". Loading stops at the first TOML syntax
// error but collects every validation error.
struct load_error {
  std::string message;
};

std::expected<config, load_error> load_file(const std::string& path, const env_lookup& env);
std::expected<config, load_error> load_string(std::string_view toml_text, std::string_view source_name,
                                              const env_lookup& env);

// Parses "host:port" (IPv4, [IPv6] or "localhost"); port 0 allowed (ephemeral).
struct listen_address {
  std::string host;
  uint16_t port = 0;
};
std::expected<listen_address, std::string> parse_listen(std::string_view text);

// True for a client request header that never travels upstream whatever `forward_headers` says
// (any case): framing and hop-by-hop headers, Expect and Upgrade, credentials and cookies, and the
// headers the gateway writes itself. The validator rejects forward_headers that name one; the
// gateway checks it before any configured rule, so a prefix rule cannot match one either.
bool never_forwarded(std::string_view header_name) noexcept;

std::optional<log_level> parse_log_level(std::string_view text);
std::optional<log_format> parse_log_format(std::string_view text);

}  // namespace rg::config
