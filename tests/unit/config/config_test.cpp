// Tests for rg::config: defaults, the shipped example file, ${ENV} interpolation, every validation
// message (exact "file:line: key: message" text), error collection and listen-address parsing.
#include <ringgate/config/config.hpp>

#include <gtest/gtest.h>
#include <stdlib.h>

#include <map>
#include <regex>
#include <string>

namespace rg::config {
namespace {

const std::string sha_a(64, 'a');
const std::string sha_b(64, 'b');

env_lookup env_of(std::map<std::string, std::string> vars = {}) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    if (auto it = vars.find(std::string(name)); it != vars.end()) return it->second;
    return std::nullopt;
  };
}

std::expected<config, load_error> load(std::string_view text, const env_lookup& env = env_of()) {
  return load_string(text, "t.toml", env);
}

// The error text of a load that must fail.
std::string error_of(std::string_view text, const env_lookup& env = env_of()) {
  auto r = load(text, env);
  EXPECT_FALSE(r.has_value()) << "expected an error for:\n" << text;
  return r ? std::string() : r.error().message;
}

config ok(std::string_view text, const env_lookup& env = env_of()) {
  auto r = load(text, env);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
  return r ? std::move(*r) : config{};
}

// A valid provider/model pair that tests extend.
const std::string base = R"([[providers]]
name = "p"
kind = "openai"
base_url = "http://127.0.0.1:1/v1"
[[models]]
name = "m"
targets = [{ provider = "p", model = "m" }]
)";

const std::string design_block = R"([server]
listen = "127.0.0.1:8080"
shards = 0
[admin]
listen = "127.0.0.1:9090"
[[providers]]
name = "mock"
kind = "openai"
base_url = "http://127.0.0.1:8081/v1"
api_key = "${MOCK_API_KEY:-mock-key}"
tls = { ca_file = "/etc/ssl/certs/ca-certificates.crt" }
max_concurrent = 256
[[models]]
name = "mock-small"
targets = [{ provider = "mock", model = "mock-small", weight = 1 }]
fallbacks = []
price = { input_per_mtok = 0.15, output_per_mtok = 0.60 }
[[keys]]
name = "team-a"
sha256 = "3c5614dabcda33134033118cdf9d8c992d373dc5ea78d80de1b39f23309bf0fe"
models = ["*"]
rpm = 600
tpm = 100000
max_concurrent = 32
budget_usd = 50.0
budget_period = "monthly"
)";

TEST(Config, EmptyFileGivesDefaults) {
  config c = ok("");
  EXPECT_EQ(c.source, "t.toml");
  EXPECT_EQ(c.server.listen, "127.0.0.1:8080");
  EXPECT_EQ(c.server.shards, 0u);
  EXPECT_EQ(c.server.drain_timeout_ms, 30000u);
  EXPECT_EQ(c.server.limits.connections_per_shard_max, 10000u);
  EXPECT_EQ(c.server.limits.request_line_bytes_max, 8192u);
  EXPECT_EQ(c.server.limits.head_bytes_max, 32768u);
  EXPECT_EQ(c.server.limits.headers_max, 100u);
  EXPECT_EQ(c.server.limits.body_bytes_max, 8u * 1024 * 1024);
  EXPECT_EQ(c.server.limits.requests_per_connection_max, 10000u);
  EXPECT_EQ(c.server.timeouts.header_read_ms, 10000u);
  EXPECT_EQ(c.server.timeouts.body_read_ms, 60000u);
  EXPECT_EQ(c.server.timeouts.keepalive_idle_ms, 75000u);
  EXPECT_EQ(c.server.timeouts.send_ms, 30000u);
  EXPECT_EQ(c.admin.listen, "127.0.0.1:9090");
  EXPECT_FALSE(c.admin.expose_on_data);
  EXPECT_TRUE(c.admin.metrics);
  EXPECT_EQ(c.log.level, log_level::info);
  EXPECT_EQ(c.log.format, log_format::json);
  EXPECT_TRUE(c.log.access_log);
  EXPECT_TRUE(c.providers.empty());
  EXPECT_TRUE(c.models.empty());
  EXPECT_TRUE(c.keys.empty());
}

TEST(Config, EntryDefaults) {
  config c = ok(base + "[[keys]]\nname = \"k\"\nsha256 = \"" + sha_a + "\"\n");
  ASSERT_EQ(c.providers.size(), 1u);
  const provider_config& p = c.providers[0];
  EXPECT_EQ(p.max_concurrent, 256u);
  EXPECT_EQ(p.connect_timeout_ms, 5000u);
  EXPECT_EQ(p.first_byte_timeout_ms, 60000u);
  EXPECT_EQ(p.idle_timeout_ms, 60000u);
  EXPECT_EQ(p.total_timeout_ms, 600000u);
  EXPECT_TRUE(p.tls.ca_file.empty());
  EXPECT_FALSE(p.tls.insecure_skip_verify);
  ASSERT_EQ(c.models.size(), 1u);
  EXPECT_EQ(c.models[0].balancer, "weighted");
  ASSERT_EQ(c.models[0].targets.size(), 1u);
  EXPECT_EQ(c.models[0].targets[0].weight, 1u);
  ASSERT_EQ(c.keys.size(), 1u);
  EXPECT_EQ(c.keys[0].models, std::vector<std::string>{"*"});
  EXPECT_EQ(c.keys[0].budget_period, "monthly");
  EXPECT_EQ(c.keys[0].rpm, 0u);
}

