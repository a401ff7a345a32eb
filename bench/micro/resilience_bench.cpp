// The per-request cost of resilience decisions, single-threaded (no contention): a balancer
// pick over a 3-member pool (and a 16-member one) with the availability check every member
// gets (health, limit, circuit), a circuit breaker's acquire + success verdict, and a limiter
// acquire + release. What a request pays on top of a single-target route is roughly one pick,
// one permit, two limiter round trips and one EWMA sample. Last result: not recorded yet (run
// on a quiet machine: `tools/dev bench`).
#include <benchmark/benchmark.h>

#include <memory>
#include <vector>

#include <ringgate/resilience/balancer.hpp>
#include <ringgate/resilience/circuit.hpp>

namespace {

using namespace rg::resilience;

struct pool {
  explicit pool(size_t n) {
    for (size_t i = 0; i < n; ++i) {
      states.push_back(std::make_unique<endpoint_state>(circuit_options{}, 0));
      members.push_back({states.back().get(), uint32_t(1 + i % 3)});
      states.back()->ttfb.sample(1'000'000 * (1 + i), 0);
    }
    cur.assign(n, 0);
  }
  std::vector<std::unique_ptr<endpoint_state>> states;
  std::vector<member> members;
  std::vector<int64_t> cur;
  rng r{7};
};

void bench_pick(benchmark::State& state, balancer_kind kind) {
  pool p(size_t(state.range(0)));
  uint64_t now = 1'000'000'000;
  auto ok = [&](uint32_t i) { return p.members[i].state->available(now); };
  for (auto _ : state) {
    uint32_t i = pick(kind, p.members, p.cur, p.r, now, ok);
    benchmark::DoNotOptimize(i);
  }
}

void BM_pick_weighted(benchmark::State& s) { bench_pick(s, balancer_kind::weighted); }
void BM_pick_least_outstanding(benchmark::State& s) {
  bench_pick(s, balancer_kind::least_outstanding);
}
void BM_pick_p2c_ewma(benchmark::State& s) { bench_pick(s, balancer_kind::p2c_ewma); }
BENCHMARK(BM_pick_weighted)->Arg(3)->Arg(16);
BENCHMARK(BM_pick_least_outstanding)->Arg(3)->Arg(16);
BENCHMARK(BM_pick_p2c_ewma)->Arg(3)->Arg(16);

// The circuit's share of a successful request: the availability check, a permit, the verdict
// (the failure-rate window counts it).
void BM_circuit_check_and_success(benchmark::State& state) {
  circuit_breaker b(circuit_options{});
  uint64_t now = 1'000'000'000;
  for (auto _ : state) {
    benchmark::DoNotOptimize(b.available(now));
    permit p = b.acquire(now);
    b.on_success(p, now);
    now += 1000;
  }
}
BENCHMARK(BM_circuit_check_and_success);

// The same with the failure-rate window off (consecutive failures only).
void BM_circuit_check_and_success_no_window(benchmark::State& state) {
  circuit_options o;
  o.rate_percent = 0;
  circuit_breaker b(o);
  uint64_t now = 1'000'000'000;
  for (auto _ : state) {
    benchmark::DoNotOptimize(b.available(now));
    b.on_success(b.acquire(now), now);
  }
}
BENCHMARK(BM_circuit_check_and_success_no_window);

void BM_limiter_acquire_release(benchmark::State& state) {
  limiter l(256);
  for (auto _ : state) {
    benchmark::DoNotOptimize(l.try_acquire());
    l.release();
  }
}
BENCHMARK(BM_limiter_acquire_release);

void BM_ewma_sample(benchmark::State& state) {
  latency_ewma e;
  uint64_t now = 0;
  for (auto _ : state) {
    e.sample(2'000'000 + (now & 0xffff), now);
    now += 100'000;
  }
  benchmark::DoNotOptimize(e.current(now));
}
BENCHMARK(BM_ewma_sample);

}  // namespace

BENCHMARK_MAIN();
