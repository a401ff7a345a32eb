// The watchdog decision: pings on schedule, withholds while a looping shard's heartbeat stands
// still past the stall bound, and ignores shards that have not started or have finished.
#include <ringgate/runtime/watchdog.hpp>

#include <gtest/gtest.h>

#include <vector>

using namespace rg::runtime;

namespace {

using verdict = watchdog::verdict;

constexpr uint64_t ms = 1'000'000;
constexpr uint64_t ping = 100 * ms;
constexpr uint64_t stall = 300 * ms;

TEST(watchdog, pings_on_schedule_while_heartbeats_move) {
  watchdog wd(ping, stall, 0);
  std::vector<shard_beat> beats = {{1, true}, {1, true}};
  EXPECT_EQ(wd.tick(beats, 0), verdict::ping);
  EXPECT_EQ(wd.tick(beats, 50 * ms), verdict::wait);
  for (uint64_t t = 100 * ms, n = 2; t <= 2000 * ms; t += 100 * ms, ++n) {
    beats[0].count = beats[1].count = n;
    EXPECT_EQ(wd.tick(beats, t), verdict::ping) << t / ms << " ms";
    EXPECT_EQ(wd.stalled_shard(), -1);
  }
}

TEST(watchdog, no_watchdog_means_never_ping) {
  watchdog wd(0, stall, 0);
  std::vector<shard_beat> beats = {{1, true}};
  for (uint64_t t = 0; t <= 1000 * ms; t += 100 * ms) EXPECT_EQ(wd.tick(beats, t), verdict::wait);
}

TEST(watchdog, a_still_looping_shard_withholds_until_it_moves_again) {
  watchdog wd(ping, stall, 0);
  std::vector<shard_beat> beats = {{1, true}, {1, true}};
  EXPECT_EQ(wd.tick(beats, 0), verdict::ping);
  // Shard 1 stops beating at 0 ms; shard 0 keeps going.
  uint64_t n = 1;
  for (uint64_t t = 100 * ms; t <= 300 * ms; t += 100 * ms) {
    beats[0].count = ++n;
    EXPECT_EQ(wd.tick(beats, t), verdict::ping) << "within the stall bound at " << t / ms;
  }
  for (uint64_t t = 400 * ms; t <= 800 * ms; t += 100 * ms) {
    beats[0].count = ++n;
    EXPECT_EQ(wd.tick(beats, t), verdict::withhold) << t / ms << " ms";
    EXPECT_EQ(wd.stalled_shard(), 1);
  }
  beats[1].count = 2;  // it recovers
  EXPECT_EQ(wd.tick(beats, 900 * ms), verdict::ping);
  EXPECT_EQ(wd.stalled_shard(), -1);
}

TEST(watchdog, the_stall_is_decided_between_pings_too) {
  watchdog wd(1000 * ms, stall, 0);  // pings every second, stall bound 300 ms
  std::vector<shard_beat> beats = {{1, true}};
  EXPECT_EQ(wd.tick(beats, 0), verdict::ping);
  EXPECT_EQ(wd.tick(beats, 500 * ms), verdict::wait);
  EXPECT_EQ(wd.stalled_shard(), 0);
  EXPECT_EQ(wd.tick(beats, 1000 * ms), verdict::withhold);
}

// The audit's case: during a multi-shard drain one shard finishes (its loop ends, its heartbeat
// stops) while another still serves an in-flight request. That is not a stall.
TEST(watchdog, a_finished_shard_is_not_stalled) {
  watchdog wd(ping, stall, 0);
  std::vector<shard_beat> beats = {{5, true}, {5, true}};
  EXPECT_EQ(wd.tick(beats, 0), verdict::ping);
  beats[0].looping = false;  // shard 0 drained and left its loop
  uint64_t n = 5;
  for (uint64_t t = 100 * ms; t <= 2000 * ms; t += 100 * ms) {
    beats[1].count = ++n;
    EXPECT_EQ(wd.tick(beats, t), verdict::ping) << t / ms << " ms";
  }
  // All finished: nothing left to stall.
  beats[1].looping = false;
  EXPECT_EQ(wd.tick(beats, 2100 * ms), verdict::ping);
  EXPECT_EQ(wd.tick(beats, 3000 * ms), verdict::ping);
}

TEST(watchdog, a_shard_not_started_yet_is_not_stalled) {
  watchdog wd(ping, stall, 0);
  std::vector<shard_beat> beats = {{0, false}, {3, true}};
  uint64_t n = 3;
  for (uint64_t t = 0; t <= 1000 * ms; t += 100 * ms) {
    beats[1].count = ++n;
    EXPECT_EQ(wd.tick(beats, t), verdict::ping) << t / ms << " ms";
  }
  // It starts late with its count still at 0: its clock starts now, not at construction.
  beats[0].looping = true;
  for (uint64_t t = 1100 * ms; t <= 1400 * ms; t += 100 * ms) {
    beats[1].count = ++n;
    EXPECT_EQ(wd.tick(beats, t), verdict::ping) << t / ms << " ms";
  }
  beats[1].count = ++n;
  EXPECT_EQ(wd.tick(beats, 1500 * ms), verdict::withhold);  // 400 ms without a beat
  EXPECT_EQ(wd.stalled_shard(), 0);
}

}  // namespace
