// The watchdog decision (see watchdog.hpp): per shard, when its heartbeat last moved; a verdict
// per tick from that and the ping schedule.
#include <ringgate/runtime/watchdog.hpp>

namespace rg::runtime {

watchdog::watchdog(uint64_t ping_ns, uint64_t stall_ns, uint64_t now_ns)
    : _ping_ns(ping_ns), _stall_ns(stall_ns), _start_ns(now_ns), _next_ping_ns(now_ns) {}

watchdog::verdict watchdog::tick(std::span<const shard_beat> beats, uint64_t now_ns) {
  if (_seen.size() < beats.size()) _seen.resize(beats.size(), seen{0, _start_ns, false});
  _stalled = -1;
  for (size_t i = 0; i < beats.size(); ++i) {
    seen& s = _seen[i];
    const shard_beat& b = beats[i];
    // A moved heartbeat, or a shard that (re)starts looping, restarts its clock.
    if (b.count != s.count || (b.looping && !s.looping)) {
      s.count = b.count;
      s.since_ns = now_ns;
    }
    s.looping = b.looping;
    if (b.looping && now_ns - s.since_ns > _stall_ns && _stalled < 0) _stalled = int(i);
  }
  if (_ping_ns == 0 || now_ns < _next_ping_ns) return verdict::wait;
  _next_ping_ns = now_ns + _ping_ns;
  return _stalled < 0 ? verdict::ping : verdict::withhold;
}

}  // namespace rg::runtime
