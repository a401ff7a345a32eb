// Armed faults (see arm.hpp).
#include "arm.hpp"

#include <cstring>
#include <string_view>

namespace rg::mockllm {
namespace {

bool keep(std::string_view v, char* buf, size_t cap, std::string_view& out) noexcept {
  if (v.size() >= cap) return false;
  if (!v.empty()) std::memcpy(buf, v.data(), v.size());  // an empty view may have no data()
  out = std::string_view(buf, v.size());
  return true;
}

// Copies `from` into `to`, re-pointing its views at `to`'s buffers.
bool copy_fault(const armed_fault& from, armed_fault& to) noexcept {
  to.p = from.p;
  return keep(from.p.retry_after, to.retry_after, sizeof(to.retry_after), to.p.retry_after) &&
         keep(from.p.retry_after_ms, to.retry_after_ms, sizeof(to.retry_after_ms),
              to.p.retry_after_ms) &&
         keep(from.p.error_body, to.error_body, sizeof(to.error_body), to.p.error_body);
}

}  // namespace

void armed_fault::apply(plan& target) const noexcept {
  target.status = p.status;
  target.retry_after = p.retry_after;
  target.retry_after_ms = p.retry_after_ms;
  target.error_body = p.error_body;
  target.error_body_set = p.error_body_set;
  target.what = p.what;
  target.fault_arg = p.fault_arg;
  target.delayed_head = p.delayed_head;
  if (p.first_byte_ms) target.first_byte_ms = p.first_byte_ms;
}

bool arming::arm(const plan& p, uint64_t count) noexcept {
  std::lock_guard lock(_mutex);
  armed_fault staged;
  staged.p = p;
  if (!copy_fault(staged, _fault)) {
    _remaining.store(0, std::memory_order_relaxed);
    return false;
  }
  _remaining.store(count, std::memory_order_release);
  return true;
}

bool arming::take(armed_fault& out) noexcept {
  uint64_t n = _remaining.load(std::memory_order_acquire);
  do {
    if (n == 0) return false;
  } while (!_remaining.compare_exchange_weak(n, n - 1, std::memory_order_acq_rel));
  std::lock_guard lock(_mutex);
  return copy_fault(_fault, out);
}

}  // namespace rg::mockllm