TEST(Config, DesignBlockLoads) {
  config c = ok(design_block);
  ASSERT_EQ(c.providers.size(), 1u);
  EXPECT_EQ(c.providers[0].api_key, "mock-key");
  EXPECT_EQ(c.providers[0].tls.ca_file, "/etc/ssl/certs/ca-certificates.crt");
  ASSERT_EQ(c.models.size(), 1u);
  EXPECT_DOUBLE_EQ(c.models[0].price.input_per_mtok, 0.15);
  EXPECT_DOUBLE_EQ(c.models[0].price.output_per_mtok, 0.60);
  EXPECT_TRUE(c.models[0].price.present);
  EXPECT_LT(c.models[0].price.cached_input_per_mtok, 0);  // not given: the input price
  EXPECT_DOUBLE_EQ(c.models[0].price.cached_input(), 0.15);
  ASSERT_EQ(c.keys.size(), 1u);
  EXPECT_EQ(c.keys[0].rpm, 600u);
  EXPECT_EQ(c.keys[0].tpm, 100000u);
  EXPECT_EQ(c.keys[0].max_concurrent, 32u);
  EXPECT_DOUBLE_EQ(c.keys[0].budget_usd, 50.0);
  config with_key = ok(design_block, env_of({{"MOCK_API_KEY", "sk-live"}}));
  EXPECT_EQ(with_key.providers[0].api_key, "sk-live");
}

TEST(Config, ExampleFileLoads) {
  const std::string path = std::string(RINGGATE_SOURCE_ROOT) + "/config/ringgate.toml";
  auto r = load_file(path, env_of());
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->source, path);
  EXPECT_EQ(r->server.listen, "127.0.0.1:8080");
  EXPECT_EQ(r->admin.listen, "127.0.0.1:9090");
  ASSERT_EQ(r->providers.size(), 1u);
  EXPECT_EQ(r->providers[0].name, "mock");
  EXPECT_EQ(r->providers[0].base_url, "http://127.0.0.1:8081/v1");
  EXPECT_EQ(r->providers[0].api_key, "mock-key");
  ASSERT_EQ(r->models.size(), 3u);
  EXPECT_EQ(r->models[0].name, "mock-small");
  EXPECT_EQ(r->models[1].name, "mock-large");
  EXPECT_EQ(r->models[2].name, "mock-embed");
  ASSERT_EQ(r->keys.size(), 1u);
  config defaults;
  // printf %s sk-ringgate-demo | sha256sum
  EXPECT_EQ(r->keys[0].sha256, "3c5614dabcda33134033118cdf9d8c992d373dc5ea78d80de1b39f23309bf0fe");
  EXPECT_TRUE(r->auth.required);  // the example keeps authentication on
  EXPECT_FALSE(r->usage.file.empty());
  EXPECT_EQ(r->usage.flush_interval_ms, defaults.usage.flush_interval_ms);
  EXPECT_EQ(r->usage.queue_rows, defaults.usage.queue_rows);
  EXPECT_EQ(r->models[0].reserve_output_tokens, model_config{}.reserve_output_tokens);
  // Every default written in the example equals the compiled-in default.
  EXPECT_EQ(r->server.drain_timeout_ms, defaults.server.drain_timeout_ms);
  EXPECT_EQ(r->server.limits.body_bytes_max, defaults.server.limits.body_bytes_max);
  EXPECT_EQ(r->server.limits.head_bytes_max, defaults.server.limits.head_bytes_max);
  EXPECT_EQ(r->server.timeouts.keepalive_idle_ms, defaults.server.timeouts.keepalive_idle_ms);
  EXPECT_EQ(r->log.level, defaults.log.level);
  EXPECT_EQ(r->log.format, defaults.log.format);
  EXPECT_EQ(r->providers[0].total_timeout_ms, provider_config{}.total_timeout_ms);
  EXPECT_EQ(r->providers[0].pool.idle_max, provider_pool{}.idle_max);
  EXPECT_EQ(r->providers[0].pool.idle_timeout_ms, provider_pool{}.idle_timeout_ms);
  EXPECT_EQ(r->providers[0].pool.connections_max, provider_pool{}.connections_max);
}

TEST(Config, MissingFile) {
  auto r = load_file("/nonexistent/ringgate.toml", env_of());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message,
            "/nonexistent/ringgate.toml: cannot read: No such file or directory");
  auto dir = load_file("/", env_of());
  ASSERT_FALSE(dir.has_value());
  EXPECT_EQ(dir.error().message, "/: cannot read: Is a directory");
}

TEST(Config, ProcessEnv) {
  ::setenv("RINGGATE_CONFIG_TEST_VAR", "value", 1);
  ::unsetenv("RINGGATE_CONFIG_TEST_UNSET");
  env_lookup env = process_env();
  EXPECT_EQ(env("RINGGATE_CONFIG_TEST_VAR"), "value");
  EXPECT_EQ(env("RINGGATE_CONFIG_TEST_UNSET"), std::nullopt);
}

// --- interpolation ---

std::string admin_listen(std::string_view value, const env_lookup& env) {
  auto r = load("[admin]\nlisten = \"" + std::string(value) + "\"\n", env);
  return r ? r->admin.listen : "ERROR: " + r.error().message;
}

// Loads a one-provider file whose api_key (line 5) is `value`; returns the key or the error.
std::string api_key(std::string_view value, const env_lookup& env = env_of()) {
  const std::string text =
      "[[providers]]\nname = \"p\"\nkind = \"openai\"\nbase_url = \"http://h\"\n"
      "api_key = \"" +
      std::string(value) + "\"\n";
  auto c = load(text, env);
  return c ? c->providers[0].api_key : "ERROR: " + c.error().message;
}

