// Fixed-size memory blocks recycled through a per-shard free list: connection input buffers come
// from here, so steady-state traffic allocates nothing and idle connections hold no block.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>

namespace rg::runtime {

class block_pool {
 public:
  explicit block_pool(size_t block_bytes, size_t keep_max = 4096) noexcept
      : _block_bytes(block_bytes), _keep_max(keep_max) {}
  block_pool(const block_pool&) = delete;
  block_pool& operator=(const block_pool&) = delete;
  ~block_pool() {
    while (_free) {
      node* n = _free->next;
      std::free(_free);
      _free = n;
    }
  }

  size_t block_bytes() const noexcept { return _block_bytes; }
  char* get() {
    ++_in_use;
    if (node* n = _free) {
      _free = n->next;
      --_kept;
      return reinterpret_cast<char*>(n);
    }
    void* p = std::malloc(_block_bytes);
    if (!p) throw std::bad_alloc();
    return static_cast<char*>(p);
  }
  void put(char* p) noexcept {
    --_in_use;
    if (_kept >= _keep_max) {
      std::free(p);
      return;
    }
    auto* n = reinterpret_cast<node*>(p);
    n->next = _free;
    _free = n;
    ++_kept;
  }
  size_t in_use() const noexcept { return _in_use; }

 private:
  struct node {
    node* next;
  };
  size_t _block_bytes;
  size_t _keep_max;
  node* _free = nullptr;
  size_t _kept = 0;
  size_t _in_use = 0;
};

}  // namespace rg::runtime
