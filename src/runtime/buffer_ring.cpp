// Provided-buffer ring registration and recycling (see buffer_ring.hpp).
#include <ringgate/runtime/buffer_ring.hpp>

#include <sys/mman.h>

#include <cerrno>
#include <new>

namespace rg::runtime {

buffer_ring::~buffer_ring() { destroy(); }

int buffer_ring::init(io_uring* ring, uint16_t group_id, uint16_t count, uint32_t bytes) noexcept {
  if (count == 0 || (count & (count - 1)) != 0) return -EINVAL;
  _slots.reset(new (std::nothrow) slot[count]);
  if (!_slots) return -ENOMEM;
  _ring_bytes = sizeof(io_uring_buf) * count;
  void* br = mmap(nullptr, _ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (br == MAP_FAILED) return -errno;
  _pool_bytes = size_t(count) * bytes;
  // Untouched pages cost no RSS: memory is only committed as the kernel fills buffers.
  void* pool = mmap(nullptr, _pool_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (pool == MAP_FAILED) {
    int e = errno;
    munmap(br, _ring_bytes);
    return -e;
  }
  _br = static_cast<io_uring_buf_ring*>(br);
  _base = static_cast<char*>(pool);
  io_uring_buf_ring_init(_br);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(_br);
  reg.ring_entries = count;
  reg.bgid = group_id;
  int rc = io_uring_register_buf_ring(ring, &reg, 0);
  if (rc < 0) {
    munmap(_br, _ring_bytes);
    munmap(_base, _pool_bytes);
    _br = nullptr;
    _base = nullptr;
    return rc;
  }
  _ring = ring;
  _group = group_id;
  _count = count;
  _bytes = bytes;
  int mask = io_uring_buf_ring_mask(count);
  for (uint16_t i = 0; i < count; ++i) io_uring_buf_ring_add(_br, data(i), bytes, i, mask, i);
  io_uring_buf_ring_advance(_br, count);
  return 0;
}

void buffer_ring::recycle(uint16_t bid) noexcept {
  io_uring_buf_ring_add(_br, data(bid), _bytes, bid, io_uring_buf_ring_mask(_count), 0);
  io_uring_buf_ring_advance(_br, 1);
  --_held;
}

void buffer_ring::push(queue& q, uint16_t bid, uint32_t offset, uint32_t len) noexcept {
  _slots[bid] = {{bid, offset, len}, 0};
  if (q.count == 0) {
    q.head = bid;
  } else {
    _slots[q.tail].next = bid;
  }
  q.tail = bid;
  ++q.count;
}

void buffer_ring::trim_front(queue& q, uint32_t n) noexcept {
  piece& p = _slots[q.head].part;
  p.offset += n;
  p.len -= n;
}

void buffer_ring::pop(queue& q) noexcept {
  q.head = _slots[q.head].next;
  --q.count;
}

void buffer_ring::destroy() noexcept {
  if (!_br) return;
  if (_ring) io_uring_unregister_buf_ring(_ring, _group);
  munmap(_br, _ring_bytes);
  munmap(_base, _pool_bytes);
  _br = nullptr;
  _base = nullptr;
  _ring = nullptr;
}

}  // namespace rg::runtime