TEST(Interpolation, SetUnsetAndDefaults) {
  const env_lookup env = env_of({{"HOST", "10.0.0.1"}, {"PORT", "81"}, {"EMPTY", ""}});
  EXPECT_EQ(admin_listen("${HOST}:${PORT}", env), "10.0.0.1:81");
  EXPECT_EQ(admin_listen("${NOPE:-127.0.0.2}:${PORT}", env), "127.0.0.2:81");
  EXPECT_EQ(admin_listen("${HOST:-127.0.0.2}:1", env), "10.0.0.1:1");
  EXPECT_EQ(api_key("${EMPTY:-fallback}", env), "fallback");  // set but empty → default
  EXPECT_EQ(api_key("x${NOPE:-}y", env), "xy");               // empty default
  EXPECT_EQ(api_key("${EMPTY}", env), "");                    // set to empty, no default
  EXPECT_EQ(api_key("${NOPE}", env),
            "ERROR: t.toml:5: providers[0].api_key: environment variable NOPE is not set");
}

TEST(Interpolation, LiteralDollars) {
  const env_lookup env = env_of({{"X", "v"}});
  EXPECT_EQ(api_key("a$b", env), "a$b");
  EXPECT_EQ(api_key("cost$", env), "cost$");
  EXPECT_EQ(api_key("$$", env), "$$");
  EXPECT_EQ(api_key("$${X}", env), "$${X}");
  EXPECT_EQ(api_key("$$$${X}", env), "$$$${X}");
  EXPECT_EQ(api_key("$$${X}", env), "$$v");
  EXPECT_EQ(api_key("{X}", env), "{X}");
}

TEST(Interpolation, ValuesAreNotReExpanded) {
  EXPECT_EQ(api_key("${A}", env_of({{"A", "${B}"}, {"B", "no"}})), "${B}");
}

TEST(Interpolation, Errors) {
  EXPECT_EQ(api_key("abc${X"), "ERROR: t.toml:5: providers[0].api_key: unterminated ${");
  EXPECT_EQ(api_key("${}"),
            "ERROR: t.toml:5: providers[0].api_key: invalid variable reference \"${}\"");
  EXPECT_EQ(api_key("${1X}"),
            "ERROR: t.toml:5: providers[0].api_key: invalid variable reference \"${1X}\"");
  EXPECT_EQ(api_key("${X-d}"),
            "ERROR: t.toml:5: providers[0].api_key: invalid variable reference \"${X-d}\"");
}

TEST(Interpolation, EveryStringValue) {
  const env_lookup env = env_of({{"CA", "/ca.pem"},
                                 {"H", "hv"},
                                 {"M", "m"},
                                 {"T", "t1"},
                                 {"LVL", "debug"},
                                 {"P", "p"},
                                 {"URL", "https://x/v1"}});
  config c = ok(R"([log]
level = "${LVL}"
[[providers]]
name = "${P}"
kind = "openai"
base_url = "${URL}"
tls = { ca_file = "${CA}" }
headers = { X-Extra = "${H}" }
[[models]]
name = "${M}"
targets = [{ provider = "${P}", model = "up-${M}" }]
[[keys]]
name = "k"
sha256 = ")" + sha_a +
                    R"("
models = ["${M}"]
tags = ["${T}"]
)",
                env);
  EXPECT_EQ(c.log.level, log_level::debug);
  ASSERT_EQ(c.providers.size(), 1u);
  EXPECT_EQ(c.providers[0].name, "p");
  EXPECT_EQ(c.providers[0].base_url, "https://x/v1");
  EXPECT_EQ(c.providers[0].tls.ca_file, "/ca.pem");
  ASSERT_EQ(c.providers[0].headers.size(), 1u);
  EXPECT_EQ(c.providers[0].headers[0].first, "X-Extra");
  EXPECT_EQ(c.providers[0].headers[0].second, "hv");
  EXPECT_EQ(c.models[0].targets[0].model, "up-m");
  EXPECT_EQ(c.keys[0].models, std::vector<std::string>{"m"});
  EXPECT_EQ(c.keys[0].tags, std::vector<std::string>{"t1"});
}

// --- unknown keys, types, ranges ---

TEST(Validation, UnknownKeysEverywhere) {
  EXPECT_EQ(error_of("[server]\nlistn = \"127.0.0.1:1\"\n"), "t.toml:2: server.listn: unknown key");
  EXPECT_EQ(error_of("bogus = 1\n"), "t.toml:1: bogus: unknown key");
  EXPECT_EQ(error_of("[redis]\nx = 1\n"), "t.toml:1: redis: unknown key");
  EXPECT_EQ(error_of("[usage]\nx = 1\n"), "t.toml:2: usage.x: unknown key");
  EXPECT_EQ(error_of("[auth]\nrequire = true\n"), "t.toml:2: auth.require: unknown key");
  EXPECT_EQ(error_of("[server.limits]\nheaders = 1\n"),
            "t.toml:2: server.limits.headers: unknown key");
  EXPECT_EQ(error_of("[server.timeouts]\n\nread_ms = 1\n"),
            "t.toml:3: server.timeouts.read_ms: unknown key");
  EXPECT_EQ(error_of("[admin]\nport = 1\n"), "t.toml:2: admin.port: unknown key");
  EXPECT_EQ(error_of("[log]\nfile = \"x\"\n"), "t.toml:2: log.file: unknown key");
  EXPECT_EQ(error_of(base + "[[keys]]\nname = \"k\"\nsha256 = \"" + sha_a + "\"\nburst = 3\n"),
            "t.toml:11: keys[0].burst: unknown key");
  // Inside inline tables and array-of-tables entries.
  EXPECT_EQ(error_of(base + "price = { input = 1.0 }\n"),
            "t.toml:8: models[0].price.input: unknown key");
  EXPECT_EQ(
      error_of(
          base +
          "[[models]]\nname = \"m2\"\ntargets = [{ provider = \"p\", model = \"x\", w = 1 }]\n"),
      "t.toml:10: models[1].targets[0].w: unknown key");
  EXPECT_EQ(error_of("[[providers]]\nname = \"p\"\nkind = \"openai\"\nbase_url = \"http://h\"\n"
                     "tls = { cafile = \"x\" }\n"),
            "t.toml:5: providers[0].tls.cafile: unknown key");
  EXPECT_EQ(
      error_of(
          base +
          "[[providers]]\nname = \"q\"\nkind = \"openai\"\nbase_url = \"http://h\"\nkey = \"\"\n"),
      "t.toml:12: providers[1].key: unknown key");
}

