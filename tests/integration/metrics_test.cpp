// Observability end to end: ringgate (2 shards) in front of mockllm; its admin listener's
// /metrics after known traffic (counters equal what was sent, summed across shards that both
// served; histogram buckets consistent; stream, pool, limit, connection, loop and process
// figures; promtool accepts it; no secret anywhere), /admin/config and /admin/providers, the
// data listener not exposing them by default, metrics turned off, and a real Prometheus server
// (Debian's prometheus) scraping the admin listener.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ctime>
#include <functional>
#include <regex>
#include <string>
#include <thread>

#include "harness.hpp"
#include "sse_util.hpp"

namespace rg::itest {
namespace {

constexpr std::string_view secret = "sk-upstream-very-secret-4242";
constexpr std::string_view chat_body =
    R"({"model":"mock-small","messages":[{"role":"user","content":"hello"}]})";

std::optional<http_response> roundtrip(uint16_t port, const std::string& request) {
  client c;
  if (!c.connect(port) || !c.send(request)) return std::nullopt;
  return c.read_response(10s);
}

// The value of the sample line `series` (exact text before the value), or -1 when absent.
double sample(const std::string& text, const std::string& series) {
  size_t pos = 0;
  while ((pos = text.find(series + " ", pos)) != std::string::npos) {
    if (pos == 0 || text[pos - 1] == '\n') return std::stod(text.substr(pos + series.size() + 1));
    ++pos;
  }
  return -1;
}

// A TCP port free on 127.0.0.1 right now (bound, read, released), or 0.
uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  uint16_t port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

// The full path of `tool` from PATH, or "" (posix_spawn does not search PATH).
std::string which(const char* tool) {
  run_result r = run_to_exit({"/bin/sh", "-c", std::string("command -v ") + tool}, 10s);
  if (!r.exit_code || *r.exit_code != 0) return {};
  std::string path = r.out;
  while (!path.empty() && (path.back() == '\n' || path.back() == ' ')) path.pop_back();
  return path;
}

bool have(const char* tool) {
  return !which(tool).empty();
}

class metrics_test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_options mock;
    const char* bin = std::getenv("MOCKLLM_BIN");
    mock.binary = bin ? bin : "";
    mock.shards = 1;
    s_mock = server::start(mock);
    if (!s_mock) return;
    server_options gw;
    gw.shards = 2;
    gw.config_toml = R"(
[auth]
required = false

[[providers]]
name = "mock"
kind = "openai"
base_url = "http://127.0.0.1:)" +
                     std::to_string(s_mock->port()) + R"(/v1"
api_key = ")" + std::string(secret) +
                     R"("
headers = { "x-upstream-token" = "hdr-secret-777" }
forward_headers = ["x-mock-*"]

[[providers]]
name = "pooled"
kind = "openai"
base_url = "http://127.0.0.1:)" +
                     std::to_string(s_mock->port()) + R"(/v1"

[[models]]
name = "mock-small"
targets = [{ provider = "mock", model = "mock-small" }]
price = { input_per_mtok = 1000.0, output_per_mtok = 3000.0 }

[[models]]
name = "pooled-small"
targets = [{ provider = "pooled", model = "mock-small" }]

[[keys]]
name = "team-a"
sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
)";
    s_gw = server::start(gw);
  }
  static void TearDownTestSuite() {
    if (s_gw) {
      EXPECT_EQ(s_gw->stop(10s), 0) << s_gw->proc().err_text();
    }
    if (s_mock) {
      EXPECT_EQ(s_mock->stop(10s), 0);
    }
    s_gw.reset();
    s_mock.reset();
  }
  void SetUp() override {
    ASSERT_NE(s_mock, nullptr) << "mockllm failed to start";
    ASSERT_NE(s_gw, nullptr) << "ringgate failed to start";
    ASSERT_NE(s_gw->admin_port(), 0) << "no 'admin listening on' line:\n"
                                     << s_gw->proc().err_text();
  }
  static std::string scrape() {
    auto r = roundtrip(s_gw->admin_port(), get_request("/metrics"));
    if (!r || r->status != 200) {
      ADD_FAILURE() << "scrape failed";
      return {};
    }
    EXPECT_EQ(r->header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    return r->body;
  }
  // Scrapes until `ok(text)` holds (bounded: the figures are written on the shards, which may
  // finish a moment after the client has its answer); returns the last scrape.
  static std::string scrape_until(const std::function<bool(const std::string&)>& ok) {
    std::string text;
    for (auto deadline = steady::now() + 10s; steady::now() < deadline;) {
      text = scrape();
      if (ok(text)) break;
      std::this_thread::sleep_for(20ms);
    }
    return text;
  }
  // One streamed chat request through the gateway (mock headers added), then a scrape once its
  // chunks are counted: the chunks the client received, and each series' change over the request.
  struct streamed {
    std::optional<http_response> r;
    int chunks = 0;
    std::string before, after;
    double delta(const std::string& series) const {
      return sample(after, series) - std::max(0.0, sample(before, series));
    }
  };
  static streamed stream_once(const std::string& mock_headers) {
    const std::string counted = R"(ringgate_stream_chunks_total{provider="mock"})";
    streamed s;
    s.before = scrape();
    s.r = roundtrip(
        s_gw->port(),
        post_request("/v1/chat/completions",
                     R"({"model":"mock-small","stream":true,"messages":[]})", mock_headers));
    if (!s.r || s.r->status != 200) return s;
    for (const auto& e : sse_events(s.r->body)) {
      if (!e.data.empty() && e.data != "[DONE]") ++s.chunks;
    }
    s.after = scrape_until([&](const std::string& t) {
      return sample(t, counted) - std::max(0.0, sample(s.before, counted)) >= s.chunks;
    });
    return s;
  }
  static inline std::unique_ptr<server> s_mock;
  static inline std::unique_ptr<server> s_gw;
};

