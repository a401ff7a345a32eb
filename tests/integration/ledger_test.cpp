// The usage ledger and the operator commands end to end: a restart keeps a budget's spend,
// SIGTERM flushes every row (rows = requests sent), kill -9 loses at most the last batch
// interval and leaves a readable file, `ringgate usage` filters by key and time, and
// `ringgate hash-key` round-trips into a working [[keys]] entry.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <regex>
#include <string>
#include <thread>

#include "governance_util.hpp"

namespace rg::itest {
namespace {

class ledger_test : public ::testing::Test {
 protected:
  void SetUp() override {
    server_options mock;
    mock.binary = mockllm_bin();
    mock.shards = 1;
    _mock = server::start(mock);
    ASSERT_NE(_mock, nullptr);
    _ledger = _dir.path() + "/usage.db";
  }
  void TearDown() override {
    if (_mock) {
      EXPECT_EQ(_mock->stop(10s), 0);
    }
  }
  // A gateway whose ledger is _ledger, committing every `flush_ms`.
  std::unique_ptr<server> gateway(std::string_view keys, uint32_t flush_ms = 100) {
    server_options gw;
    gw.shards = 2;
    gw.config_toml = gateway_toml(
        _mock->port(), keys,
        "[usage]\nfile = \"" + _ledger + "\"\nflush_interval_ms = " + std::to_string(flush_ms) + "\n");
    return server::start(gw);
  }
  // Waits (bounded) until the ledger holds at least `n` rows; returns the last count seen.
  long wait_rows(long n) {
    long rows = -1;
    auto deadline = steady::now() + 10s;
    while (steady::now() < deadline) {
      rows = total_requests(usage_report(_ledger));
      if (rows >= n) break;
      std::this_thread::sleep_for(50ms);
    }
    return rows;
  }

  temp_dir _dir;
  std::string _ledger;
  std::unique_ptr<server> _mock;
};

// Budget for exactly three requests of `fixed` (10 output tokens at 1 USD per million = 10 µ$).
const std::string three_requests =
    key_toml("team-a", demo_sha, "budget_usd = 0.00003\nbudget_period = \"monthly\"\n") +
    "\n[[models]]\nname = \"fixed\"\ntargets = [{ provider = \"mock\", model = \"mock-small\" }]\n"
    "price = { input_per_mtok = 0.0, output_per_mtok = 1.0 }\n";

std::string fixed_request() {
  return post_request("/v1/chat/completions", chat("fixed", 10),
                      bearer(demo_key) + "x-mock-words: 10\r\n");
}

TEST_F(ledger_test, restart_keeps_the_budget_spent) {
  auto gw = gateway(three_requests);
  ASSERT_NE(gw, nullptr);
  for (int i = 0; i < 2; ++i) ASSERT_EQ(roundtrip(gw->port(), fixed_request())->status, 200);
  ASSERT_EQ(gw->stop(10s), 0);

  auto again = gateway(three_requests);
  ASSERT_NE(again, nullptr);
  EXPECT_TRUE(again->proc().wait_stderr("budget restored from the usage ledger", 5s))
      << again->proc().err_text();
  EXPECT_EQ(roundtrip(again->port(), fixed_request())->status, 200);
  auto refused = roundtrip(again->port(), fixed_request());
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 429) << refused->body;
  EXPECT_NE(refused->body.find("insufficient_quota"), std::string::npos);
  ASSERT_EQ(again->stop(10s), 0);