TEST(Validation, WrongTypes) {
  EXPECT_EQ(error_of("[server]\nshards = \"4\"\n"),
            "t.toml:2: server.shards: expected integer, got string");
  EXPECT_EQ(error_of("[server]\nshards = 4.0\n"),
            "t.toml:2: server.shards: expected integer, got float");
  EXPECT_EQ(error_of("[server]\nlisten = 8080\n"),
            "t.toml:2: server.listen: expected string, got integer");
  EXPECT_EQ(error_of("server = 1\n"), "t.toml:1: server: expected table, got integer");
  EXPECT_EQ(error_of("[admin]\nexpose_on_data = \"yes\"\n"),
            "t.toml:2: admin.expose_on_data: expected boolean, got string");
  EXPECT_EQ(error_of("[admin]\nmetrics = 0\n"),
            "t.toml:2: admin.metrics: expected boolean, got integer");
  EXPECT_EQ(error_of("[providers]\nname = \"p\"\n"),
            "t.toml:1: providers: expected array of tables, got table");
  EXPECT_EQ(error_of("providers = [1]\n"), "t.toml:1: providers[0]: expected table, got integer");
  EXPECT_EQ(error_of(base + "fallbacks = \"m\"\n"),
            "t.toml:8: models[0].fallbacks: expected array of strings, got string");
  EXPECT_EQ(
      error_of(base + "[[keys]]\nname = \"k\"\nsha256 = \"" + sha_a + "\"\nmodels = [\"*\", 2]\n"),
      "t.toml:11: keys[0].models[1]: expected string, got integer");
  EXPECT_EQ(error_of(base + "price = { input_per_mtok = \"1\" }\n"),
            "t.toml:8: models[0].price.input_per_mtok: expected number, got string");
  EXPECT_EQ(error_of("[[providers]]\nname = \"p\"\nkind = \"openai\"\nbase_url = "
                     "\"http://h\"\nheaders = { A = 1 }\n"),
            "t.toml:5: providers[0].headers.A: expected string, got integer");
  EXPECT_EQ(error_of("[log]\naccess_log = 1\n"),
            "t.toml:2: log.access_log: expected boolean, got integer");
}

TEST(Validation, IntegerRanges) {
  EXPECT_EQ(error_of("[server]\nshards = -1\n"),
            "t.toml:2: server.shards: must not be negative, got -1");
  EXPECT_EQ(error_of("[server]\nshards = 1025\n"),
            "t.toml:2: server.shards: must be <= 1024, got 1025");
  EXPECT_EQ(ok("[server]\nshards = 1024\n").server.shards, 1024u);
  EXPECT_EQ(error_of("[server]\ndrain_timeout_ms = 0\n"),
            "t.toml:2: server.drain_timeout_ms: must be > 0, got 0");
  EXPECT_EQ(error_of("[server.timeouts]\nsend_ms = 0\n"),
            "t.toml:2: server.timeouts.send_ms: must be > 0, got 0");
  EXPECT_EQ(error_of("[server.limits]\nheaders_max = 4294967296\n"),
            "t.toml:2: server.limits.headers_max: out of range (max 4294967295), got 4294967296");
  EXPECT_EQ(ok("[server.limits]\nbody_bytes_max = 4294967296\n").server.limits.body_bytes_max,
            4294967296u);
  EXPECT_EQ(ok("[server.limits]\nrequests_per_connection_max = 0\n")
                .server.limits.requests_per_connection_max,
            0u);
  EXPECT_EQ(error_of("[[providers]]\nname = \"p\"\nkind = \"openai\"\nbase_url = "
                     "\"http://h\"\nidle_timeout_ms = 0\n"),
            "t.toml:5: providers[0].idle_timeout_ms: must be > 0, got 0");
  EXPECT_EQ(error_of(base + "[[keys]]\nname = \"k\"\nsha256 = \"" + sha_a + "\"\nrpm = -5\n"),
            "t.toml:11: keys[0].rpm: must not be negative, got -5");
  EXPECT_EQ(
      error_of(base + "[[keys]]\nname = \"k\"\nsha256 = \"" + sha_a + "\"\nbudget_usd = -1.5\n"),
      "t.toml:11: keys[0].budget_usd: must not be negative");
  EXPECT_EQ(error_of(base + "price = { output_per_mtok = nan }\n"),
            "t.toml:8: models[0].price.output_per_mtok: must be a finite number");
  EXPECT_DOUBLE_EQ(ok(base + "[[keys]]\nname = \"k\"\nsha256 = \"" + sha_a + "\"\nbudget_usd = 7\n")
                       .keys[0]
                       .budget_usd,
                   7.0);
}

