// unix_us_at: wall time derived from a monotonic instant agrees with the wall clock, follows the
// monotonic time it is given (older or newer than the last reading), and needs no reading between.
#include <ringgate/runtime/clock.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

namespace rg::runtime {
namespace {

int64_t wall_us_now() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

TEST(UnixUsAt, AgreesWithTheWallClock) {
  for (int i = 0; i < 3; ++i) {
    const int64_t before = wall_us_now();
    const int64_t derived = unix_us_at(monotonic_ns());
    const int64_t after = wall_us_now();
    EXPECT_GE(derived, before - 2'000);  // the offset is read a few ns apart: ms is plenty
    EXPECT_LE(derived, after + 2'000);
  }
}

TEST(UnixUsAt, MovesWithTheMonotonicTimeGiven) {
  const uint64_t now = monotonic_ns();
  const int64_t at_now = unix_us_at(now);
  EXPECT_EQ(unix_us_at(now + 250'000'000) - at_now, 250'000);         // within the refresh second
  EXPECT_EQ(at_now - unix_us_at(now - 3'000'000'000ull), 3'000'000);  // an older instant
  // Past the refresh second the offset is read again; the clocks do not drift by a ms in this.
  EXPECT_LE(std::llabs(unix_us_at(now + 5'000'000'000ull) - at_now - 5'000'000), 1'000);
}

}  // namespace
}  // namespace rg::runtime