  // The spend as `ringgate usage` reports it, with the budget line from the config.
  std::string report = usage_report(_ledger);
  EXPECT_EQ(total_requests(report), 3);
  EXPECT_NE(report.find("0.000030000"), std::string::npos) << report;
  std::string cfg = _dir.write("rg.toml", gateway_toml(_mock->port(), three_requests,
                                                      "[usage]\nfile = \"" + _ledger + "\"\n"));
  run_result r = run_to_exit({ringgate_bin(), "usage", "--config", cfg, "--key", "team-a"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("budget team-a"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0.000030000 of 0.000030000 USD (monthly, m:"), std::string::npos) << r.out;
}

TEST_F(ledger_test, sigterm_flushes_every_row) {
  // A flush interval longer than the test: only the SIGTERM flush can write the rows.
  auto gw = gateway(key_toml("team-a", demo_sha), 60000);
  ASSERT_NE(gw, nullptr);
  constexpr int n = 60;
  for (int i = 0; i < n; ++i) {
    auto r = post_chat(gw->port(), bearer(demo_key), chat("mock-small", -1, i % 3 == 0));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
  }
  // A refused request is no row: it was never admitted.
  EXPECT_EQ(post_chat(gw->port(), "")->status, 401);
  ASSERT_EQ(gw->stop(10s), 0);
  std::string report = usage_report(_ledger);
  EXPECT_EQ(total_requests(report), n) << report;
  EXPECT_NE(report.find("team-a"), std::string::npos);
}

TEST_F(ledger_test, kill_9_loses_at_most_the_last_batch_interval) {
  auto gw = gateway(key_toml("team-a", demo_sha), 100);
  ASSERT_NE(gw, nullptr);
  for (int i = 0; i < 20; ++i) ASSERT_EQ(post_chat(gw->port(), bearer(demo_key))->status, 200);
  // Within a flush interval or so the rows are committed...
  EXPECT_EQ(wait_rows(20), 20);
  // ...so a crash right after more requests can only lose those.
  for (int i = 0; i < 5; ++i) ASSERT_EQ(post_chat(gw->port(), bearer(demo_key))->status, 200);
  ASSERT_TRUE(gw->proc().send_signal(SIGKILL));
  gw->proc().wait_exit(10s);
  long rows = total_requests(usage_report(_ledger));
  EXPECT_GE(rows, 20);
  EXPECT_LE(rows, 25);
  // The file (WAL) recovers: a new process appends to it.
  auto again = gateway(key_toml("team-a", demo_sha), 100);
  ASSERT_NE(again, nullptr);
  ASSERT_EQ(post_chat(again->port(), bearer(demo_key))->status, 200);
  ASSERT_EQ(again->stop(10s), 0);
  EXPECT_EQ(total_requests(usage_report(_ledger)), rows + 1);
}

TEST_F(ledger_test, usage_filters_by_key_and_time) {
  std::string other = key_toml("team-b", "ff4348f7494e8d75f23935e49ff87c23d59c5863a59631f4d2b229dfce1249f9");
  auto gw = gateway(key_toml("team-a", demo_sha) + other);
  ASSERT_NE(gw, nullptr);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(post_chat(gw->port(), bearer(demo_key))->status, 200);
  ASSERT_EQ(post_chat(gw->port(), bearer("sk-client-secret-9999"))->status, 200);
  ASSERT_EQ(gw->stop(10s), 0);
  std::string all = usage_report(_ledger);
  EXPECT_EQ(total_requests(all), 4) << all;
  EXPECT_EQ(total_requests(usage_report(_ledger, {"--key", "team-b"})), 1);
  EXPECT_EQ(total_requests(usage_report(_ledger, {"--since", "1h"})), 4);
  EXPECT_EQ(total_requests(usage_report(_ledger, {"--since", "2999-01-01"})), 0);
  run_result bad = run_to_exit({ringgate_bin(), "usage", "--ledger", _ledger, "--since", "soon"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--since"), std::string::npos);
  run_result none = run_to_exit({ringgate_bin(), "usage"});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("--config FILE or --ledger FILE"), std::string::npos) << none.err;
  run_result missing = run_to_exit({ringgate_bin(), "usage", "--ledger", _dir.path() + "/nope/x.db"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("nope/x.db"), std::string::npos) << missing.err;
}

TEST_F(ledger_test, hash_key_round_trip) {
  // The key goes in on stdin; the printed hash in a [[keys]] entry admits that key.
  const std::string key = "sk-round-trip-7c1f";
  run_result h = run_to_exit({"/bin/sh", "-c", "printf %s '" + key + "' | '" + ringgate_bin() + "' hash-key"});
  ASSERT_EQ(h.exit_code, 0) << h.err;
  std::string sha = h.out.substr(0, h.out.find('\n'));
  ASSERT_EQ(sha.size(), 64u) << h.out;
  run_result sum = run_to_exit({"/bin/sh", "-c", "printf %s '" + key + "' | sha256sum"});
  EXPECT_EQ(sum.out.substr(0, 64), sha);  // the same digest as coreutils
  // A trailing newline (echo) is not part of the key.
  run_result echoed = run_to_exit({"/bin/sh", "-c", "echo '" + key + "' | '" + ringgate_bin() + "' hash-key"});
  EXPECT_EQ(echoed.out.substr(0, 64), sha);
  // --generate: a fresh key and its hash.
  run_result gen = run_to_exit({ringgate_bin(), "hash-key", "--generate"});
  ASSERT_EQ(gen.exit_code, 0);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(gen.out, m, std::regex("key: +(sk-rg-[A-Za-z0-9]{40})\nsha256: ([0-9a-f]{64})\n")))
      << gen.out;
  const std::string new_key = m[1], new_sha = m[2];
  // Refusals: a key on the command line, nothing on stdin.
  run_result arg = run_to_exit({ringgate_bin(), "hash-key", key});
  EXPECT_EQ(arg.exit_code, 2);
  EXPECT_EQ(arg.out.find(key), std::string::npos);
  run_result empty = run_to_exit({"/bin/sh", "-c", "'" + ringgate_bin() + "' hash-key </dev/null"});
  EXPECT_EQ(empty.exit_code, 2);

  auto gw = gateway(key_toml("round-trip", sha) + key_toml("generated", new_sha));
  ASSERT_NE(gw, nullptr);
  EXPECT_EQ(post_chat(gw->port(), bearer(key))->status, 200);
  EXPECT_EQ(post_chat(gw->port(), bearer(new_key))->status, 200);
  EXPECT_EQ(post_chat(gw->port(), bearer(key + "x"))->status, 401);
  ASSERT_EQ(gw->stop(10s), 0);
}

}  // namespace
}  // namespace rg::itest