// --- value checks ---

TEST(Validation, Enums) {
  EXPECT_EQ(error_of("[log]\nlevel = \"verbose\"\n"),
            "t.toml:2: log.level: \"verbose\" is not one of debug|info|warn|error");
  EXPECT_EQ(error_of("[log]\nformat = \"xml\"\n"),
            "t.toml:2: log.format: \"xml\" is not one of json|text");
  EXPECT_EQ(error_of("[[providers]]\nname = \"p\"\nkind = \"cohere\"\nbase_url = \"http://h\"\n"),
            "t.toml:3: providers[0].kind: \"cohere\" is not one of "
            "openai|anthropic|gemini|bedrock|azure");
  EXPECT_EQ(
      error_of(base + "balancer = \"random\"\n"),
      "t.toml:8: models[0].balancer: \"random\" is not one of weighted|least_outstanding|p2c_ewma");
  EXPECT_EQ(error_of(base + "[[keys]]\nname = \"k\"\nsha256 = \"" + sha_a +
                     "\"\nbudget_period = \"weekly\"\n"),
            "t.toml:11: keys[0].budget_period: \"weekly\" is not one of daily|monthly|total");
  EXPECT_EQ(ok("[[providers]]\nname = \"p\"\nkind = \"openai\"\nbase_url = \"https://h\"\n")
                .providers[0]
                .kind,
            "openai");
  for (const char* b : {"weighted", "least_outstanding", "p2c_ewma"}) {
    EXPECT_EQ(ok(base + "balancer = \"" + b + "\"\n").models[0].balancer, b);
  }
  config levels = ok("[log]\nlevel = \"error\"\nformat = \"text\"\n");
  EXPECT_EQ(levels.log.level, log_level::error);
  EXPECT_EQ(levels.log.format, log_format::text);
}

TEST(Validation, ListenAddresses) {
  EXPECT_EQ(error_of("[server]\nlisten = \"1.2.3:80\"\n"),
            "t.toml:2: server.listen: invalid host \"1.2.3\" (IPv4 address, [IPv6] or localhost)");
  EXPECT_EQ(error_of("[admin]\nlisten = \"127.0.0.1\"\n"),
            "t.toml:2: admin.listen: missing port (expected host:port)");
  EXPECT_EQ(error_of("[admin]\nlisten = \"127.0.0.1:8080\"\n"),
            "t.toml:2: admin.listen: same address as server.listen");
  EXPECT_EQ(ok("[server]\nlisten = \"[::1]:0\"\n[admin]\nlisten = \"localhost:0\"\n").server.listen,
            "[::1]:0");
}

TEST(Validation, ProviderFields) {
  EXPECT_EQ(error_of("[[providers]]\nname = \"p\"\nkind = \"openai\"\nbase_url = \"ftp://h\"\n"),
            "t.toml:4: providers[0].base_url: must start with http:// or https://");
  EXPECT_EQ(error_of("[[providers]]\nname = \"p\"\nkind = \"openai\"\nbase_url = \"https://\"\n"),
            "t.toml:4: providers[0].base_url: missing host");
  auto url = [](const char* u) {
    return error_of(std::string("[[providers]]\nname = \"p\"\nkind = \"openai\"\nbase_url = \"") +
                    u + "\"\n");
  };
  EXPECT_EQ(url("https://u:s3cret@api.example.com/v1"),
            "t.toml:4: providers[0].base_url: must not carry user:password@ (put the key in "
            "api_key or headers)");
  EXPECT_EQ(url("https://api.example.com/v1?key=s3cret"),
            "t.toml:4: providers[0].base_url: must not carry a query or fragment");
  EXPECT_EQ(url("https://api.example.com/v 1"),
            "t.toml:4: providers[0].base_url: space or control byte");
  EXPECT_EQ(error_of("[[providers]]\nkind = \"openai\"\nbase_url = \"http://h\"\n"),
            "t.toml:1: providers[0].name: required");
  EXPECT_EQ(error_of("[[providers]]\nname = \"p\"\nbase_url = \"http://h\"\n"),
            "t.toml:1: providers[0].kind: required (one of openai|anthropic|gemini|bedrock|azure)");
  EXPECT_EQ(error_of("[[providers]]\nname = \"p\"\nkind = \"openai\"\n"),
            "t.toml:1: providers[0].base_url: required (http:// or https:// URL)");
  EXPECT_EQ(error_of("[[providers]]\nname = \"p\"\nkind = \"openai\"\nbase_url = \"http://h\"\n"
                     "headers = { Content-Length = \"1\" }\n"),
            "t.toml:5: providers[0].headers.Content-Length: header is set by the gateway");
  EXPECT_EQ(error_of("[[providers]]\nname = \"p\"\nkind = \"openai\"\nbase_url = \"http://h\"\n"
                     "headers = { \"Bad Name\" = \"1\" }\n"),
            "t.toml:5: providers[0].headers.Bad Name: not a valid header name");
  EXPECT_EQ(error_of("[[providers]]\nname = \"p\"\nkind = \"openai\"\nbase_url = \"http://h\"\n"
                     "headers = { X-A = \"${V}\" }\n",
                     env_of({{"V", "a\r\nInjected: 1"}})),
            "t.toml:5: providers[0].headers.X-A: value must not contain CR, LF or NUL");
  EXPECT_EQ(error_of("[[providers]]\nname = \"p\"\nkind = \"openai\"\nbase_url = \"http://h\"\n"
                     "forward_headers = [\"Authorization\"]\n"),
            "t.toml:5: providers[0].forward_headers: \"Authorization\" may not be forwarded "
            "(credentials and framing stay behind)");
  EXPECT_EQ(error_of("[[providers]]\nname = \"p\"\nkind = \"openai\"\nbase_url = \"http://h\"\n"
                     "forward_headers = [\"*\"]\n"),
            "t.toml:5: providers[0].forward_headers: \"*\" is not a header name (a trailing * "
            "matches a prefix)");
}

