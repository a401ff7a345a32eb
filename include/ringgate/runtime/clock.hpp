// Monotonic time in nanoseconds. Shards cache "now" once per loop turn; deadlines compare against it.
#pragma once

#include <cstdint>
#include <ctime>

namespace rg::runtime {

inline uint64_t monotonic_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000ull + uint64_t(ts.tv_nsec);
}

inline constexpr uint64_t ms_to_ns(uint64_t ms) noexcept { return ms * 1'000'000ull; }

}  // namespace rg::runtime
