// The access log end to end: ringgate in front of mockllm writes one JSON line per request (to
// stdout by default, or to log.access_file, reopened on SIGUSR1), with the request's id, model,
// provider, status, tokens, cost and timings, and never a key, a secret or a query string. And
// request ids: every answer carries one (the client's when valid, else generated), the same one
// goes upstream and into the access line.
#include <gtest/gtest.h>

#include <signal.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "sse_util.hpp"

namespace rg::itest {
namespace {

constexpr std::string_view secret = "sk-upstream-secret-for-access-log";
constexpr std::string_view client_key = "sk-client-secret-9999";

// printf %s sk-client-secret-9999 | sha256sum
constexpr std::string_view client_key_sha256 =
    "ff4348f7494e8d75f23935e49ff87c23d59c5863a59631f4d2b229dfce1249f9";

std::string gateway_config(uint16_t mock_port, const std::string& extra = "") {
  return extra + R"(
[[keys]]
name = "team-log"
sha256 = ")" + std::string(client_key_sha256) + R"("

[[providers]]
name = "mock"
kind = "openai"
base_url = "http://127.0.0.1:)" +
         std::to_string(mock_port) + R"(/v1"
api_key = ")" +
         std::string(secret) +
         R"("

[[models]]
name = "cheap"
targets = [{ provider = "mock", model = "mock-small" }]
price = { input_per_mtok = 1000000.0, output_per_mtok = 2000000.0 }
)";
}

std::optional<http_response> roundtrip(uint16_t port, const std::string& request) {
  client c;
  if (!c.connect(port) || !c.send(request)) return std::nullopt;
  return c.read_response(10s);
}

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> json_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.front() == '{') out.push_back(line);
  }
  return out;
}

// Waits (bounded) until `read()` holds at least `n` JSON lines.
template <typename F>
std::vector<std::string> wait_lines(F read, size_t n) {
  auto deadline = steady::now() + 10s;
  std::vector<std::string> lines;
  while (steady::now() < deadline) {
    lines = json_lines(read());
    if (lines.size() >= n) break;
    std::this_thread::sleep_for(20ms);
  }
  return lines;
}

class access_log_test : public ::testing::Test {
 protected:
  void SetUp() override {
    server_options mock;
    const char* bin = std::getenv("MOCKLLM_BIN");
    mock.binary = bin ? bin : "";
    mock.shards = 1;
    _mock = server::start(mock);
    ASSERT_NE(_mock, nullptr);
  }
  void TearDown() override {
    if (_mock) {
      EXPECT_EQ(_mock->stop(10s), 0);
    }
  }
  std::unique_ptr<server> _mock;
};