TEST(Validation, ForwardHeadersAccepted) {
  auto cfg = rg::config::load_string(
      "[[providers]]\nname = \"p\"\nkind = \"openai\"\nbase_url = \"http://h\"\n"
      "forward_headers = [\"x-mock-*\", \"anthropic-beta\"]\n",
      "t.toml", env_of({}));
  ASSERT_TRUE(cfg.has_value()) << cfg.error().message;
  EXPECT_EQ(cfg->providers[0].forward_headers,
            (std::vector<std::string>{"x-mock-*", "anthropic-beta"}));
}

TEST(Validation, DuplicateNames) {
  EXPECT_EQ(
      error_of(base + "[[providers]]\nname = \"p\"\nkind = \"openai\"\nbase_url = \"http://h\"\n"),
      "t.toml:9: providers[1].name: duplicate provider name \"p\" (first defined at line 2)");
  EXPECT_EQ(error_of(base +
                     "[[models]]\nname = \"m\"\ntargets = [{ provider = \"p\", model = \"x\" }]\n"),
            "t.toml:9: models[1].name: duplicate model name \"m\" (first defined at line 6)");
  EXPECT_EQ(error_of(base + "[[keys]]\nname = \"k\"\nsha256 = \"" + sha_a +
                     "\"\n[[keys]]\nname = \"k\"\nsha256 = \"" + sha_b + "\"\n"),
            "t.toml:12: keys[1].name: duplicate key name \"k\" (first defined at line 9)");
  EXPECT_EQ(error_of(base + "[[keys]]\nname = \"k\"\nsha256 = \"" + sha_a +
                     "\"\n[[keys]]\nname = \"k2\"\nsha256 = \"" + sha_a + "\"\n"),
            "t.toml:13: keys[1].sha256: same sha256 as another key (line 10)");
}

TEST(Validation, References) {
  EXPECT_EQ(
      error_of(base +
               "[[models]]\nname = \"m2\"\ntargets = [{ provider = \"nope\", model = \"x\" }]\n"),
      "t.toml:10: models[1].targets[0].provider: unknown provider \"nope\"");
  EXPECT_EQ(error_of(base + "fallbacks = [\"m\"]\n"),
            "t.toml:8: models[0].fallbacks[0]: a model cannot fall back to itself");
  EXPECT_EQ(error_of(base + "fallbacks = [\"gone\"]\n"),
            "t.toml:8: models[0].fallbacks[0]: unknown model \"gone\"");
  // A fallback may name a model defined later in the file.
  config c = ok(base +
                "fallbacks = [\"m2\"]\n[[models]]\nname = \"m2\"\ntargets = [{ provider = \"p\", "
                "model = \"x\" }]\n");
  EXPECT_EQ(c.models[0].fallbacks, std::vector<std::string>{"m2"});
  EXPECT_EQ(error_of(base + "[[keys]]\nname = \"k\"\nsha256 = \"" + sha_a +
                     "\"\nmodels = [\"m\", \"gpt\"]\n"),
            "t.toml:11: keys[0].models[1]: unknown model \"gpt\" (use a [[models]] name, "
            "\"provider/model\", or a pattern with *)");
  // Patterns, and "provider/model" with a configured provider, are accepted as they are.
  config globs = ok(base + "[[keys]]\nname = \"k\"\nsha256 = \"" + sha_a +
                    "\"\nmodels = [\"m\", \"gpt-4o*\", \"p/*\", \"p/llama3\"]\n");
  EXPECT_EQ(globs.keys[0].models.size(), 4u);
  EXPECT_EQ(error_of(base + "[[keys]]\nname = \"k\"\nsha256 = \"" + sha_a +
                     "\"\nmodels = [\"q/llama3\", \"\"]\n"),
            "t.toml:11: keys[0].models[0]: unknown model \"q/llama3\" (use a [[models]] name, "
            "\"provider/model\", or a pattern with *)\n"
            "t.toml:11: keys[0].models[1]: must not be empty");
}

TEST(Validation, Governance) {
  // [auth], [usage] and the model's reservation default.
  config d = ok("");
  EXPECT_TRUE(d.auth.required);
  EXPECT_TRUE(d.usage.file.empty());
  EXPECT_EQ(d.usage.flush_interval_ms, 1000u);
  EXPECT_EQ(d.usage.queue_rows, 4096u);
  config c = ok(base + "reserve_output_tokens = 512\n[auth]\nrequired = false\n[usage]\n"
                       "file = \"/tmp/u.db\"\nflush_interval_ms = 50\nqueue_rows = 64\n");
  EXPECT_EQ(c.models[0].reserve_output_tokens, 512u);
  EXPECT_FALSE(c.auth.required);
  EXPECT_EQ(c.usage.file, "/tmp/u.db");
  EXPECT_EQ(c.usage.flush_interval_ms, 50u);
  EXPECT_EQ(c.usage.queue_rows, 64u);
  EXPECT_EQ(ok(base).models[0].reserve_output_tokens, 4096u);
  EXPECT_EQ(error_of("[auth]\nrequired = \"yes\"\n"),
            "t.toml:2: auth.required: expected boolean, got string");
  EXPECT_EQ(error_of("[usage]\nqueue_rows = 8\n"),
            "t.toml:2: usage.queue_rows: must be >= 16, got 8");
  EXPECT_EQ(error_of("[usage]\nflush_interval_ms = 0\n"),
            "t.toml:2: usage.flush_interval_ms: must be > 0, got 0");
  EXPECT_EQ(error_of("[usage]\nflush_interval_ms = 60001\n"),
            "t.toml:2: usage.flush_interval_ms: must be <= 60000, got 60001");
  EXPECT_EQ(error_of(base + "reserve_output_tokens = 0\n"),
            "t.toml:8: models[0].reserve_output_tokens: must be > 0, got 0");
  EXPECT_EQ(error_of(base + "[[keys]]\nname = \"k\"\nsha256 = \"" + sha_a +
                     "\"\nbudget_usd = 20000000\n"),
            "t.toml:11: keys[0].budget_usd: must be at most 10000000");
}

