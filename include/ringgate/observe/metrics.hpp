// Metrics: a registry of families fixed at startup, per-shard blocks of cells written only by
// their shard, and a Prometheus text exposition (format 0.0.4) that sums the blocks at scrape time.
//
// Invariants: label values come only from configured names and fixed tables (never from client
// input), so every family's series are known when the registry is built and cardinality is
// bounded; a shard writes its own block with relaxed atomic stores (a plain load and store on
// x86, no lock prefix) and never waits for a scrape; a scrape reads with relaxed loads. A
// histogram's count is the sum of its buckets, so a scrape always sees buckets and count agree.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rg::observe {

enum class metric_type : uint8_t { counter, gauge, histogram };

// Histogram bucket bounds in nanoseconds: 1-2-5 steps from 10 µs to 50 s, then +Inf.
inline constexpr uint64_t histogram_bounds_ns[] = {
    10'000,         20'000,         50'000,         100'000,       200'000,       500'000,
    1'000'000,      2'000'000,      5'000'000,      10'000'000,    20'000'000,    50'000'000,
    100'000'000,    200'000'000,    500'000'000,    1'000'000'000, 2'000'000'000, 5'000'000'000,
    10'000'000'000, 20'000'000'000, 50'000'000'000,
};
inline constexpr uint32_t histogram_buckets = std::size(histogram_bounds_ns) + 1;  // + Inf
inline constexpr uint32_t histogram_cells = histogram_buckets + 1;                 // + sum (ns)

// Index of the bucket holding `ns` (the first bound ≥ ns; the last is +Inf).
uint32_t histogram_bucket(uint64_t ns) noexcept;

struct family_id {
  uint32_t index = UINT32_MAX;  // family number in the registry
  uint32_t offset = 0;          // first cell of series 0 in a shard block
  uint32_t stride = 1;          // cells per series (1, or histogram_cells)
  uint32_t series = 0;          // number of series
  bool valid() const noexcept { return index != UINT32_MAX; }
};

// One shard's cells. Only the owning shard writes; anyone reads.
class shard_block {
 public:
  explicit shard_block(uint32_t cells) : _cells(new std::atomic<uint64_t>[cells]), _n(cells) {
    for (uint32_t i = 0; i < cells; ++i) _cells[i].store(0, std::memory_order_relaxed);
  }
  // Counters (and summed gauges).
  void add(const family_id& f, uint32_t series, uint64_t n = 1) noexcept {
    auto& c = _cells[f.offset + series * f.stride];
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void sub(const family_id& f, uint32_t series, uint64_t n = 1) noexcept {
    auto& c = _cells[f.offset + series * f.stride];
    c.store(c.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
  }
  void set(const family_id& f, uint32_t series, uint64_t v) noexcept {
    _cells[f.offset + series * f.stride].store(v, std::memory_order_relaxed);
  }
  void observe_ns(const family_id& f, uint32_t series, uint64_t ns) noexcept {
    std::atomic<uint64_t>* h = &_cells[f.offset + series * f.stride];
    auto& b = h[histogram_bucket(ns)];
    b.store(b.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    auto& sum = h[histogram_buckets];
    sum.store(sum.load(std::memory_order_relaxed) + ns, std::memory_order_relaxed);
  }
  uint64_t read(uint32_t cell) const noexcept {
    return _cells[cell].load(std::memory_order_relaxed);
  }
  uint32_t size() const noexcept { return _n; }

 private:
  std::unique_ptr<std::atomic<uint64_t>[]> _cells;
  uint32_t _n;
};

struct family_options {
  std::string name;  // full name, e.g. "ringgate_requests_total"
  std::string help;
  metric_type type = metric_type::counter;
  std::vector<std::string> label_names;
  // One entry per series: its label values, in label_names order. No label_names and no series:
  // one series without labels. Label names but no series: a family with nothing to expose yet.
  std::vector<std::vector<std::string>> series;
  bool emit_zero = false;  // also expose series that are still 0 (gauges, single series)
  // Counters and gauges: the exposed value is the summed cells times this (e.g. cells count
  // nano-dollars, scale 1e-9 exposes dollars). Histograms always count nanoseconds.
  double scale = 1.0;
};

// Values computed at scrape time (process figures, gauges read from elsewhere): appended to the
// exposition as complete lines with their HELP and TYPE.
using scrape_hook = std::function<void(std::string& out)>;

class registry {
 public:
  family_id add(family_options f);
  void add_hook(scrape_hook h) { _hooks.push_back(std::move(h)); }
  uint32_t cells_per_shard() const noexcept { return _cells; }
  std::unique_ptr<shard_block> make_block() const { return std::make_unique<shard_block>(_cells); }

  // Prometheus text format 0.0.4, every family summed over `blocks`, then the hooks' lines.
  void expose(std::span<const shard_block* const> blocks, std::string& out) const;

 private:
  struct family {
    family_options opts;
    family_id id;
    std::vector<std::string> label_text;  // per series: `a="x",b="y"` (escaped), may be empty
  };
  std::vector<family> _families;
  std::vector<scrape_hook> _hooks;
  uint32_t _cells = 0;
};

// Helpers for scrape hooks and tests.
void append_escaped_label_value(std::string& out, std::string_view v);
void append_help_type(std::string& out, std::string_view name, std::string_view help,
                      std::string_view type);
// A sample value: integers exactly, others with 12 significant digits.
void append_value(std::string& out, double v);

}  // namespace rg::observe
