// Circuit breaker state machine (see circuit.hpp). Every transition is one CAS on `_word`:
//   bits 0-1 state (closed, half-open, open) · bits 2-11 probes in flight · bits 12-19 generation
//   (bumped when half-open begins) · bits 20-63 end of the cooldown in ms of the monotonic clock.
#include <ringgate/resilience/circuit.hpp>

#include <algorithm>

namespace rg::resilience {
namespace {

constexpr uint64_t ns_per_ms = 1'000'000;
constexpr uint64_t st_closed = 0, st_half_open = 1, st_open = 2;

constexpr uint64_t state_of(uint64_t w) noexcept {
  return w & 3;
}
constexpr uint32_t probes_of(uint64_t w) noexcept {
  return uint32_t((w >> 2) & 0x3ff);
}
constexpr uint8_t gen_of(uint64_t w) noexcept {
  return uint8_t((w >> 12) & 0xff);
}
constexpr uint64_t until_of(uint64_t w) noexcept {
  return w >> 20;
}
constexpr uint64_t make(uint64_t state, uint32_t probes, uint8_t gen, uint64_t until_ms) noexcept {
  return state | (uint64_t(probes & 0x3ff) << 2) | (uint64_t(gen) << 12) | (until_ms << 20);
}

}  // namespace

circuit_breaker::circuit_breaker(const circuit_options& opts) noexcept
    : _opts(opts), _bucket_ns(std::max<uint64_t>(opts.window_ns / buckets, 1)) {
  _opts.probes = std::clamp<uint32_t>(_opts.probes, 1, 1023);
}

bool circuit_breaker::available(uint64_t now_ns) const noexcept {
  uint64_t w = _word.load(std::memory_order_acquire);
  switch (state_of(w)) {
    case st_closed:
      return true;
    case st_open:
      return now_ns / ns_per_ms >= until_of(w);
    default:
      return probes_of(w) < _opts.probes;
  }
}

permit circuit_breaker::acquire(uint64_t now_ns, transition* t) noexcept {
  uint64_t w = _word.load(std::memory_order_acquire);
  for (;;) {
    uint64_t desired;
    permit granted{permit::probe, gen_of(w)};
    switch (state_of(w)) {
      case st_closed:
        return {permit::normal, gen_of(w)};
      case st_open:
        if (now_ns / ns_per_ms < until_of(w)) return {};
        granted.generation = uint8_t(gen_of(w) + 1);
        desired = make(st_half_open, 1, granted.generation, 0);
        break;
      default:
        if (probes_of(w) >= _opts.probes) return {};
        desired = make(st_half_open, probes_of(w) + 1, gen_of(w), 0);
        break;
    }
    if (_word.compare_exchange_weak(w, desired, std::memory_order_acq_rel)) {
      if (t) *t = state_of(w) == st_open ? transition::half_opened : transition::none;
      return granted;
    }
  }
}

transition circuit_breaker::on_success(permit p, uint64_t now_ns) noexcept {
  uint64_t w = _word.load(std::memory_order_acquire);
  if (!p || gen_of(w) != p.generation) return transition::none;
  if (p.kind == permit::normal) {
    if (state_of(w) != st_closed) return transition::none;
    // Written only when it changes: a success must not dirty a cache line every shard reads.
    if (_consecutive.load(std::memory_order_relaxed) != 0) {
      _consecutive.store(0, std::memory_order_relaxed);
    }
    record(now_ns, false);
    return transition::none;
  }
  while (state_of(w) == st_half_open && gen_of(w) == p.generation) {
    if (_word.compare_exchange_weak(w, make(st_closed, 0, p.generation, 0),
                                    std::memory_order_acq_rel)) {
      clear_counts();
      return transition::closed;
    }
  }
  return transition::none;
}

transition circuit_breaker::on_failure(permit p, uint64_t now_ns) noexcept {
  uint64_t w = _word.load(std::memory_order_acquire);
  if (!p || gen_of(w) != p.generation) return transition::none;
  if (p.kind == permit::probe) {
    uint64_t until = (now_ns + _opts.cooldown_ns) / ns_per_ms;
    while (state_of(w) == st_half_open && gen_of(w) == p.generation) {
      if (_word.compare_exchange_weak(w, make(st_open, 0, p.generation, until),
                                      std::memory_order_acq_rel)) {
        return transition::opened;
      }
    }
    return transition::none;
  }
  if (state_of(w) != st_closed) return transition::none;
  uint32_t n = _consecutive.fetch_add(1, std::memory_order_relaxed) + 1;
  bool by_count = _opts.failures > 0 && n >= _opts.failures;
  bool by_rate = record(now_ns, true);
  return by_count || by_rate ? trip(w, now_ns) : transition::none;
}

void circuit_breaker::on_abandon(permit p) noexcept {
  if (p.kind != permit::probe) return;
  uint64_t w = _word.load(std::memory_order_acquire);
  while (state_of(w) == st_half_open && gen_of(w) == p.generation && probes_of(w) > 0) {
    if (_word.compare_exchange_weak(w, make(st_half_open, probes_of(w) - 1, gen_of(w), 0),
                                    std::memory_order_acq_rel)) {
      return;
    }
  }
}

circuit_state circuit_breaker::state(uint64_t now_ns) const noexcept {
  uint64_t w = _word.load(std::memory_order_acquire);
  switch (state_of(w)) {
    case st_closed:
      return circuit_state::closed;
    case st_open:
      return now_ns / ns_per_ms >= until_of(w) ? circuit_state::half_open : circuit_state::open;
    default:
      return circuit_state::half_open;
  }
}

transition circuit_breaker::trip(uint64_t w, uint64_t now_ns) noexcept {
  uint64_t until = (now_ns + _opts.cooldown_ns) / ns_per_ms;
  uint8_t gen = gen_of(w);
  while (state_of(w) == st_closed && gen_of(w) == gen) {
    if (_word.compare_exchange_weak(w, make(st_open, 0, gen, until), std::memory_order_acq_rel)) {
      clear_counts();
      return transition::opened;
    }
  }
  return transition::none;  // another shard tripped it first
}

bool circuit_breaker::record(uint64_t now_ns, bool failed) noexcept {
  if (_opts.rate_percent == 0) return false;
  uint64_t epoch = now_ns / _bucket_ns;
  bucket& b = _window[epoch % buckets];
  uint64_t seen = b.epoch.load(std::memory_order_acquire);
  if (seen != epoch && b.epoch.compare_exchange_strong(seen, epoch, std::memory_order_acq_rel)) {
    b.counts.store(0, std::memory_order_relaxed);  // the bucket held an older epoch: restart it
  }
  b.counts.fetch_add(failed ? (uint64_t(1) << 32) + 1 : 1, std::memory_order_relaxed);
  if (!failed) return false;
  uint64_t requests = 0, failures = 0;
  for (const bucket& x : _window) {
    uint64_t e = x.epoch.load(std::memory_order_acquire);
    if (e > epoch || e + buckets <= epoch) continue;  // empty, or older than the window
    uint64_t c = x.counts.load(std::memory_order_relaxed);
    requests += c & 0xffffffff;
    failures += c >> 32;
  }
  return requests >= std::max<uint32_t>(_opts.min_requests, 1) &&
         failures * 100 >= uint64_t(_opts.rate_percent) * requests;
}

void circuit_breaker::clear_counts() noexcept {
  _consecutive.store(0, std::memory_order_relaxed);
  for (bucket& b : _window) {
    b.epoch.store(UINT64_MAX, std::memory_order_relaxed);
    b.counts.store(0, std::memory_order_relaxed);
  }
}

}  // namespace rg::resilience
