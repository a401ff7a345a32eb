// The upstream header allowlist: deciding, for every header of a typical SDK request, whether it
// travels upstream (most do not), with and without per-provider extras.
#include <benchmark/benchmark.h>

#include <string_view>
#include <vector>

#include "headers.hpp"

namespace {

// The headers the openai SDK (node) sends with a chat completion, plus a proxy's additions.
constexpr std::string_view sdk_headers[] = {
    "Host",
    "Content-Type",
    "Authorization",
    "User-Agent",
    "Accept",
    "Content-Length",
    "X-Stainless-Lang",
    "X-Stainless-Package-Version",
    "X-Stainless-OS",
    "X-Stainless-Arch",
    "X-Stainless-Runtime",
    "X-Stainless-Runtime-Version",
    "X-Stainless-Retry-Count",
    "X-Stainless-Timeout",
    "Accept-Encoding",
    "Connection",
    "X-Forwarded-For",
    "X-Request-Id",
};

void run(benchmark::State& state, const std::vector<rg::gateway::forward_rule>& extra) {
  size_t forwarded = 0;
  for (auto _ : state) {
    for (std::string_view name : sdk_headers) {
      forwarded += rg::gateway::forwarded_header(extra, name) ? 1 : 0;
    }
    benchmark::DoNotOptimize(forwarded);
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
  state.SetLabel("per request of 18 headers");
}

void allowlist_sdk_request(benchmark::State& state) {
  run(state, {});
}

void allowlist_sdk_request_with_extras(benchmark::State& state) {
  run(state, {{"x-mock-", true}, {"anthropic-beta", false}, {"x-stainless-", true}});
}

}  // namespace

BENCHMARK(allowlist_sdk_request);
BENCHMARK(allowlist_sdk_request_with_extras);
BENCHMARK_MAIN();
