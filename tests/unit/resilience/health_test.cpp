// Active health verdicts: fall and rise thresholds, and a streak broken by the other result.
#include <gtest/gtest.h>

#include <ringgate/resilience/health.hpp>

using namespace rg::resilience;

namespace {

TEST(health, unhealthy_after_n_failures_healthy_after_m_passes) {
  health_tracker h({.unhealthy_after = 2, .healthy_after = 3});
  EXPECT_TRUE(h.healthy());
  EXPECT_FALSE(h.on_check(false));
  EXPECT_TRUE(h.healthy());
  EXPECT_FALSE(h.on_check(true));  // breaks the failure streak
  EXPECT_FALSE(h.on_check(false));
  EXPECT_TRUE(h.on_check(false));
  EXPECT_FALSE(h.healthy());
  EXPECT_FALSE(h.on_check(false));
  EXPECT_FALSE(h.on_check(true));
  EXPECT_FALSE(h.on_check(true));
  EXPECT_FALSE(h.on_check(false));  // breaks the pass streak
  EXPECT_FALSE(h.on_check(true));
  EXPECT_FALSE(h.on_check(true));
  EXPECT_TRUE(h.on_check(true));
  EXPECT_TRUE(h.healthy());
}

TEST(health, thresholds_of_one_flip_at_once) {
  health_tracker h({.unhealthy_after = 1, .healthy_after = 1});
  EXPECT_TRUE(h.on_check(false));
  EXPECT_FALSE(h.healthy());
  EXPECT_TRUE(h.on_check(true));
  EXPECT_TRUE(h.healthy());
  EXPECT_FALSE(h.on_check(true));
}

}  // namespace