const std::string chat_2xx =
    R"(ringgate_requests_total{endpoint="/v1/chat/completions",model="mock-small",provider="mock",status_class="2xx"})";

const std::string shard0 = R"(ringgate_shard_requests_total{shard="0"})";
const std::string shard1 = R"(ringgate_shard_requests_total{shard="1"})";

TEST_F(metrics_test, counters_equal_what_was_sent_across_shards) {
  std::string before = scrape();
  double chat_before = std::max(0.0, sample(before, chat_2xx));
  double shard0_before = sample(before, shard0), shard1_before = sample(before, shard1);
  ASSERT_GE(shard0_before, 0) << before;
  ASSERT_GE(shard1_before, 0) << before;
  // Separate connections, so the kernel spreads them over both shards: send until each shard
  // has answered some (a hash of the client port decides; two dozen nearly always suffice).
  int chats = 0;
  std::string mid;
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 12; ++i, ++chats) {
      auto r = roundtrip(s_gw->port(), post_request("/v1/chat/completions", chat_body));
      ASSERT_TRUE(r && r->status == 200);
    }
    mid = scrape();
    if (sample(mid, shard0) > shard0_before && sample(mid, shard1) > shard1_before) break;
  }
  ASSERT_GT(sample(mid, shard0), shard0_before) << "shard 0 served nothing";
  ASSERT_GT(sample(mid, shard1), shard1_before) << "shard 1 served nothing";
  for (int i = 0; i < 3; ++i) roundtrip(s_gw->port(), get_request("/nope"));
  auto bad = roundtrip(s_gw->port(), post_request("/v1/chat/completions",
                                                  R"({"model":"no-such-model","messages":[]})"));
  ASSERT_TRUE(bad && bad->status == 400);

  std::string text = scrape();
  // Both shards served, and the sum over their blocks is exactly what was sent.
  EXPECT_EQ(sample(text, chat_2xx) - chat_before, chats) << text;
  EXPECT_EQ(sample(text, shard0) - shard0_before + sample(text, shard1) - shard1_before,
            chats + 3 + 1);
  EXPECT_GE(
      sample(
          text,
          R"(ringgate_requests_total{endpoint="other",model="none",provider="none",status_class="4xx"})"),
      3);
  EXPECT_GE(
      sample(
          text,
          R"(ringgate_requests_total{endpoint="/v1/chat/completions",model="none",provider="none",status_class="4xx"})"),
      1);
  // The unknown model's name is client text: it must not become a label.
  EXPECT_EQ(text.find("no-such-model"), std::string::npos);
  EXPECT_EQ(sample(text, "ringgate_requests_in_flight"), 0);
  EXPECT_GE(sample(text, "ringgate_connections_accepted_total"), chats + 4);
  // Each shard ran its loop, and reaped at least one completion per request it answered.
  for (const char* shard : {"0", "1"}) {
    std::string id = std::string(R"({shard=")") + shard + "\"}";
    EXPECT_GT(sample(text, "ringgate_loop_turns_total" + id), 0);
    EXPECT_GE(sample(text, "ringgate_loop_completions_total" + id),
              sample(text, "ringgate_shard_requests_total" + id));
  }
  EXPECT_EQ(
      sample(text, R"(ringgate_build_info{version=")" +
                       std::string(std::getenv("RINGGATE_VERSION") ? std::getenv("RINGGATE_VERSION")
                                                                   : "") +
                       R"("})"),
      1);
  EXPECT_EQ(sample(text, "ringgate_log_lines_dropped_total"), 0);
  EXPECT_EQ(sample(text, "ringgate_access_log_lines_dropped_total"), 0);
}

