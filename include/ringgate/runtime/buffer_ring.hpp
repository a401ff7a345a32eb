// A provided-buffer ring (IORING_REGISTER_PBUF_RING): the kernel picks a free buffer for each
// multishot recv completion, so idle connections hold no receive memory.
// Invariant: a buffer id is either in the ring (kernel-owned) or held by exactly one consumer,
// which returns it with recycle(). A consumer may keep the buffers it holds in a queue linked
// through per-buffer slots owned here, so holding any number of them costs it 6 bytes.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <memory>

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

  // A FIFO of held buffers, each with the unconsumed part [offset, offset + len). Bounded only by
  // the ring's count: a multishot recv may deliver many completions after its consumer asked it
  // to pause, and none of those bytes may be dropped.
  struct queue {
    uint16_t head = 0;
    uint16_t tail = 0;
    uint16_t count = 0;
    bool empty() const noexcept { return count == 0; }
  };
  struct piece {
    uint16_t bid;
    uint32_t offset;
    uint32_t len;
  };
  void push(queue& q, uint16_t bid, uint32_t offset, uint32_t len) noexcept;
  piece front(const queue& q) const noexcept { return _slots[q.head].part; }
  // The front's first `n` bytes were used (n < its len).
  void trim_front(queue& q, uint32_t n) noexcept;
  // Removes the front without recycling it.
  void pop(queue& q) noexcept;

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
  struct slot {
    piece part;
    uint16_t next;
  };
  std::unique_ptr<slot[]> _slots;  // one per buffer id
};

}  // namespace rg::runtime
