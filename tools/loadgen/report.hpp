// loadgen's output: a readable summary, or one JSON object (--json).
#pragma once
#include <string>

#include "options.hpp"
#include "results.hpp"

namespace rg::loadgen {

struct run_info {
  double measured_s = 0;  // length of the measured phase
  uint32_t threads = 0;
};

std::string format_json(const options& o, const results& r, const run_info& info);
std::string format_summary(const options& o, const results& r, const run_info& info);

}  // namespace rg::loadgen
