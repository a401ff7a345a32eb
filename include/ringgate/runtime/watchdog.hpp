// The systemd watchdog decision, kept pure (no clock, no I/O) so it can be unit-tested: given each
// shard's heartbeat and whether its loop still runs, ping on schedule unless a running shard's
// heartbeat has stood still longer than the stall bound. A shard that has finished (drained) or
// not started yet is skipped, so a multi-shard drain never looks like a stall.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace rg::runtime {

// One shard as the control thread sees it.
struct shard_beat {
  uint64_t count = 0;    // shard::heartbeat(): advances every 100 ms while the loop turns
  bool looping = false;  // shard::looping(): false before run() and after the loop ended
};

class watchdog {
 public:
  enum class verdict : uint8_t { wait, ping, withhold };

  // `ping_ns`: interval between pings (0 = no watchdog: tick() always says wait). `stall_ns`: how
  // long a looping shard's heartbeat may stand still.
  watchdog(uint64_t ping_ns, uint64_t stall_ns, uint64_t now_ns);

  // Feeds one observation of every shard (same order each call) and says what to send now.
  verdict tick(std::span<const shard_beat> beats, uint64_t now_ns);
  // The first stalled shard of the last tick, or -1.
  int stalled_shard() const noexcept { return _stalled; }

 private:
  struct seen {
    uint64_t count = 0;
    uint64_t since_ns = 0;  // when `count` was first seen (or the shard came back to looping)
    bool looping = false;
  };
  uint64_t _ping_ns;
  uint64_t _stall_ns;
  uint64_t _start_ns;
  uint64_t _next_ping_ns;
  int _stalled = -1;
  std::vector<seen> _seen;
};

}  // namespace rg::runtime
