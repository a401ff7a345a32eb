// Wall-clock time for a monotonic instant, without a clock read per call (see clock.hpp).
#include <ringgate/runtime/clock.hpp>

namespace rg::runtime {
namespace {

constexpr uint64_t refresh_ns = 1'000'000'000;

// Trivially destructible: no TLS guard per access.
constinit thread_local int64_t offset_us = 0;      // wall µs minus monotonic µs
constinit thread_local uint64_t refreshed_ns = 0;  // monotonic time of the last reading, 0: none

}  // namespace

int64_t unix_us_at(uint64_t monotonic) noexcept {
  // An instant older than the last reading (a shard's cached time) uses the offset as it is.
  if (refreshed_ns == 0 || (monotonic > refreshed_ns && monotonic - refreshed_ns >= refresh_ns)) {
    timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    const uint64_t mono = monotonic_ns();
    offset_us = (int64_t(wall.tv_sec) * 1'000'000 + wall.tv_nsec / 1000) - int64_t(mono / 1000);
    refreshed_ns = mono;
  }
  return int64_t(monotonic / 1000) + offset_us;
}

}  // namespace rg::runtime
