// The three balancers, each choosing one member of a pool among those `ok(i)` accepts (the caller
// folds circuit state, health, concurrency limits and "already tried" into that predicate):
//   weighted           smooth weighted round-robin (nginx's): exact shares, evenly interleaved;
//                      its running weights are per shard (`cur`), so shards never contend
//   least_outstanding  fewest requests in flight (across all shards) per unit of weight; ties
//                      go to a random one of them
//   p2c_ewma           two members drawn in proportion to weight; the one with the lower
//                      EWMA(time to first byte) × (in flight + 1) wins
// Header-only templates so the predicate inlines; no allocation, one pass (two for p2c).
#pragma once

#include <cstdint>
#include <span>

#include <ringgate/resilience/endpoint_state.hpp>
#include <ringgate/resilience/rng.hpp>

namespace rg::resilience {

enum class balancer_kind : uint8_t { weighted, least_outstanding, p2c_ewma };

struct member {
  const endpoint_state* state;
  uint32_t weight;  // > 0
};

inline constexpr uint32_t no_pick = UINT32_MAX;

template <class Ok>
uint32_t pick_weighted(std::span<const member> m, std::span<int64_t> cur, Ok&& ok) noexcept {
  int64_t total = 0;
  uint32_t best = no_pick;
  for (uint32_t i = 0; i < m.size(); ++i) {
    if (!ok(i)) continue;
    cur[i] += m[i].weight;
    total += m[i].weight;
    if (best == no_pick || cur[i] > cur[best]) best = i;
  }
  if (best != no_pick) cur[best] -= total;
  return best;
}

template <class Ok>
uint32_t pick_least_outstanding(std::span<const member> m, rng& r, Ok&& ok) noexcept {
  uint32_t n = uint32_t(m.size());
  if (n == 0) return no_pick;
  uint32_t start = uint32_t(r.below(n));
  uint32_t best = no_pick;
  uint64_t best_load = 0, best_weight = 1;
  for (uint32_t k = 0; k < n; ++k) {
    uint32_t i = start + k < n ? start + k : start + k - n;
    if (!ok(i)) continue;
    uint64_t load = uint64_t(m[i].state->in_flight.used()) + 1;
    // load / weight < best_load / best_weight, without division.
    if (best == no_pick || load * best_weight < best_load * m[i].weight) {
      best = i;
      best_load = load;
      best_weight = m[i].weight;
    }
  }
  return best;
}

// One member drawn with probability proportional to weight among ok() ones, skipping `except`.
template <class Ok>
uint32_t draw_weighted(std::span<const member> m, rng& r, uint32_t except, Ok&& ok) noexcept {
  uint64_t total = 0;
  for (uint32_t i = 0; i < m.size(); ++i) {
    if (i != except && ok(i)) total += m[i].weight;
  }
  if (total == 0) return no_pick;
  uint64_t x = r.below(total);
  for (uint32_t i = 0; i < m.size(); ++i) {
    if (i == except || !ok(i)) continue;
    if (x < m[i].weight) return i;
    x -= m[i].weight;
  }
  return no_pick;  // ok() changed its mind between the passes (a racing limit): no choice
}

template <class Ok>
uint32_t pick_p2c_ewma(std::span<const member> m, rng& r, uint64_t now_ns, Ok&& ok) noexcept {
  uint32_t a = draw_weighted(m, r, no_pick, ok);
  if (a == no_pick) return no_pick;
  uint32_t b = draw_weighted(m, r, a, ok);
  if (b == no_pick) return a;
  uint64_t ea = m[a].state->ttfb.current(now_ns);
  uint64_t eb = m[b].state->ttfb.current(now_ns);
  // No latency known for one of them: assume it is like the other, so load decides.
  if (ea == 0) ea = eb ? eb : 1;
  if (eb == 0) eb = ea;
  double ca = double(ea) * double(m[a].state->in_flight.used() + 1);
  double cb = double(eb) * double(m[b].state->in_flight.used() + 1);
  return cb < ca ? b : a;
}

template <class Ok>
uint32_t pick(balancer_kind kind, std::span<const member> m, std::span<int64_t> cur, rng& r,
              uint64_t now_ns, Ok&& ok) noexcept {
  switch (kind) {
    case balancer_kind::weighted:
      return pick_weighted(m, cur, ok);
    case balancer_kind::least_outstanding:
      return pick_least_outstanding(m, r, ok);
    case balancer_kind::p2c_ewma:
      return pick_p2c_ewma(m, r, now_ns, ok);
  }
  return no_pick;
}

}  // namespace rg::resilience