TEST_F(access_log_test, one_json_line_per_request_with_its_figures_and_no_secret) {
  server_options gw;
  gw.shards = 2;
  gw.config_toml = gateway_config(_mock->port());
  auto s = server::start(gw);
  ASSERT_NE(s, nullptr);
  std::string body = R"({"model":"cheap","messages":[{"role":"user","content":"hello"}]})";
  auto ok = roundtrip(s->port(), post_request("/v1/chat/completions?api_key=querysecret", body,
                                              "Authorization: Bearer " + std::string(client_key) +
                                                  "\r\nx-request-id: req-abc-1\r\n"));
  ASSERT_TRUE(ok && ok->status == 200);
  auto bad = roundtrip(s->port(),
                       post_request("/v1/chat/completions", R"({"model":"nope","messages":[]})",
                                    "x-api-key: " + std::string(client_key) + "\r\n"));
  ASSERT_TRUE(bad && bad->status == 400);
  auto health = roundtrip(s->port(), get_request("/health"));
  ASSERT_TRUE(health && health->status == 200);

  auto lines = wait_lines([&] { return s->proc().out_text(); }, 3);
  ASSERT_EQ(lines.size(), 3u) << s->proc().out_text();
  simdjson::dom::parser parser;
  // Lines come in completion order; find each by path/status.
  bool saw_ok = false, saw_bad = false, saw_health = false;
  for (const auto& line : lines) {
    EXPECT_EQ(line.find(secret), std::string::npos) << line;
    EXPECT_EQ(line.find(client_key), std::string::npos) << line;
    EXPECT_EQ(line.find("querysecret"), std::string::npos) << line;
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(line).get(doc), simdjson::SUCCESS) << "not JSON: " << line;
    uint64_t status = 0;
    ASSERT_FALSE(doc["status"].get(status));
    std::string_view path, time, client;
    ASSERT_FALSE(doc["path"].get(path));
    ASSERT_FALSE(doc["time"].get(time));
    ASSERT_FALSE(doc["client"].get(client));
    EXPECT_TRUE(client.starts_with("127.0.0.1:")) << client;
    EXPECT_EQ(time.size(), 27u);
    double duration = -1;
    ASSERT_FALSE(doc["duration_ms"].get(duration));
    EXPECT_GE(duration, 0);
    if (path == "/v1/chat/completions" && status == 200) {
      saw_ok = true;
      std::string_view id, model, provider, upstream_model;
      EXPECT_FALSE(doc["request_id"].get(id));
      EXPECT_EQ(id, "req-abc-1");
      EXPECT_FALSE(doc["model"].get(model));
      EXPECT_EQ(model, "cheap");
      EXPECT_FALSE(doc["provider"].get(provider));
      EXPECT_EQ(provider, "mock");
      EXPECT_FALSE(doc["upstream_model"].get(upstream_model));
      EXPECT_EQ(upstream_model, "mock-small");
      int64_t in = -1, out = -1;
      EXPECT_FALSE(doc["tokens_in"].get(in));
      EXPECT_FALSE(doc["tokens_out"].get(out));
      EXPECT_GT(in, 0);
      EXPECT_GT(out, 0);
      double cost = -1;
      EXPECT_FALSE(doc["cost_usd"].get(cost));
      EXPECT_DOUBLE_EQ(cost, double(in) * 1.0 + double(out) * 2.0);  // $1M and $2M per Mtok
      double ttfb = -1;
      EXPECT_FALSE(doc["upstream_ttfb_ms"].get(ttfb));
      EXPECT_GE(ttfb, 0);
      EXPECT_LE(ttfb, duration);
      EXPECT_TRUE(doc["error"].is_null());
      std::string_view key;
      EXPECT_FALSE(doc["key"].get(key));
      EXPECT_EQ(key, "team-log");  // the key's name, never the key
    } else if (path == "/v1/chat/completions" && status == 400) {
      saw_bad = true;
      std::string_view error;
      EXPECT_FALSE(doc["error"].get(error));
      EXPECT_EQ(error, "model_not_found");
      EXPECT_TRUE(doc["tokens_in"].is_null());
      EXPECT_TRUE(doc["provider"].is_null());
    } else if (path == "/health") {
      saw_health = true;
      EXPECT_TRUE(doc["model"].is_null());
    }
  }
  EXPECT_TRUE(saw_ok && saw_bad && saw_health) << s->proc().out_text();
  EXPECT_EQ(s->proc().err_text().find(secret), std::string::npos);
  EXPECT_EQ(s->proc().err_text().find(client_key), std::string::npos);
  EXPECT_EQ(s->proc().err_text().find(client_key_sha256), std::string::npos);
  EXPECT_EQ(s->stop(10s), 0);
}

// The x-request-id header of the last request mockllm received.
std::string upstream_request_id(uint16_t mock_port) {
  auto r = roundtrip(mock_port, get_request("/mock/stats"));
  auto doc = r ? parse_json(r->body) : nullptr;
  simdjson::dom::array headers;
  if (!doc || doc->root["last_request"]["headers"].get(headers)) return "<no stats>";
  for (auto pair : headers) {
    std::string_view k, v;
    if (!pair.at(0).get(k) && !pair.at(1).get(v) && (k == "x-request-id" || k == "X-Request-Id")) {
      return std::string(v);
    }
  }
  return "";
}

