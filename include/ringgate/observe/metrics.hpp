// Metrics: a registry of families fixed at startup, per-shard blocks of cells written only by
// their shard, and a Prometheus text exposition (format 0.0.4) that sums the blocks at scrape time.
//
// Invariants: label values come only from configured names and fixed tables (never from client
// input), so every family's series are known when the registry is built and cardinality is
// bounded; a shard writes its own block with relaxed atomic stores (a plain load and store on
// x86, no lock prefix) and never waits for a scrape; a scrape reads with relaxed loads. A
// histogram's count is the sum of its buckets, so a scrape always sees buckets and count agree;
// its fine internal buckets are summed into a bounded set of exposed `le` buckets.
#pragma once
#include <atomic>
#include <bit>
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

// Histograms are log-linear over nanoseconds. Bins start at 1 µs; each decade up to 60 s is cut
// into 35 bins, in mantissa steps of 0.1 from 1 to 2, 0.2 from 2 to 5 and 0.5 from 5 to 10, so no
// bin is wider than 10 % of its lower bound. A bin is (lower, upper]: "≤ le" is exact at every
// bin bound. Bucket 0 holds everything ≤ 1 µs, the last one everything above 60 s.
inline constexpr uint64_t histogram_min_ns = 1'000;
inline constexpr uint64_t histogram_max_ns = 60'000'000'000;
inline constexpr uint32_t histogram_bins_per_decade = 35;
inline constexpr uint32_t histogram_decades = 8;  // 1 µs … 100 s, the last one cut at 60 s
inline constexpr uint32_t histogram_buckets =
    1 + (histogram_decades - 1) * histogram_bins_per_decade + 27 + 1;  // ≤ 1 µs, bins, > 60 s
inline constexpr uint32_t histogram_cells = histogram_buckets + 1;     // + sum (ns)

// x / (100 * 10^d) for a decade d < histogram_decades, by constants: the compiler turns each
// into a multiplication, where a 64-bit division by a variable takes tens of cycles (and a
// request observes four histograms).
constexpr uint64_t histogram_first_digits(uint64_t x, uint32_t d) noexcept {
  switch (d) {
    case 0:
      return x / 100;
    case 1:
      return x / 1'000;
    case 2:
      return x / 10'000;
    case 3:
      return x / 100'000;
    case 4:
      return x / 1'000'000;
    case 5:
      return x / 10'000'000;
    case 6:
      return x / 100'000'000;
    default:
      return x / 1'000'000'000;
  }
}
static_assert(histogram_decades == 8, "histogram_first_digits has a case per decade");

// Index of the bucket holding `ns`. No allocation, no table: a short loop over decades and a
// multiplication (a few nanoseconds).
constexpr uint32_t histogram_bucket(uint64_t ns) noexcept {
  if (ns <= histogram_min_ns) return 0;
  uint64_t x = ns - 1;  // bins are (lower, upper]: find the half-open [lower, upper) of ns - 1
  uint64_t unit = histogram_min_ns / 10;  // one mantissa step of 0.1 in this decade
  uint32_t base = 1;
  uint32_t d = 0;
  for (; x >= unit * 100; ++d) {
    if (d + 1 == histogram_decades) return histogram_buckets - 1;
    unit *= 10;
    base += histogram_bins_per_decade;
  }
  uint32_t m = uint32_t(histogram_first_digits(x, d));  // 10 … 99: the first two digits
  uint32_t bin = m < 20 ? m - 10 : m < 50 ? 10 + (m - 20) / 2 : 25 + (m - 50) / 5;
  return base + bin < histogram_buckets - 1 ? base + bin : histogram_buckets - 1;
}

// The inclusive upper bound of bucket `b` in nanoseconds (UINT64_MAX for the last one).
constexpr uint64_t histogram_upper_ns(uint32_t b) noexcept {
  if (b == 0) return histogram_min_ns;
  if (b >= histogram_buckets - 1) return UINT64_MAX;
  uint32_t bin = (b - 1) % histogram_bins_per_decade;
  uint64_t unit = histogram_min_ns / 10;
  for (uint32_t d = (b - 1) / histogram_bins_per_decade; d > 0; --d) unit *= 10;
  uint32_t upper = bin < 10 ? 11 + bin : bin < 25 ? 22 + 2 * (bin - 10) : 55 + 5 * (bin - 25);
  return upper * unit;
}

