// A worker: one thread, one shard (io_uring), a share of the connections. Each connection is a
// coroutine that connects, sends, reads and records, reconnecting after errors and closes, until
// the run ends (deadline or request count), when every operation is cancelled and reaped.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>

#include "options.hpp"
#include "results.hpp"

namespace rg::loadgen {

// State shared by every worker; written before the threads start, except the atomics.
struct plan {
  const options* opts = nullptr;
  std::string request;               // the bytes of one request, head and body
  uint64_t start_ns = 0;             // warm-up begins
  uint64_t measure_ns = 0;           // measured phase begins
  uint64_t end_ns = UINT64_MAX;      // measured phase ends (duration), or UINT64_MAX
  std::atomic<uint64_t> claimed{0};  // measured requests handed out (--requests)
  std::atomic<uint32_t> workers_done{0};
};

// Builds the request bytes from the options.
std::string build_request(const options& o);

// Runs worker `index` of `count` on the calling thread until the run ends; fills `out`.
void run_worker(plan& p, uint32_t index, uint32_t count, results& out);

}  // namespace rg::loadgen
