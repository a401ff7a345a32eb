// A small, fast pseudo-random generator (splitmix64) for jitter and balancer choices. One per
// shard (or per test), never shared between threads, so it needs no synchronisation.
#pragma once

#include <cstdint>

namespace rg::resilience {

// 64×64→128-bit products for multiply-shift scaling (a GCC/Clang extension: -Wpedantic).
__extension__ typedef unsigned __int128 uint128;

// Uniform in [0, bound) from one 64-bit random value (bound > 0): no division, negligible bias
// for the small bounds used here.
constexpr uint64_t scale_random(uint64_t random, uint64_t bound) noexcept {
  return uint64_t((uint128(random) * bound) >> 64);
}

class rng {
 public:
  explicit rng(uint64_t seed = 0x9e3779b97f4a7c15ull) noexcept : _state(seed) {}

  uint64_t next() noexcept {
    uint64_t z = (_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, bound) (bound > 0).
  uint64_t below(uint64_t bound) noexcept { return scale_random(next(), bound); }

 private:
  uint64_t _state;
};

}  // namespace rg::resilience
