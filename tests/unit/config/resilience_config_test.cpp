// The resilience options of rg::config: defaults, every new key decoded, and the exact
// "file:line: key: message" text of each validation error (endpoints, limits, circuit, health
// checks, retries, hedging).
#include <ringgate/config/config.hpp>

#include <gtest/gtest.h>

#include <string>

namespace rg::config {
namespace {

env_lookup no_env() {
  return [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
}

std::expected<config, load_error> load(std::string_view text) {
  return load_string(text, "t.toml", no_env());
}

std::string error_of(std::string_view text) {
  auto r = load(text);
  EXPECT_FALSE(r.has_value()) << "expected an error for:\n" << text;
  return r ? std::string() : r.error().message;
}

config ok(std::string_view text) {
  auto r = load(text);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
  return r ? std::move(*r) : config{};
}

// Lines 1-4: a provider; line 5 onwards: what a test adds to it.
const std::string provider =
    "[[providers]]\nname = \"p\"\nkind = \"openai\"\nbase_url = \"http://h/v1\"\n";
// Lines 1-7: a provider and a model; line 8 onwards: what a test adds to the model.
const std::string model =
    provider + "[[models]]\nname = \"m\"\ntargets = [{ provider = \"p\", model = \"x\" }]\n";

TEST(ResilienceConfig, Defaults) {
  config c = ok(model);
  const provider_config& p = c.providers[0];
  EXPECT_TRUE(p.base_urls.empty());
  EXPECT_EQ(p.max_concurrent, 256u);
  EXPECT_EQ(p.max_concurrent_per_endpoint, 0u);
  EXPECT_EQ(p.queue_max, 0u);
  EXPECT_EQ(p.queue_timeout_ms, 1000u);
  EXPECT_EQ(p.on_full, "reject");
  EXPECT_EQ(p.circuit.failures, 5u);
  EXPECT_EQ(p.circuit.failure_rate_percent, 50u);
  EXPECT_EQ(p.circuit.min_requests, 20u);
  EXPECT_EQ(p.circuit.window_ms, 10000u);
  EXPECT_EQ(p.circuit.cooldown_ms, 30000u);
  EXPECT_EQ(p.circuit.half_open_probes, 1u);
  EXPECT_EQ(p.health_check.path, "");
  EXPECT_EQ(p.health_check.interval_ms, 10000u);
  EXPECT_EQ(p.health_check.timeout_ms, 2000u);
  EXPECT_EQ(p.health_check.unhealthy_after, 2u);
  EXPECT_EQ(p.health_check.healthy_after, 1u);
  const model_config& m = c.models[0];
  EXPECT_EQ(m.retry.attempts, 3u);
  EXPECT_EQ(m.retry.backoff_base_ms, 100u);
  EXPECT_EQ(m.retry.backoff_max_ms, 2000u);
  EXPECT_EQ(m.retry.max_retry_after_ms, 2000u);
  EXPECT_EQ(m.retry.budget_ms, 30000u);
  EXPECT_EQ(m.retry.statuses, (std::vector<uint32_t>{429, 500, 502, 503, 504, 529}));
  EXPECT_FALSE(m.retry.on_timeout);
  EXPECT_EQ(m.hedge_after_ms, 0u);
}

TEST(ResilienceConfig, EveryKeyDecodes) {
  config c =
      ok("[[providers]]\nname = \"p\"\nkind = \"openai\"\n"
         "base_urls = [\"http://a:1/v1\", \"https://b/v1\"]\n"
         "max_concurrent = 7\nmax_concurrent_per_endpoint = 3\nqueue_max = 50\n"
         "queue_timeout_ms = 250\non_full = \"failover\"\n"
         "circuit = { failures = 2, failure_rate_percent = 0, min_requests = 4, window_ms = 500, "
         "cooldown_ms = 100, half_open_probes = 2 }\n"
         "health_check = { path = \"/health\", interval_ms = 300, timeout_ms = 200, "
         "unhealthy_after = 3, healthy_after = 2 }\n"
         "[[models]]\nname = \"m\"\ntargets = [{ provider = \"p\", model = \"x\" }]\n"
         "retry = { attempts = 5, backoff_base_ms = 0, backoff_max_ms = 0, max_retry_after_ms = 0, "
         "budget_ms = 900, statuses = [408, 503], on_timeout = true }\nhedge_after_ms = 40\n");
  const provider_config& p = c.providers[0];
  EXPECT_EQ(p.base_urls, (std::vector<std::string>{"http://a:1/v1", "https://b/v1"}));
  EXPECT_EQ(p.max_concurrent, 7u);
  EXPECT_EQ(p.max_concurrent_per_endpoint, 3u);
  EXPECT_EQ(p.queue_max, 50u);
  EXPECT_EQ(p.queue_timeout_ms, 250u);
  EXPECT_EQ(p.on_full, "failover");
  EXPECT_EQ(p.circuit.failures, 2u);
  EXPECT_EQ(p.circuit.failure_rate_percent, 0u);
  EXPECT_EQ(p.circuit.min_requests, 4u);
  EXPECT_EQ(p.circuit.window_ms, 500u);
  EXPECT_EQ(p.circuit.cooldown_ms, 100u);
  EXPECT_EQ(p.circuit.half_open_probes, 2u);
  EXPECT_EQ(p.health_check.path, "/health");
  EXPECT_EQ(p.health_check.interval_ms, 300u);
  EXPECT_EQ(p.health_check.timeout_ms, 200u);
  EXPECT_EQ(p.health_check.unhealthy_after, 3u);
  EXPECT_EQ(p.health_check.healthy_after, 2u);
  const model_config& m = c.models[0];
  EXPECT_EQ(m.retry.attempts, 5u);
  EXPECT_EQ(m.retry.backoff_base_ms, 0u);
  EXPECT_EQ(m.retry.budget_ms, 900u);
  EXPECT_EQ(m.retry.statuses, (std::vector<uint32_t>{408, 503}));
  EXPECT_TRUE(m.retry.on_timeout);
  EXPECT_EQ(m.hedge_after_ms, 40u);
}

TEST(ResilienceConfig, Endpoints) {
  EXPECT_EQ(error_of(provider + "base_urls = [\"http://b/v1\"]\n"),
            "t.toml:5: providers[0].base_urls: set base_url or base_urls, not both");
  EXPECT_EQ(error_of("[[providers]]\nname = \"p\"\nkind = \"openai\"\nbase_urls = []\n"),
            "t.toml:4: providers[0].base_urls: needs at least one URL");
  EXPECT_EQ(error_of("[[providers]]\nname = \"p\"\nkind = \"openai\"\n"
                     "base_urls = [\"http://a/v1\", \"ftp://b\", \"http://a/v1\"]\n"),
            "t.toml:4: providers[0].base_urls[1]: must start with http:// or https://\n"
            "t.toml:4: providers[0].base_urls[2]: duplicate of base_urls[0]");
  EXPECT_EQ(error_of("[[providers]]\nname = \"p\"\nkind = \"openai\"\nbase_urls = \"http://a\"\n"),
            "t.toml:4: providers[0].base_urls: expected array of strings, got string");
  EXPECT_EQ(error_of("[[providers]]\nname = \"p\"\nkind = \"openai\"\n"),
            "t.toml:1: providers[0].base_url: required (http:// or https:// URL)");
}

TEST(ResilienceConfig, LimitsAndQueue) {
  EXPECT_EQ(error_of(provider + "on_full = \"drop\"\n"),
            "t.toml:5: providers[0].on_full: \"drop\" is not one of reject|failover");
  EXPECT_EQ(error_of(provider + "queue_timeout_ms = 0\n"),
            "t.toml:5: providers[0].queue_timeout_ms: must be > 0, got 0");
  EXPECT_EQ(error_of(provider + "max_concurrent = 0\n"),
            "t.toml:5: providers[0].max_concurrent: must be > 0, got 0");
  EXPECT_EQ(error_of(provider + "queue_max = -1\n"),
            "t.toml:5: providers[0].queue_max: must not be negative, got -1");
}

TEST(ResilienceConfig, Circuit) {
  EXPECT_EQ(error_of(provider + "circuit = { failure_rate_percent = 101 }\n"),
            "t.toml:5: providers[0].circuit.failure_rate_percent: must be <= 100, got 101");
  EXPECT_EQ(error_of(provider + "circuit = { half_open_probes = 0 }\n"),
            "t.toml:5: providers[0].circuit.half_open_probes: must be > 0, got 0");
  EXPECT_EQ(error_of(provider + "circuit = { half_open_probes = 1024 }\n"),
            "t.toml:5: providers[0].circuit.half_open_probes: must be <= 1023, got 1024");
  EXPECT_EQ(error_of(provider + "circuit = { cooldown_ms = 0 }\n"),
            "t.toml:5: providers[0].circuit.cooldown_ms: must be > 0, got 0");
  EXPECT_EQ(error_of(provider + "circuit = { consecutive = 3 }\n"),
            "t.toml:5: providers[0].circuit.consecutive: unknown key");
  EXPECT_EQ(error_of(provider + "circuit = 3\n"),
            "t.toml:5: providers[0].circuit: expected table, got integer");
  EXPECT_EQ(ok(provider + "circuit = { failures = 0, failure_rate_percent = 0 }\n")
                .providers[0]
                .circuit.failures,
            0u);
}

TEST(ResilienceConfig, HealthCheck) {
  EXPECT_EQ(error_of(provider + "health_check = { path = \"health\" }\n"),
            "t.toml:5: providers[0].health_check.path: must be an absolute path without spaces, "
            "e.g. \"/health\"");
  EXPECT_EQ(error_of(provider + "health_check = { path = \"/a b\" }\n"),
            "t.toml:5: providers[0].health_check.path: must be an absolute path without spaces, "
            "e.g. \"/health\"");
  EXPECT_EQ(error_of(provider +
                     "health_check = { path = \"/h\", interval_ms = 100, timeout_ms = 200 }\n"),
            "t.toml:5: providers[0].health_check.timeout_ms: must not exceed interval_ms");
  EXPECT_EQ(error_of(provider + "health_check = { unhealthy_after = 0 }\n"),
            "t.toml:5: providers[0].health_check.unhealthy_after: must be > 0, got 0");
  EXPECT_EQ(error_of(provider + "health_check = { every = 1 }\n"),
            "t.toml:5: providers[0].health_check.every: unknown key");
}

TEST(ResilienceConfig, Retry) {
  EXPECT_EQ(error_of(model + "retry = { attempts = 0 }\n"),
            "t.toml:8: models[0].retry.attempts: must be > 0, got 0");
  EXPECT_EQ(error_of(model + "retry = { attempts = 11 }\n"),
            "t.toml:8: models[0].retry.attempts: must be <= 10, got 11");
  EXPECT_EQ(error_of(model + "retry = { backoff_base_ms = 500, backoff_max_ms = 100 }\n"),
            "t.toml:8: models[0].retry.backoff_base_ms: must not exceed backoff_max_ms");
  EXPECT_EQ(error_of(model + "retry = { budget_ms = 0 }\n"),
            "t.toml:8: models[0].retry.budget_ms: must be > 0, got 0");
  for (int never : {400, 401, 403, 404, 413, 422, 200, 302}) {
    EXPECT_EQ(error_of(model + "retry = { statuses = [503, " + std::to_string(never) + "] }\n"),
              "t.toml:8: models[0].retry.statuses[1]: status " + std::to_string(never) +
                  " is never retried (allowed: 408, 429, 500..599)");
  }
  EXPECT_EQ(error_of(model + "retry = { statuses = [\"503\"] }\n"),
            "t.toml:8: models[0].retry.statuses[0]: expected integer, got string");
  EXPECT_EQ(error_of(model + "retry = { statuses = 503 }\n"),
            "t.toml:8: models[0].retry.statuses: expected array of integers, got integer");
  EXPECT_EQ(error_of(model + "retry = { on_timeout = 1 }\n"),
            "t.toml:8: models[0].retry.on_timeout: expected boolean, got integer");
  EXPECT_EQ(error_of(model + "retry = { tries = 2 }\n"),
            "t.toml:8: models[0].retry.tries: unknown key");
  EXPECT_EQ(error_of(model + "hedge_after_ms = -5\n"),
            "t.toml:8: models[0].hedge_after_ms: must not be negative, got -5");
  EXPECT_TRUE(ok(model + "retry = { statuses = [] }\n").models[0].retry.statuses.empty());
}

// The example documents each option with its default by setting it to the default: it must
// stay so (a changed default would otherwise leave the example lying).
TEST(ResilienceConfig, ShippedExampleIsValidAndShowsTheDefaults) {
  auto c = load_file(std::string(RINGGATE_SOURCE_ROOT) + "/config/ringgate.toml", no_env());
  ASSERT_TRUE(c) << c.error().message;
  const provider_config d;
  const provider_config& p = c->providers[0];
  EXPECT_EQ(p.max_concurrent, d.max_concurrent);
  EXPECT_EQ(p.max_concurrent_per_endpoint, d.max_concurrent_per_endpoint);
  EXPECT_EQ(p.queue_max, d.queue_max);
  EXPECT_EQ(p.queue_timeout_ms, d.queue_timeout_ms);
  EXPECT_EQ(p.on_full, d.on_full);
  EXPECT_EQ(p.circuit.failures, d.circuit.failures);
  EXPECT_EQ(p.circuit.failure_rate_percent, d.circuit.failure_rate_percent);
  EXPECT_EQ(p.circuit.min_requests, d.circuit.min_requests);
  EXPECT_EQ(p.circuit.window_ms, d.circuit.window_ms);
  EXPECT_EQ(p.circuit.cooldown_ms, d.circuit.cooldown_ms);
  EXPECT_EQ(p.circuit.half_open_probes, d.circuit.half_open_probes);
  EXPECT_EQ(p.health_check.path, d.health_check.path);
  EXPECT_EQ(p.health_check.interval_ms, d.health_check.interval_ms);
  EXPECT_EQ(p.health_check.timeout_ms, d.health_check.timeout_ms);
  EXPECT_EQ(p.health_check.unhealthy_after, d.health_check.unhealthy_after);
  EXPECT_EQ(p.health_check.healthy_after, d.health_check.healthy_after);
  const model_config dm;
  const model_config& m = c->models[0];
  EXPECT_EQ(m.balancer, dm.balancer);
  EXPECT_EQ(m.hedge_after_ms, dm.hedge_after_ms);
  EXPECT_EQ(m.fallbacks, dm.fallbacks);
  EXPECT_EQ(m.retry.attempts, dm.retry.attempts);
  EXPECT_EQ(m.retry.backoff_base_ms, dm.retry.backoff_base_ms);
  EXPECT_EQ(m.retry.backoff_max_ms, dm.retry.backoff_max_ms);
  EXPECT_EQ(m.retry.max_retry_after_ms, dm.retry.max_retry_after_ms);
  EXPECT_EQ(m.retry.budget_ms, dm.retry.budget_ms);
  EXPECT_EQ(m.retry.statuses, dm.retry.statuses);
  EXPECT_EQ(m.retry.on_timeout, dm.retry.on_timeout);
}

}  // namespace
}  // namespace rg::config
