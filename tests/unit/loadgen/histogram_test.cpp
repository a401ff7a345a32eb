// loadgen's log-linear histogram: exact below 1024 µs, within 0.2 % above, percentiles by rank.
#include <gtest/gtest.h>

#include <cstdint>

#include "histogram.hpp"

using rg::loadgen::histogram;

TEST(histogram, buckets_are_exact_below_1024_and_contiguous_above) {
  for (uint64_t v = 0; v < 1024; ++v) {
    EXPECT_EQ(histogram::bucket_of(v), v);
    EXPECT_EQ(histogram::bucket_low(uint32_t(v)), v);
    EXPECT_EQ(histogram::bucket_high(uint32_t(v)), v);
  }
  // Every value lands in a bucket whose bounds hold it, and buckets tile the line without gaps.
  uint64_t next_low = 1024;
  for (uint32_t i = 1024; i < 1024 + 512 * 20; ++i) {
    EXPECT_EQ(histogram::bucket_low(i), next_low) << i;
    uint64_t hi = histogram::bucket_high(i);
    EXPECT_EQ(histogram::bucket_of(next_low), i);
    EXPECT_EQ(histogram::bucket_of(hi), i);
    // Width relative to the value: at most 1/512.
    EXPECT_LE(double(hi - next_low + 1) / double(next_low), 1.0 / 512 + 1e-12);
    next_low = hi + 1;
  }
}

TEST(histogram, empty_reports_zeros) {
  histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.quantile(0.5), 0u);
  EXPECT_EQ(h.mean(), 0.0);
}

TEST(histogram, percentiles_by_rank) {
  histogram h;
  for (uint64_t v = 1; v <= 1000; ++v) h.record(v);
  EXPECT_EQ(h.count(), 1000u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_EQ(h.max(), 1000u);
  EXPECT_EQ(h.quantile(0.5), 500u);
  EXPECT_EQ(h.quantile(0.9), 900u);
  EXPECT_EQ(h.quantile(0.99), 990u);
  EXPECT_EQ(h.quantile(0.999), 999u);
  EXPECT_EQ(h.quantile(1.0), 1000u);
  EXPECT_DOUBLE_EQ(h.mean(), 500.5);
}

TEST(histogram, ten_percent_slow_answers_move_p99_but_not_p90) {
  histogram h;
  for (int i = 0; i < 90; ++i) h.record(300);
  for (int i = 0; i < 10; ++i) h.record(200'000);
  EXPECT_EQ(h.quantile(0.5), 300u);
  EXPECT_EQ(h.quantile(0.9), 300u);
  uint64_t p99 = h.quantile(0.99);
  EXPECT_GE(p99, 200'000u);
  EXPECT_LE(p99, 200'000u + 200'000u / 512);
  EXPECT_EQ(h.max(), 200'000u);
}

TEST(histogram, large_values_within_relative_error_and_never_above_max) {
  histogram h;
  h.record(123'456'789);
  uint64_t q = h.quantile(0.5);
  EXPECT_EQ(q, 123'456'789u);  // clamped to [min, max]
  h.record(987'654'321);
  q = h.quantile(0.5);
  EXPECT_GE(q, 123'456'789u);
  EXPECT_LE(double(q - 123'456'789) / 123'456'789.0, 1.0 / 512);
}

TEST(histogram, merge_adds_counts_and_bounds) {
  histogram a, b;
  for (uint64_t v = 1; v <= 500; ++v) a.record(v);
  for (uint64_t v = 501; v <= 1000; ++v) b.record(v);
  a.merge(b);
  EXPECT_EQ(a.count(), 1000u);
  EXPECT_EQ(a.min(), 1u);
  EXPECT_EQ(a.max(), 1000u);
  EXPECT_EQ(a.quantile(0.5), 500u);
  histogram empty;
  a.merge(empty);
  EXPECT_EQ(a.min(), 1u);
  EXPECT_EQ(a.count(), 1000u);
}
