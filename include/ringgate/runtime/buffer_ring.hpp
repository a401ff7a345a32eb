// A provided-buffer ring (IORING_REGISTER_PBUF_RING): the kernel picks a free buffer for each
// multishot recv completion, so idle connections hold no receive memory.
// Invariant: a buffer id is either in the ring (kernel-owned) or held by exactly one consumer,
// which returns it with recycle().
#pragma once

#include <liburing.h>

#include <cstdint>

namespace rg::runtime {

class buffer_ring {
 public:
  buffer_ring() noexcept = default;
  buffer_ring(const buffer_ring&) = delete;
  buffer_ring& operator=(const buffer_ring&) = delete;
  ~buffer_ring();

  // Registers `count` (a power of two) buffers of `bytes` each under `group_id`. Returns -errno.
  int init(io_uring* ring, uint16_t group_id, uint16_t count, uint32_t bytes) noexcept;
  void destroy() noexcept;

  uint16_t group() const noexcept { return _group; }
  uint32_t buffer_bytes() const noexcept { return _bytes; }
  char* data(uint16_t bid) const noexcept { return _base + size_t(bid) * _bytes; }
  // Hands buffer `bid` back to the kernel.
  void recycle(uint16_t bid) noexcept;
  // Buffers currently held by consumers (not in the ring).
  uint32_t held() const noexcept { return _held; }
  void on_taken() noexcept { ++_held; }

 private:
  io_uring* _ring = nullptr;
  io_uring_buf_ring* _br = nullptr;
  char* _base = nullptr;
  size_t _ring_bytes = 0;
  size_t _pool_bytes = 0;
  uint16_t _group = 0;
  uint16_t _count = 0;
  uint32_t _bytes = 0;
  uint32_t _held = 0;
};

}  // namespace rg::runtime
