// What one worker thread measured; merged across workers at the end. Plain counters: each worker
// writes only its own, and the main thread reads them after joining.
#pragma once
#include <array>
#include <cstdint>
#include <string_view>

#include "histogram.hpp"

namespace rg::loadgen {

enum class error_kind : uint8_t {
  connect,  // connect() failed or timed out
  reset,    // send or receive failed (ECONNRESET, EPIPE, ...)
  timeout,  // the answer was not complete within --timeout-ms
  parse,    // the response was not valid HTTP/1.1 (head, framing)
  closed,   // the server closed the connection before the answer was complete
  count_,
};
constexpr size_t error_kinds = size_t(error_kind::count_);
std::string_view error_name(error_kind k) noexcept;

struct stream_results {
  uint64_t responses = 0;  // 2xx answers to a --stream run
  uint64_t truncated = 0;  // ... that ended without their terminator ([DONE] or message_stop)
  uint64_t chunks = 0;     // SSE events with data, terminator excluded
  uint64_t bytes = 0;      // decoded body bytes of those answers
  histogram ttfb;          // send → first byte of the answer
  histogram ttft;          // send → first event carrying content
  histogram gap;           // between consecutive data events of one answer

  void merge(const stream_results& o) noexcept;
};

struct results {
  uint64_t requests = 0;  // measured answers (complete, any status)
  std::array<uint64_t, 600> status{};
  std::array<uint64_t, error_kinds> errors{};
  uint64_t mismatches = 0;  // status != --expect-status
  uint64_t bytes_in = 0;    // measured phase, whole answers incl. heads
  uint64_t bytes_out = 0;
  uint64_t connects = 0;  // successful connects, whole run
  uint64_t first_ns = 0;  // intended send time of the first measured request
  uint64_t last_ns = 0;   // completion time of the last measured answer
  histogram latency;      // intended send → last byte, µs
  stream_results stream;

  void count_error(error_kind k) noexcept { ++errors[size_t(k)]; }
  uint64_t errors_total() const noexcept;
  void merge(const results& o) noexcept;
};

}  // namespace rg::loadgen