// The same index by table, for the hot path (a request observes four histograms): the bit length
// of ns - 1 and the four bits below its top one name a binary sub-bin (at most 1/16 of its lower
// end wide, where no decimal bin is narrower than 1/24 of its own: it crosses at most two bucket
// bounds); its first bucket comes from a table built at compile time by histogram_bucket(), then
// a step or two up the bucket bounds.
// A dozen instructions where the decade loop took about fifty; tested equal to it.
namespace detail {
inline constexpr uint32_t histogram_sub_bits = 4;
struct histogram_tables {
  uint16_t first[64 << histogram_sub_bits] = {};  // by (bit length - 1, next 4 bits)
  uint64_t upper[histogram_buckets] = {};         // histogram_upper_ns of each bucket
};
constexpr histogram_tables make_histogram_tables() noexcept {
  histogram_tables t;
  for (uint32_t b = 0; b < histogram_buckets; ++b) t.upper[b] = histogram_upper_ns(b);
  for (uint32_t len = 10; len <= 64; ++len) {  // ns - 1 ≥ 1000 has at least 10 bits
    for (uint64_t j = 0; j < (1u << histogram_sub_bits); ++j) {
      const uint64_t low = ((uint64_t(1) << histogram_sub_bits) | j)
                           << (len - 1 - histogram_sub_bits);
      t.first[((len - 1) << histogram_sub_bits) | j] = uint16_t(histogram_bucket(low + 1));
    }
  }
  return t;
}
inline constexpr histogram_tables histogram_table = make_histogram_tables();
// The first bucket of ns's sub-bin (ns > histogram_min_ns): the table's guess, at most two below.
inline uint32_t histogram_first_bucket(uint64_t ns) noexcept {
  const uint64_t x = ns - 1;
  const uint32_t len = uint32_t(std::bit_width(x));
  const uint32_t sub =
      uint32_t(x >> (len - 1 - histogram_sub_bits)) & ((1u << histogram_sub_bits) - 1);
  return histogram_table.first[((len - 1) << histogram_sub_bits) | sub];
}
}  // namespace detail

inline uint32_t histogram_bucket_fast(uint64_t ns) noexcept {
  if (ns <= histogram_min_ns) return 0;
  uint32_t b = detail::histogram_first_bucket(ns);
  while (ns > detail::histogram_table.upper[b]) ++b;  // the last bucket's bound is UINT64_MAX
  return b;
}

// The `le` bounds a scrape exposes (then +Inf): 29 of the bin bounds, dense from 1 to 100 µs
// (where the gateway's own overhead lies), then 1-2-5 steps up to 60 s.
inline constexpr uint64_t histogram_export_ns[] = {
    1'000,         2'000,         3'000,          5'000,          7'000,          10'000,
    15'000,        20'000,        30'000,         50'000,         70'000,         100'000,
    200'000,       500'000,       1'000'000,      2'000'000,      5'000'000,      10'000'000,
    20'000'000,    50'000'000,    100'000'000,    200'000'000,    500'000'000,    1'000'000'000,
    2'000'000'000, 5'000'000'000, 10'000'000'000, 20'000'000'000, 60'000'000'000,
};
inline constexpr uint32_t histogram_exported = std::size(histogram_export_ns);

constexpr bool histogram_export_bounds_are_bin_bounds() noexcept {
  for (uint64_t v : histogram_export_ns) {
    if (histogram_upper_ns(histogram_bucket(v)) != v) return false;
  }
  return true;
}
static_assert(histogram_export_bounds_are_bin_bounds(), "an exported le would not be exact");
static_assert(histogram_upper_ns(histogram_buckets - 2) == histogram_max_ns);

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
  // `count` observations of 0 ns at once (bucket 0; the sum is unchanged).
  void observe_zeros(const family_id& f, uint32_t series, uint64_t count) noexcept {
    auto& b = _cells[f.offset + series * f.stride];
    b.store(b.load(std::memory_order_relaxed) + count, std::memory_order_relaxed);
  }
  void observe_ns(const family_id& f, uint32_t series, uint64_t ns) noexcept {
    std::atomic<uint64_t>* h = &_cells[f.offset + series * f.stride];
    auto& b = h[histogram_bucket_fast(ns)];
    b.store(b.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    auto& sum = h[histogram_buckets];
    sum.store(sum.load(std::memory_order_relaxed) + ns, std::memory_order_relaxed);
  }
  // A counter's or gauge's cell, from any thread.
  uint64_t value(const family_id& f, uint32_t series) const noexcept {
    return read(f.offset + series * f.stride);
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