TEST(Validation, Prices) {
  // No price table: unpriced (not free). A table: each figure defaults to 0, except cache hits,
  // which cost the input price unless priced themselves (0 is a valid price: free).
  EXPECT_FALSE(ok(base).models[0].price.present);
  config c = ok(base + "price = { input_per_mtok = 2.5 }\n");
  EXPECT_TRUE(c.models[0].price.present);
  EXPECT_DOUBLE_EQ(c.models[0].price.output_per_mtok, 0.0);
  EXPECT_DOUBLE_EQ(c.models[0].price.cached_input(), 2.5);
  EXPECT_DOUBLE_EQ(ok(base + "price = { input_per_mtok = 2.5, cached_input_per_mtok = 0 }\n")
                       .models[0]
                       .price.cached_input(),
                   0.0);
  EXPECT_TRUE(ok(base + "price = {}\n").models[0].price.present);
  EXPECT_EQ(error_of(base + "price = { cached_input_per_mtok = -1 }\n"),
            "t.toml:8: models[0].price.cached_input_per_mtok: must not be negative");
  EXPECT_EQ(error_of(base + "price = { output_per_mtok = nan }\n"),
            "t.toml:8: models[0].price.output_per_mtok: must be a finite number");
  EXPECT_EQ(error_of(base + "price = { input = 1.0 }\n"),
            "t.toml:8: models[0].price.input: unknown key");
}

TEST(Validation, ModelTargets) {
  EXPECT_EQ(error_of("[[models]]\nname = \"m\"\n"),
            "t.toml:1: models[0].targets: at least one target required");
  EXPECT_EQ(error_of(base + "[[models]]\nname = \"m2\"\ntargets = [{ provider = \"p\" }]\n"),
            "t.toml:10: models[1].targets[0].model: required (the provider's model name)");
  EXPECT_EQ(error_of(base + "[[models]]\nname = \"m2\"\ntargets = [{ provider = \"p\", model = "
                            "\"x\", weight = 0 }]\n"),
            "t.toml:10: models[1].targets: all target weights are 0");
  EXPECT_EQ(error_of(base + "[[models]]\nname = \"m2\"\ntargets = [{ provider = \"p\", model = "
                            "\"x\", weight = -1 }]\n"),
            "t.toml:10: models[1].targets[0].weight: must not be negative, got -1");
}

TEST(Validation, KeyHash) {
  const std::string key = base + "[[keys]]\nname = \"k\"\nsha256 = \"";
  EXPECT_EQ(error_of(key + std::string(64, 'A') + "\"\n"),
            "t.toml:10: keys[0].sha256: must be 64 lowercase hex characters (SHA-256 of the key)");
  EXPECT_EQ(error_of(key + std::string(63, 'a') + "\"\n"),
            "t.toml:10: keys[0].sha256: must be 64 lowercase hex characters (SHA-256 of the key)");
  EXPECT_EQ(error_of(key + std::string(63, 'a') + "g\"\n"),
            "t.toml:10: keys[0].sha256: must be 64 lowercase hex characters (SHA-256 of the key)");
  EXPECT_EQ(error_of("[[keys]]\nname = \"k\"\n"),
            "t.toml:1: keys[0].sha256: must be 64 lowercase hex characters (SHA-256 of the key)");
}

TEST(Validation, InboundTlsNeedsBoth) {
  EXPECT_EQ(error_of("[server]\ntls_cert = \"c.pem\"\n"),
            "t.toml:1: server.tls_key: required when server.tls_cert is set");
  EXPECT_EQ(error_of("[server]\ntls_key = \"k.pem\"\n"),
            "t.toml:1: server.tls_cert: required when server.tls_key is set");
  EXPECT_EQ(ok("[server]\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n").server.tls_key, "k.pem");
}

TEST(Validation, CollectsAllErrorsInLineOrder) {
  const std::string text = R"([server]
listn = "x"
shards = "many"
[log]
level = "loud"
[[providers]]
name = "p"
kind = "grpc"
base_url = "http://h"
api_key = "${UNSET_SECRET}"
[[models]]
name = "m"
targets = [{ provider = "q", model = "m" }]
fallbacks = ["z"]
[[keys]]
name = "k"
sha256 = "abc"
budget_period = "yearly"
)";
  EXPECT_EQ(
      error_of(text),
      "t.toml:2: server.listn: unknown key\n"
      "t.toml:3: server.shards: expected integer, got string\n"
      "t.toml:5: log.level: \"loud\" is not one of debug|info|warn|error\n"
      "t.toml:8: providers[0].kind: \"grpc\" is not one of openai|anthropic|gemini|bedrock|azure\n"
      "t.toml:10: providers[0].api_key: environment variable UNSET_SECRET is not set\n"
      "t.toml:13: models[0].targets[0].provider: unknown provider \"q\"\n"
      "t.toml:14: models[0].fallbacks[0]: unknown model \"z\"\n"
      "t.toml:17: keys[0].sha256: must be 64 lowercase hex characters (SHA-256 of the key)\n"
      "t.toml:18: keys[0].budget_period: \"yearly\" is not one of daily|monthly|total");
}

