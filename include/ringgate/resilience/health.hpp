// The verdict of active health checks on one endpoint: unhealthy after `unhealthy_after`
// consecutive failed checks, healthy again after `healthy_after` consecutive passed ones (an
// endpoint starts healthy, so traffic flows before the first check). Pure and single-owner: one
// checker updates it and publishes the verdict into endpoint_state::healthy.
#pragma once

#include <cstdint>

namespace rg::resilience {

struct health_options {
  uint32_t unhealthy_after = 2;
  uint32_t healthy_after = 1;
};

class health_tracker {
 public:
  explicit health_tracker(const health_options& opts = {}) noexcept : _opts(opts) {}

  // Records one check; true when the verdict changed.
  bool on_check(bool passed) noexcept {
    if (passed != _last) _streak = 0;
    _last = passed;
    ++_streak;
    if (_healthy && !passed && _streak >= _opts.unhealthy_after) {
      _healthy = false;
      return true;
    }
    if (!_healthy && passed && _streak >= _opts.healthy_after) {
      _healthy = true;
      return true;
    }
    return false;
  }
  bool healthy() const noexcept { return _healthy; }

 private:
  health_options _opts;
  uint32_t _streak = 0;
  bool _last = true;
  bool _healthy = true;
};

}  // namespace rg::resilience
