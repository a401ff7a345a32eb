// Governance on the request path, piece by piece: looking a presented key up (SHA-256 of the key,
// then a probe by digest) in tables of 1 to 10,000 keys, and through a shard's key cache, a token-bucket take from a shard's slice
// (the common case, no atomic) and from the global pool (one CAS), a whole admission + settlement
// (concurrency, RPM, TPM, budget) and the budget reservation alone. Results: not recorded here
// (measured by the lead on a quiet machine; see BENCHMARKS.md).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include <ringgate/governance/governor.hpp>
#include <ringgate/governance/keys.hpp>
#include <ringgate/governance/limiter.hpp>

namespace {

using namespace rg::governance;

std::vector<rg::config::key_config> keys(size_t n) {
  std::vector<rg::config::key_config> out;
  for (size_t i = 0; i < n; ++i) {
    rg::config::key_config k;
    k.name = "team-" + std::to_string(i);
    k.sha256 = to_hex(sha256("sk-live-key-number-" + std::to_string(i) + "-padding-to-40"));
    out.push_back(std::move(k));
  }
  return out;
}

void key_lookup(benchmark::State& state) {
  key_table t = key_table::build(keys(size_t(state.range(0))));
  const std::string presented = "sk-live-key-number-0-padding-to-40";  // a 34-byte key
  for (auto _ : state) benchmark::DoNotOptimize(t.find(presented));
}
BENCHMARK(key_lookup)->Arg(1)->Arg(100)->Arg(10000);

// The same key again through a shard's key cache (SipHash-128 instead of SHA-256).
void key_lookup_cached(benchmark::State& state) {
  key_table t = key_table::build(keys(size_t(state.range(0))));
  key_cache c(t, {0x243f6a8885a308d3ull, 0x13198a2e03707344ull});
  const std::string presented = "sk-live-key-number-0-padding-to-40";
  for (auto _ : state) benchmark::DoNotOptimize(c.find(presented));
}
BENCHMARK(key_lookup_cached)->Arg(1)->Arg(10000);

void key_lookup_miss(benchmark::State& state) {
  key_table t = key_table::build(keys(100));
  const std::string presented = "sk-live-key-number-0-padding-to-4X";
  for (auto _ : state) benchmark::DoNotOptimize(t.find(presented));
}
BENCHMARK(key_lookup_miss);

void sha256_only(benchmark::State& state) {
  const std::string presented(size_t(state.range(0)), 'k');
  for (auto _ : state) benchmark::DoNotOptimize(sha256(presented));
}
BENCHMARK(sha256_only)->Arg(20)->Arg(51)->Arg(64);

// A take that the slice serves (refunded so the slice never runs dry): shard-local memory only.
void bucket_take_slice(benchmark::State& state) {
  limiter lim;
  lim.configure(1'000'000'000, 2);
  slice s;
  int64_t now = to_ticks(1'000'000'000);
  for (auto _ : state) {
    benchmark::DoNotOptimize(lim.take(s, now, 1));
    lim.refund(s, now, 1);
  }
}
BENCHMARK(bucket_take_slice);

// A take that must lease from the global pool: one CAS on the pool's word each time.
void bucket_take_pool(benchmark::State& state) {
  limiter lim;
  lim.configure(1'000'000'000, 2);
  slice s;
  int64_t now = to_ticks(1'000'000'000);
  for (auto _ : state) {
    now += 1000 * ticks_per_ns;  // time passes: the pool refills
    s.tokens = 0;
    benchmark::DoNotOptimize(lim.take(s, now, 1));
  }
}
BENCHMARK(bucket_take_pool);

// Everything a keyed request costs in governance except the key lookup and the ledger row.
void admit_and_settle(benchmark::State& state) {
  auto cfg = keys(1);
  cfg[0].rpm = 100'000'000;
  cfg[0].tpm = 1'000'000'000;
  cfg[0].max_concurrent = 1000;
  cfg[0].budget_usd = 1'000'000;
  governance g(key_table::build(cfg), 2, true, 1'795'824'000);
  shard_governor s(g, 0);
  price p = price::from({0.15, 0.60, 0});
  admission a;
  a.key = 0;
  a.model = "mock-small";
  a.model_price = &p;
  a.tpm_tokens = 30;
  a.budget_input_tokens = 40;
  a.budget_output_tokens = 20;
  a.unix_us = 1'795'824'000'000'000;
  uint64_t now = 1'000'000'000;
  for (auto _ : state) {
    a.now_ns = now += 1000;
    ticket t;
    rejection r;
    benchmark::DoNotOptimize(s.admit(a, t, r));
    benchmark::DoNotOptimize(s.settle(t, {17, 0, 3}, now));
  }
}
BENCHMARK(admit_and_settle);

void budget_reserve_settle(benchmark::State& state) {
  budget_account b;
  b.configure(period::monthly, nano_usd(1) << 50, 0, 0);
  for (auto _ : state) {
    budget_account::reservation r;
    benchmark::DoNotOptimize(b.reserve(0, 1000, r));
    b.settle(r, 700);
  }
}
BENCHMARK(budget_reserve_settle);

}  // namespace

BENCHMARK_MAIN();
