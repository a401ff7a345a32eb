#include "histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace rg::loadgen {

uint32_t histogram::bucket_of(uint64_t v) noexcept {
  if (v < linear_max) return uint32_t(v);
  uint32_t msb = 63 - uint32_t(std::countl_zero(v));
  uint32_t shift = msb - sub_bits;  // ≥ 1 here
  uint32_t index = (shift + 1) * sub_count + uint32_t(v >> shift) - sub_count;
  return std::min(index, bucket_count - 1);
}

uint64_t histogram::bucket_low(uint32_t index) noexcept {
  if (index < linear_max) return index;
  uint32_t shift = index / sub_count - 1;
  return (uint64_t(index % sub_count) + sub_count) << shift;
}

uint64_t histogram::bucket_high(uint32_t index) noexcept {
  if (index < linear_max) return index;
  uint32_t shift = index / sub_count - 1;
  return bucket_low(index) + (uint64_t{1} << shift) - 1;
}

void histogram::record(uint64_t v) noexcept {
  ++_counts[bucket_of(v)];
  ++_count;
  _sum += v;
  _min = std::min(_min, v);
  _max = std::max(_max, v);
}

void histogram::merge(const histogram& o) noexcept {
  for (uint32_t i = 0; i < bucket_count; ++i) _counts[i] += o._counts[i];
  _count += o._count;
  _sum += o._sum;
  _min = std::min(_min, o._min);
  _max = std::max(_max, o._max);
}

uint64_t histogram::quantile(double q) const noexcept {
  if (_count == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  auto rank = uint64_t(std::ceil(q * double(_count)));
  rank = std::clamp<uint64_t>(rank, 1, _count);
  uint64_t seen = 0;
  for (uint32_t i = 0; i < bucket_count; ++i) {
    seen += _counts[i];
    if (seen >= rank) return std::clamp(bucket_high(i), _min, _max);
  }
  return _max;
}

}  // namespace rg::loadgen
