#include "results.hpp"

#include <algorithm>

namespace rg::loadgen {

std::string_view error_name(error_kind k) noexcept {
  switch (k) {
    case error_kind::connect:
      return "connect";
    case error_kind::reset:
      return "reset";
    case error_kind::timeout:
      return "timeout";
    case error_kind::parse:
      return "parse";
    case error_kind::closed:
      return "closed";
    case error_kind::count_:
      break;
  }
  return "unknown";
}

void stream_results::merge(const stream_results& o) noexcept {
  responses += o.responses;
  truncated += o.truncated;
  chunks += o.chunks;
  bytes += o.bytes;
  ttfb.merge(o.ttfb);
  ttft.merge(o.ttft);
  gap.merge(o.gap);
}

uint64_t results::errors_total() const noexcept {
  uint64_t n = 0;
  for (uint64_t e : errors) n += e;
  return n;
}

void results::merge(const results& o) noexcept {
  requests += o.requests;
  for (size_t i = 0; i < status.size(); ++i) status[i] += o.status[i];
  for (size_t i = 0; i < errors.size(); ++i) errors[i] += o.errors[i];
  mismatches += o.mismatches;
  bytes_in += o.bytes_in;
  bytes_out += o.bytes_out;
  connects += o.connects;
  if (o.first_ns && (!first_ns || o.first_ns < first_ns)) first_ns = o.first_ns;
  last_ns = std::max(last_ns, o.last_ns);
  latency.merge(o.latency);
  stream.merge(o.stream);
}

}  // namespace rg::loadgen