bool generated_id(const std::string& id) {
  if (id.size() != 32) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

TEST_F(access_log_test, every_answer_carries_a_request_id_that_reaches_upstream_and_the_log) {
  server_options gw;
  gw.shards = 1;
  gw.config_toml = gateway_config(_mock->port());
  auto s = server::start(gw);
  ASSERT_NE(s, nullptr);
  const std::string chat = R"({"model":"cheap","messages":[]})";
  const std::string longest(128, 'z');
  struct sent {
    std::string request;
    std::string path;
    std::string client_id;  // empty: none or invalid, so a generated one is expected
  };
  const std::string key = "x-api-key: " + std::string(client_key) + "\r\n";
  const std::vector<sent> cases = {
      {get_request("/health", "x-request-id: ok.ID:1-2_3\r\n"), "/health", "ok.ID:1-2_3"},
      {get_request("/v1/models", key), "/v1/models", ""},
      {get_request("/nope", "x-request-id: " + longest + "\r\n"), "/nope", longest},
      {get_request("/ready", "x-request-id: " + longest + "z\r\n"), "/ready", ""},  // 129
      {get_request("/v1/chat/completions"), "/v1/chat/completions", ""},            // 405
      {post_request("/v1/chat/completions", R"({"model":"nope"})", key), "/v1/chat/completions",
       ""},
      {post_request("/v1/chat/completions", R"({"model":"cheap"})"), "/v1/chat/completions",
       ""},  // 401: no key
      {post_request("/v1/chat/completions", chat, key + "x-request-id: bad/id\r\n"),
       "/v1/chat/completions", ""},
  };
  std::vector<std::string> answered;
  for (const auto& c : cases) {
    auto r = roundtrip(s->port(), c.request);
    ASSERT_TRUE(r) << c.path;
    std::string id = r->header("x-request-id");
    if (c.client_id.empty()) {
      EXPECT_TRUE(generated_id(id)) << c.path << " answered with id '" << id << "'";
    } else {
      EXPECT_EQ(id, c.client_id) << c.path;
    }
    answered.push_back(id);
  }
  // The last one was proxied with a generated id (the client's "bad/id" refused): the upstream
  // got the id the client got back.
  EXPECT_EQ(upstream_request_id(_mock->port()), answered.back());
  // Generated ids differ from one request to the next.
  EXPECT_NE(answered[1], answered[3]);

  // One access line per answer, in order (one shard), each with the id its answer carried.
  auto lines = wait_lines([&] { return s->proc().out_text(); }, cases.size());
  ASSERT_EQ(lines.size(), cases.size()) << s->proc().out_text();
  simdjson::dom::parser parser;
  for (size_t i = 0; i < lines.size(); ++i) {
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(lines[i]).get(doc), simdjson::SUCCESS) << lines[i];
    std::string_view id, path;
    EXPECT_FALSE(doc["request_id"].get(id)) << lines[i];
    EXPECT_FALSE(doc["path"].get(path));
    EXPECT_EQ(path, cases[i].path);
    EXPECT_EQ(id, answered[i]) << lines[i];
  }
  EXPECT_EQ(s->stop(10s), 0);
}

TEST_F(access_log_test, access_file_is_reopened_on_sigusr1) {
  temp_dir dir;
  std::string path = dir.path() + "/access.log";
  server_options gw;
  gw.shards = 1;
  gw.config_toml = gateway_config(_mock->port(), "[log]\naccess_file = \"" + path + "\"\n");
  auto s = server::start(gw);
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(roundtrip(s->port(), get_request("/health")));
  ASSERT_EQ(wait_lines([&] { return read_file(path); }, 1).size(), 1u);
  // logrotate: move the file away, then SIGUSR1.
  std::string rotated = path + ".1";
  ASSERT_EQ(std::rename(path.c_str(), rotated.c_str()), 0);
  ASSERT_TRUE(s->proc().send_signal(SIGUSR1));
  ASSERT_TRUE(s->proc().wait_stderr("reopening the access log", 5s));
  // The writer reopens before its next write; poll until the new file has the next line.
  auto deadline = steady::now() + 10s;
  while (steady::now() < deadline && json_lines(read_file(path)).empty()) {
    roundtrip(s->port(), get_request("/ready"));
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_FALSE(json_lines(read_file(path)).empty()) << "nothing in the reopened file";
  EXPECT_EQ(json_lines(read_file(rotated)).size(), 1u);
  EXPECT_EQ(s->proc().out_text().find("\"path\""), std::string::npos) << "lines went to stdout";
  EXPECT_EQ(s->stop(10s), 0);
}

TEST_F(access_log_test, access_log_off_writes_nothing) {
  server_options gw;
  gw.shards = 1;
  gw.config_toml = gateway_config(_mock->port(), "[log]\naccess_log = false\n");
  auto s = server::start(gw);
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(roundtrip(s->port(), get_request("/health")));
  EXPECT_EQ(s->stop(10s), 0);
  EXPECT_TRUE(json_lines(s->proc().out_text()).empty()) << s->proc().out_text();
}

TEST(access_log_config, unwritable_access_file_fails_at_start) {
  run_result r = run_to_exit(
      {ringgate_bin(), "--listen", "127.0.0.1:0", "--admin-listen", "off", "--config",
       [] {
         static temp_dir d;
         return d.write("r.toml", "[log]\naccess_file = \"/nonexistent-dir/access.log\"\n");
       }()},
      10s);
  ASSERT_TRUE(r.exit_code);
  EXPECT_EQ(*r.exit_code, 1);
  EXPECT_NE(r.err.find("log.access_file: cannot open /nonexistent-dir/access.log"),
            std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace rg::itest
