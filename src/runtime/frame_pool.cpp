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

// Trivially destructible, so every access is a plain %fs-relative load: a thread_local with a
// destructor is reached through an "initialised yet?" guard on each use, which cost ~15
// instructions per frame allocation and as many per free (20 frames a proxied request).
struct thread_lists {
  free_node* heads[classes];
  size_t live;
};
constinit thread_local thread_lists pool{};

// Gives the recycled frames back to malloc when the thread exits. Touched only when a frame is
// malloc'd (the slow path), which registers its destructor for this thread.
struct lists_release {
  bool armed = false;
  ~lists_release() {
    for (free_node*& head : pool.heads) {
      while (head) {
        free_node* n = head->next;
        std::free(head);
        head = n;
      }
    }
  }
};
thread_local lists_release release;

size_t class_of(size_t bytes) noexcept { return (bytes + class_bytes - 1) / class_bytes; }

void* fresh(size_t bytes) {
  release.armed = true;
  void* p = std::malloc(bytes);
  if (!p) throw std::bad_alloc();
  return p;
}

}  // namespace

void* frame_alloc(size_t bytes) {
  size_t c = class_of(bytes);
  ++pool.live;
  if (c < classes) {
    if (free_node* n = pool.heads[c]) {
      pool.heads[c] = n->next;
      return n;
    }
    return fresh(c * class_bytes);
  }
  return fresh(bytes);
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
