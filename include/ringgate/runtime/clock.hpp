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

// Wall-clock (Unix) microseconds at a monotonic instant (e.g. a shard's cached now_ns(), or a
// time the caller read already). The offset between the two clocks is read at most once a second
// per thread, so a call usually reads no clock at all (a clock read was 22 ns here, several per
// request); a step or slew of the wall clock shows within a second.
int64_t unix_us_at(uint64_t monotonic_ns) noexcept;

inline constexpr uint64_t ms_to_ns(uint64_t ms) noexcept { return ms * 1'000'000ull; }

}  // namespace rg::runtime
