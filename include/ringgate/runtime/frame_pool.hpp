// Per-thread size-class free lists for coroutine frames: after warm-up, starting a coroutine on a
// shard costs no malloc. Frames are freed on the thread that allocated them (shards never migrate
// coroutines), so the lists need no synchronisation.
#pragma once

#include <cstddef>

namespace rg::runtime {

void* frame_alloc(size_t bytes);
void frame_free(void* p, size_t bytes) noexcept;

// Frames allocated and still live on this thread (for tests and leak checks at shutdown).
size_t frames_live() noexcept;

}  // namespace rg::runtime