TEST(Validation, OneMistakeOneError) {
  // A provider entry of the wrong type is one error, not also "name required" etc.
  EXPECT_EQ(error_of("providers = [\"p\"]\n"),
            "t.toml:1: providers[0]: expected table, got string");
  // An unset variable in a name is not also reported as "required".
  EXPECT_EQ(
      error_of("[[providers]]\nname = \"${N}\"\nkind = \"openai\"\nbase_url = \"http://h\"\n"),
      "t.toml:2: providers[0].name: environment variable N is not set");
}

TEST(Validation, SyntaxErrorIsOneLine) {
  const std::string msg = error_of("[server]\nlisten = \"127.0.0.1:8080\"\nshards = = 3\n");
  // "FILE:LINE:COL: description", one line.
  EXPECT_TRUE(std::regex_match(msg, std::regex(R"(t\.toml:3:\d+: [^\n]+)"))) << msg;
  const std::string dup = error_of("[server]\nshards = 1\nshards = 2\n");
  EXPECT_TRUE(dup.starts_with("t.toml:3:")) << dup;
  EXPECT_TRUE(error_of("[server\n").starts_with("t.toml:1:"));
}

// --- parse_listen and enums ---

TEST(ParseListen, Accepts) {
  auto a = parse_listen("127.0.0.1:8080");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 8080);
  auto any = parse_listen("0.0.0.0:0");
  ASSERT_TRUE(any);
  EXPECT_EQ(any->port, 0);
  auto local = parse_listen("localhost:65535");
  ASSERT_TRUE(local);
  EXPECT_EQ(local->host, "127.0.0.1");
  EXPECT_EQ(local->port, 65535);
  auto v6 = parse_listen("[::1]:443");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 443);
  auto v6any = parse_listen("[::]:80");
  ASSERT_TRUE(v6any);
  EXPECT_EQ(v6any->host, "::");
  EXPECT_TRUE(parse_listen("255.255.255.255:1"));
}

TEST(ParseListen, Rejects) {
  auto err = [](std::string_view s) {
    auto r = parse_listen(s);
    return r ? std::string("OK") : r.error();
  };
  EXPECT_EQ(err("127.0.0.1"), "missing port (expected host:port)");
  EXPECT_EQ(err("127.0.0.1:"), "missing port (expected host:port)");
  EXPECT_EQ(err(":8080"), "missing host (expected host:port)");
  EXPECT_EQ(err("127.0.0.1:65536"), "port 65536 out of range (0..65535)");
  EXPECT_EQ(err("127.0.0.1:123456"), "invalid port \"123456\" (decimal 0..65535)");
  EXPECT_EQ(err("127.0.0.1:0x50"), "invalid port \"0x50\" (decimal 0..65535)");
  EXPECT_EQ(err("127.0.0.1:+80"), "invalid port \"+80\" (decimal 0..65535)");
  EXPECT_EQ(err("127.0.0.1: 80"), "invalid port \" 80\" (decimal 0..65535)");
  EXPECT_EQ(err("example.com:80"),
            "invalid host \"example.com\" (IPv4 address, [IPv6] or localhost)");
  EXPECT_EQ(err("256.0.0.1:80"), "invalid host \"256.0.0.1\" (IPv4 address, [IPv6] or localhost)");
  EXPECT_EQ(err("1.2.3.4.5:80"), "invalid host \"1.2.3.4.5\" (IPv4 address, [IPv6] or localhost)");
  EXPECT_EQ(err("01.2.3.4:80"), "invalid host \"01.2.3.4\" (IPv4 address, [IPv6] or localhost)");
  EXPECT_EQ(err("1..3.4:80"), "invalid host \"1..3.4\" (IPv4 address, [IPv6] or localhost)");
  EXPECT_EQ(err("::1:80"), "IPv6 address must be in brackets: [address]:port");
  EXPECT_EQ(err("[::1]"), "missing port (expected [address]:port)");
  EXPECT_EQ(err("[::1:80"), "missing ']' after IPv6 address");
  EXPECT_EQ(err("[::g]:80"), "invalid IPv6 address \"::g\"");
  EXPECT_EQ(err("[]:80"), "invalid IPv6 address \"\"");
  EXPECT_EQ(err(""), "missing port (expected host:port)");
}

TEST(ParseEnums, LevelsAndFormats) {
  EXPECT_EQ(parse_log_level("debug"), log_level::debug);
  EXPECT_EQ(parse_log_level("info"), log_level::info);
  EXPECT_EQ(parse_log_level("warn"), log_level::warn);
  EXPECT_EQ(parse_log_level("error"), log_level::error);
  EXPECT_EQ(parse_log_level("INFO"), std::nullopt);
  EXPECT_EQ(parse_log_level("warning"), std::nullopt);
  EXPECT_EQ(parse_log_format("json"), log_format::json);
  EXPECT_EQ(parse_log_format("text"), log_format::text);
  EXPECT_EQ(parse_log_format(""), std::nullopt);
}

}  // namespace
}  // namespace rg::config
