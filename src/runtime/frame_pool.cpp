// Coroutine frame allocator: per-thread free lists in 64-byte size classes up to 16 KiB; larger
// frames go to malloc. Frames are recycled, never returned to malloc, so steady state allocates
// nothing. Invariant: a frame is freed on the thread that allocated it.
#include <ringgate/runtime/frame_pool.hpp>

#include <cstdlib>
#include <new>

namespace rg::runtime {
namespace {

constexpr size_t class_bytes = 64;
constexpr size_t classes = 256;  // up to 16 KiB

struct free_node {
  free_node* next;
};

struct thread_pool {
  free_node* heads[classes] = {};
  size_t live = 0;
  ~thread_pool() {
    for (auto*& h : heads) {
      while (h) {
        free_node* n = h->next;
        std::free(h);
        h = n;
      }
    }
  }
};

thread_local thread_pool pool;

size_t class_of(size_t bytes) noexcept { return (bytes + class_bytes - 1) / class_bytes; }

}  // namespace

void* frame_alloc(size_t bytes) {
  size_t c = class_of(bytes);
  ++pool.live;
  if (c < classes) {
    if (free_node* n = pool.heads[c]) {
      pool.heads[c] = n->next;
      return n;
    }
    void* p = std::malloc(c * class_bytes);
    if (!p) throw std::bad_alloc();
    return p;
  }
  void* p = std::malloc(bytes);
  if (!p) throw std::bad_alloc();
  return p;
}

void frame_free(void* p, size_t bytes) noexcept {
  --pool.live;
  size_t c = class_of(bytes);
  if (c < classes) {
    auto* n = static_cast<free_node*>(p);
    n->next = pool.heads[c];
    pool.heads[c] = n;
    return;
  }
  std::free(p);
}

size_t frames_live() noexcept { return pool.live; }

}  // namespace rg::runtime