TEST_F(metrics_test, connections_closed_catch_up_with_accepted) {
  constexpr int n = 5;
  for (int i = 0; i < n; ++i) {
    client c;
    ASSERT_TRUE(c.connect(s_gw->port()));
    ASSERT_TRUE(c.send(get_request("/health", "Connection: close\r\n")));
    ASSERT_TRUE(c.read_response(10s));
    ASSERT_TRUE(c.wait_closed(10s));
  }
  // Every connection has ended (the test's, and the earlier tests'): closed equals accepted.
  std::string text = scrape_until([](const std::string& t) {
    return sample(t, "ringgate_connections_closed_total") ==
           sample(t, "ringgate_connections_accepted_total");
  });
  EXPECT_GE(sample(text, "ringgate_connections_closed_total"), n);
  EXPECT_EQ(sample(text, "ringgate_connections_closed_total"),
            sample(text, "ringgate_connections_accepted_total"));
  EXPECT_EQ(sample(text, "ringgate_connections_shed_total"), 0);
}

TEST_F(metrics_test, process_figures_are_plausible) {
  std::string text = scrape();
  double rss = sample(text, "ringgate_process_resident_memory_bytes");
  EXPECT_GT(rss, 1 << 20) << "RSS below 1 MiB";
  EXPECT_LT(rss, 4.0 * (1u << 30)) << "RSS above 4 GiB";
  double fds = sample(text, "ringgate_process_open_fds");
  EXPECT_GE(fds, 5) << "listeners, rings and the log pipes are open";
  EXPECT_LT(fds, 1000);
  double start = sample(text, "ringgate_process_start_time_seconds");
  double now = double(std::time(nullptr));
  EXPECT_LE(start, now + 1);
  EXPECT_GT(start, now - 3600) << "started within the last hour (by this suite)";
}

TEST_F(metrics_test, tokens_cost_upstream_time_and_errors) {
  const std::string in =
      R"(ringgate_tokens_total{model="mock-small",provider="mock",direction="in"})";
  const std::string out =
      R"(ringgate_tokens_total{model="mock-small",provider="mock",direction="out"})";
  const std::string cost = R"(ringgate_cost_usd_total{model="mock-small",provider="mock"})";
  const std::string e5xx = R"(ringgate_upstream_errors_total{provider="mock",kind="status_5xx"})";
  const std::string ttfb = R"(ringgate_upstream_ttfb_seconds_count{provider="mock"})";
  std::string before = scrape();
  auto r = roundtrip(s_gw->port(), post_request("/v1/chat/completions", chat_body));
  ASSERT_TRUE(r && r->status == 200);
  auto doc = parse_json(r->body);
  ASSERT_TRUE(doc);
  int64_t prompt = 0, completion = 0;
  ASSERT_FALSE(doc->root["usage"]["prompt_tokens"].get(prompt));
  ASSERT_FALSE(doc->root["usage"]["completion_tokens"].get(completion));
  auto failed = roundtrip(
      s_gw->port(), post_request("/v1/chat/completions", chat_body, "x-mock-status: 503\r\n"));
  ASSERT_TRUE(failed && failed->status == 503);
  std::string after = scrape();
  auto delta = [&](const std::string& series) {
    return sample(after, series) - std::max(0.0, sample(before, series));
  };
  EXPECT_EQ(delta(in), double(prompt));
  EXPECT_EQ(delta(out), double(completion));
  EXPECT_NEAR(delta(cost), (double(prompt) * 1000.0 + double(completion) * 3000.0) / 1e6, 1e-9);
  EXPECT_EQ(delta(e5xx), 1);
  EXPECT_EQ(delta(ttfb), 2);
  // The upstream part spans the time to first byte: its count matches, its sum is not smaller.
  EXPECT_EQ(delta(R"(ringgate_upstream_duration_seconds_count{provider="mock"})"), 2);
  EXPECT_GE(delta(R"(ringgate_upstream_duration_seconds_sum{provider="mock"})"),
            delta(R"(ringgate_upstream_ttfb_seconds_sum{provider="mock"})"));
  EXPECT_GT(delta(R"(ringgate_upstream_duration_seconds_sum{provider="mock"})"), 0);
  // Families with configured series are present even before anything happens.
  EXPECT_EQ(sample(after, R"(ringgate_retries_total{provider="mock",reason="connect_error"})"), 0);
  EXPECT_EQ(sample(after, R"(ringgate_circuit_state{provider="mock",endpoint="http://127.0.0.1:)" +
                              std::to_string(s_mock->port()) + R"(/v1"})"),
            0);
  EXPECT_EQ(sample(after, R"(ringgate_fallbacks_total{model="mock-small"})"), 0);
  EXPECT_EQ(sample(after, R"(ringgate_rate_limited_total{key="team-a",limit="rpm"})"), 0);
  EXPECT_EQ(sample(after, R"(ringgate_budget_rejected_total{key="team-a"})"), 0);
  EXPECT_GT(
      sample(after, R"(ringgate_gateway_overhead_seconds_count{endpoint="/v1/chat/completions"})"),
      0);
}

