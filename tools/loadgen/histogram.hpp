// A log-linear histogram of microsecond values (the shape of HdrHistogram): exact below 1024 µs,
// then 512 buckets per power of two, so a recorded value is known to within 0.2 %. Fixed size,
// no allocation after construction; one per worker thread, merged at the end.
#pragma once
#include <cstdint>
#include <vector>

namespace rg::loadgen {

class histogram {
 public:
  static constexpr uint32_t sub_bits = 9;                // 512 buckets per octave
  static constexpr uint32_t sub_count = 1u << sub_bits;  // 512
  static constexpr uint32_t linear_max = 2 * sub_count;  // values below this are exact
  static constexpr uint32_t octaves = 40 - sub_bits;     // up to 2^40 µs (12.7 days)
  static constexpr uint32_t bucket_count = linear_max + octaves * sub_count;

  histogram() : _counts(bucket_count, 0) {}

  void record(uint64_t value_us) noexcept;
  void merge(const histogram& other) noexcept;

  uint64_t count() const noexcept { return _count; }
  uint64_t min() const noexcept { return _count ? _min : 0; }
  uint64_t max() const noexcept { return _max; }
  double mean() const noexcept { return _count ? double(_sum) / double(_count) : 0.0; }
  // The value at quantile q (0 < q ≤ 1): the smallest recorded bucket whose cumulative count
  // reaches ceil(q × count), reported as that bucket's highest value (never above max()).
  // 0 when empty.
  uint64_t quantile(double q) const noexcept;

  static uint32_t bucket_of(uint64_t value_us) noexcept;
  static uint64_t bucket_low(uint32_t index) noexcept;
  static uint64_t bucket_high(uint32_t index) noexcept;  // inclusive

 private:
  std::vector<uint64_t> _counts;
  uint64_t _count = 0;
  uint64_t _sum = 0;
  uint64_t _min = UINT64_MAX;
  uint64_t _max = 0;
};

}  // namespace rg::loadgen