TEST_F(metrics_test, histogram_buckets_are_cumulative_and_match_the_count) {
  roundtrip(s_gw->port(), post_request("/v1/chat/completions", chat_body));
  std::string text = scrape();
  const std::string name = "ringgate_request_duration_seconds";
  const std::string labels = R"(endpoint="/v1/chat/completions")";
  std::regex bucket(name + R"re(_bucket\{endpoint="/v1/chat/completions",le="([^"]+)"\} (\d+))re");
  double last = -1, inf = -1;
  int buckets = 0;
  for (std::sregex_iterator it(text.begin(), text.end(), bucket), end; it != end; ++it) {
    double v = std::stod((*it)[2]);
    EXPECT_GE(v, last) << "buckets must be cumulative";
    last = v;
    ++buckets;
    if ((*it)[1] == "+Inf") inf = v;
  }
  EXPECT_GT(buckets, 10);
  EXPECT_GT(inf, 0);
  EXPECT_EQ(inf, sample(text, name + "_count{" + labels + "}"));
  EXPECT_GT(sample(text, name + "_sum{" + labels + "}"), 0);
}

TEST_F(metrics_test, histograms_resolve_microseconds) {
  roundtrip(s_gw->port(), get_request("/health"));
  std::string text = scrape();
  // The overhead histogram exposes a bounded set of buckets, a dozen of them at or below 100 µs.
  std::regex bucket(
      R"re(ringgate_gateway_overhead_seconds_bucket\{endpoint="/health",le="([^"]+)"\} (\d+))re");
  int buckets = 0, fine = 0;
  for (std::sregex_iterator it(text.begin(), text.end(), bucket), end; it != end; ++it) {
    ++buckets;
    if ((*it)[1] != "+Inf" && std::stod((*it)[1]) <= 100e-6) ++fine;
  }
  EXPECT_LE(buckets, 30);
  EXPECT_GE(fine, 12);
}

TEST_F(metrics_test, streams_count_chunks_bytes_and_time_to_first_token) {
  const streamed s = stream_once("x-mock-chunks: 7\r\n");
  ASSERT_TRUE(s.r && s.r->status == 200);
  const int k = s.chunks;
  ASSERT_GE(k, 7) << s.r->body;
  EXPECT_EQ(s.delta(R"(ringgate_stream_chunks_total{provider="mock"})"), k);
  // De-chunked: exactly the events relayed.
  EXPECT_EQ(s.delta(R"(ringgate_stream_bytes_total{provider="mock"})"), double(s.r->body.size()));
  EXPECT_EQ(s.delta(R"(ringgate_stream_ttft_seconds_count{provider="mock"})"), 1);
  EXPECT_EQ(s.delta(R"(ringgate_stream_chunk_gap_seconds_count{provider="mock"})"), k - 1);
  EXPECT_GT(s.delta(R"(ringgate_stream_ttft_seconds_sum{provider="mock"})"), 0);
}

// Chunks 20 ms apart arrive in loop turns of their own: each but the first is one gap, measured
// (the gaps of a burst are mostly 0, settled per send: the test above).
TEST_F(metrics_test, paced_stream_gaps_are_measured_per_chunk) {
  const streamed s = stream_once("x-mock-chunks: 4\r\nx-mock-delay-ms: 20\r\n");
  ASSERT_TRUE(s.r && s.r->status == 200);
  const int k = s.chunks;
  ASSERT_GE(k, 4) << s.r->body;
  EXPECT_EQ(s.delta(R"(ringgate_stream_chunk_gap_seconds_count{provider="mock"})"), k - 1);
  // The mock waits 20 ms before each content chunk; not all gaps are settled as 0.
  EXPECT_GE(s.delta(R"(ringgate_stream_chunk_gap_seconds_sum{provider="mock"})"), 0.015) << s.after;
  EXPECT_LT(s.delta(R"(ringgate_stream_chunk_gap_seconds_bucket{provider="mock",le="1e-06"})"),
            k - 1)
      << s.after;
}

TEST_F(metrics_test, pool_gauges_follow_the_provider_pool) {
  const std::string idle = R"(ringgate_upstream_connections{provider="pooled",state="idle"})";
  const std::string active = R"(ringgate_upstream_connections{provider="pooled",state="active"})";
  const std::string connects = R"(ringgate_upstream_connects_total{provider="pooled"})";
  // Configured providers are exposed before any traffic.
  std::string before = scrape();
  EXPECT_EQ(sample(before, idle), 0) << before;
  EXPECT_EQ(sample(before, connects), 0);
  auto r = roundtrip(s_gw->port(), post_request("/v1/chat/completions",
                                                R"({"model":"pooled-small","messages":[]})"));
  ASSERT_TRUE(r && r->status == 200);
  // One shard opened one connection and keeps it idle in its pool.
  std::string text = scrape_until([&](const std::string& t) { return sample(t, idle) == 1; });
  EXPECT_EQ(sample(text, idle), 1);
  EXPECT_EQ(sample(text, active), 0);
  EXPECT_EQ(sample(text, connects), 1);
  auto providers = roundtrip(s_gw->admin_port(), get_request("/admin/providers"));
  ASSERT_TRUE(providers && providers->status == 200);
  // /admin/providers sums the same figures (circuit state is left to the resilience work).
  const std::string& body = providers->body;
  size_t at = body.find(R"("name":"pooled")");
  ASSERT_NE(at, std::string::npos) << body;
  EXPECT_EQ(body.find(R"("pool":{"idle":1,"active":0,"connects":1})", at),
            body.find(R"("pool":)", at))
      << body;
}

TEST_F(metrics_test, promtool_accepts_a_live_scrape) {
  if (!have("promtool")) GTEST_SKIP() << "promtool not installed (tools/dev installs prometheus)";
  roundtrip(s_gw->port(), post_request("/v1/chat/completions", chat_body));
  temp_dir dir;
  std::string path = dir.write("scrape.prom", scrape());
  run_result r = run_to_exit({"/bin/sh", "-c", "promtool check metrics < " + path}, 30s);
  ASSERT_TRUE(r.exit_code);
  EXPECT_EQ(*r.exit_code, 0) << r.out << r.err;
}

TEST_F(metrics_test, no_secret_in_metrics_admin_or_logs) {
  roundtrip(s_gw->port(), post_request("/v1/chat/completions", chat_body));
  std::string metrics = scrape();
  auto config = roundtrip(s_gw->admin_port(), get_request("/admin/config"));
  ASSERT_TRUE(config && config->status == 200);
  auto providers = roundtrip(s_gw->admin_port(), get_request("/admin/providers"));
  ASSERT_TRUE(providers && providers->status == 200);
  for (const std::string& text :
       {metrics, config->body, providers->body, s_gw->proc().err_text(), s_gw->proc().out_text()}) {
    EXPECT_EQ(text.find(secret), std::string::npos);
    EXPECT_EQ(text.find("hdr-secret-777"), std::string::npos);
  }
  auto doc = parse_json(config->body);
  ASSERT_TRUE(doc);
  std::string_view key, hdr;
  ASSERT_FALSE(doc->root["providers"].at(0)["api_key"].get(key));
  EXPECT_EQ(key, "[redacted]");
  ASSERT_FALSE(doc->root["providers"].at(0)["headers"]["x-upstream-token"].get(hdr));
  EXPECT_EQ(hdr, "[redacted]");
  std::string_view sha;
  ASSERT_FALSE(doc->root["keys"].at(0)["sha256"].get(sha));
  EXPECT_EQ(sha, "[redacted]");
  bool required = true;
  ASSERT_FALSE(doc->root["auth"]["required"].get(required));
  EXPECT_FALSE(required);
  EXPECT_NE(providers->body.find(R"("name":"mock")"), std::string::npos) << providers->body;
}

TEST_F(metrics_test, admin_endpoints_are_not_on_the_data_listener_by_default) {
  for (const char* path : {"/metrics", "/admin/config", "/admin/providers"}) {
    auto r = roundtrip(s_gw->port(), get_request(path));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404) << path;
  }
  auto r = roundtrip(s_gw->admin_port(), post_request("/metrics", "x"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  r = roundtrip(s_gw->admin_port(), get_request("/v1/models"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

TEST(metrics_expose, expose_on_data_serves_metrics_on_the_data_listener) {
  server_options gw;
  gw.shards = 1;
  gw.config_toml = "[admin]\nexpose_on_data = true\n";
  auto s = server::start(gw);
  ASSERT_NE(s, nullptr);
  auto r = roundtrip(s->port(), get_request("/metrics"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("ringgate_requests_total"), std::string::npos);
  EXPECT_EQ(s->stop(10s), 0);
}

// [admin] metrics = false: /metrics answers 404, /admin/providers has no pool figures, and the
// gateway serves (and logs) as before.
TEST(metrics_expose, metrics_can_be_turned_off) {
  server_options mock;
  const char* bin = std::getenv("MOCKLLM_BIN");
  mock.binary = bin ? bin : "";
  mock.shards = 1;
  auto m = server::start(mock);
  ASSERT_NE(m, nullptr);
  server_options gw;
  gw.shards = 1;
  gw.config_toml = "[admin]\nmetrics = false\n[auth]\nrequired = false\n\n"
                   "[[providers]]\nname = \"mock\"\nkind = \"openai\"\n"
                   "base_url = \"http://127.0.0.1:" + std::to_string(m->port()) + "/v1\"\n";
  auto s = server::start(gw);
  ASSERT_NE(s, nullptr);
  auto chat = roundtrip(s->port(), post_request("/v1/chat/completions",
                                                R"({"model":"mock/mock-small","messages":[]})"));
  ASSERT_TRUE(chat);
  EXPECT_EQ(chat->status, 200);
  auto r = roundtrip(s->admin_port(), get_request("/metrics"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_NE(r->body.find("metrics are off"), std::string::npos) << r->body;
  auto providers = roundtrip(s->admin_port(), get_request("/admin/providers"));
  ASSERT_TRUE(providers && providers->status == 200);
  EXPECT_NE(providers->body.find(R"("pool":null)"), std::string::npos) << providers->body;
  auto config = roundtrip(s->admin_port(), get_request("/admin/config"));
  ASSERT_TRUE(config && config->status == 200);
  EXPECT_NE(config->body.find(R"("metrics":false)"), std::string::npos) << config->body;
  EXPECT_EQ(s->stop(10s), 0);
  EXPECT_NE(s->proc().out_text().find(R"("path":"/v1/chat/completions")"), std::string::npos)
      << "the access log is independent of metrics";
  EXPECT_EQ(m->stop(10s), 0);
}

// Every server limit counts under its status code.
TEST(metrics_limits, limit_hits_count_408_413_414_431) {
  server_options gw;
  gw.shards = 1;
  gw.config_toml = R"(
[server.limits]
request_line_bytes_max = 256
head_bytes_max = 2048
headers_max = 10
body_bytes_max = 1024
[server.timeouts]
header_read_ms = 300
)";
  auto s = server::start(gw);
  ASSERT_NE(s, nullptr);
  auto status_of = [&](const std::string& request) {
    auto r = roundtrip(s->port(), request);
    return r ? r->status : 0;
  };
  EXPECT_EQ(status_of(get_request("/" + std::string(300, 'a'))), 414);
  std::string many;
  for (int i = 0; i < 20; ++i) many += "x-h" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(status_of(get_request("/health", many)), 431);
  EXPECT_EQ(status_of(post_request("/v1/chat/completions", std::string(2000, 'x'))), 413);
  {
    // A head that never completes: 408 once header_read_ms passes, then the server closes.
    client c;
    ASSERT_TRUE(c.connect(s->port()));
    ASSERT_TRUE(c.send("GET /health HTTP/1.1\r\nHost: x\r\n"));
    EXPECT_TRUE(c.wait_closed(10s));
    EXPECT_NE(c.buffered().find(" 408 "), std::string::npos) << c.buffered();
  }
  auto r = roundtrip(s->admin_port(), get_request("/metrics"));
  ASSERT_TRUE(r && r->status == 200);
  for (const char* code : {"408", "413", "414", "431"}) {
    EXPECT_EQ(sample(r->body, std::string(R"(ringgate_limit_hits_total{code=")") + code + "\"}"), 1)
        << code << "\n" << r->body;
  }
  EXPECT_EQ(s->stop(10s), 0);
}

TEST(metrics_expose, admin_listener_can_be_turned_off) {
  server_options gw;
  gw.shards = 1;
  gw.args = {"--admin-listen", "off"};
  auto s = server::start(gw);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->admin_port(), 0);
  EXPECT_EQ(s->stop(10s), 0);
}

// A real Prometheus server scrapes the admin listener: the target is up and the request counter
// it stored equals the requests the test sent.
TEST_F(metrics_test, prometheus_server_scrapes_the_admin_listener) {
  if (!have("prometheus")) GTEST_SKIP() << "prometheus not installed (tools/dev installs it)";
  std::string before = scrape();
  double base = std::max(0.0, sample(before, chat_2xx));
  constexpr int sent = 7;
  for (int i = 0; i < sent; ++i) {
    auto r = roundtrip(s_gw->port(), post_request("/v1/chat/completions", chat_body));
    ASSERT_TRUE(r && r->status == 200);
  }
  const double want = base + sent;

  temp_dir dir;
  uint16_t prom_port = free_port();
  ASSERT_NE(prom_port, 0);
  std::string cfg = dir.write("prometheus.yml",
                              "global:\n  scrape_interval: 1s\n"
                              "scrape_configs:\n  - job_name: ringgate\n"
                              "    static_configs:\n      - targets: ['127.0.0.1:" +
                                  std::to_string(s_gw->admin_port()) + "']\n");
  process prom;
  ASSERT_TRUE(prom.spawn({which("prometheus"), "--config.file=" + cfg,
                          "--storage.tsdb.path=" + dir.path() + "/data",
                          "--web.listen-address=127.0.0.1:" + std::to_string(prom_port)}))
      << prom.last_error();
  // Poll the query API until the sample appears (Prometheus needs a scrape or two).
  auto query = [&](const std::string& q) -> std::string {
    std::string path = "/api/v1/query?query=" + q;
    auto r = roundtrip(prom_port, get_request(path));
    return r && r->status == 200 ? r->body : std::string{};
  };
  std::string up, counter;
  const std::string counter_query =
      "sum(ringgate_requests_total%7Bendpoint=%22/v1/chat/"
      "completions%22,model=%22mock-small%22,status_class=%222xx%22%7D)";
  auto deadline = steady::now() + 60s;
  while (steady::now() < deadline) {
    up = query("up%7Bjob=%22ringgate%22%7D");
    counter = query(counter_query);
    auto doc = counter.empty() ? nullptr : parse_json(counter);
    simdjson::dom::array result;
    // Both from the same poll: `up` is asked first, and a scrape can land between the two
    // queries (the counter then seen, `up` not yet), so a poll counts only when both show.
    const bool target_up = up.find(R"(,"1"])") != std::string::npos;
    if (target_up && doc && !doc->root["data"]["result"].get(result) && result.size() == 1) {
      std::string_view v;
      if (!result.at(0)["value"].at(1).get(v) && std::stod(std::string(v)) == want) break;
    }
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_NE(up.find(R"("value":[)"), std::string::npos) << up;
  EXPECT_NE(up.find(R"(,"1"])"), std::string::npos) << "target not up: " << up;
  EXPECT_NE(counter.find("\"" + std::to_string(int(want)) + "\"]"), std::string::npos)
      << counter << "\n--- prometheus stderr ---\n"
      << prom.err_text();
  prom.send_signal(SIGTERM);
  prom.wait_exit(20s);
}

}  // namespace
}  // namespace rg::itest
