// The metrics registry: series summed across shard blocks, histogram buckets cumulative and
// consistent with the count, label escaping, and (when promtool is installed) a format check.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <ringgate/observe/metrics.hpp>

using namespace rg::observe;

namespace {

std::string expose(const registry& r, std::vector<const shard_block*> blocks) {
  std::string out;
  r.expose(blocks, out);
  return out;
}

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

}  // namespace

// The hot path's table lookup gives the reference's bucket at and around every bucket bound, on
// a sweep of every scale, and at the extremes.
TEST(metrics, histogram_bucket_fast_equals_the_reference) {
  std::vector<uint64_t> values = {0, 1, 999, 1'000, 1'001, UINT64_MAX - 1, UINT64_MAX};
  for (uint32_t b = 0; b + 1 < histogram_buckets; ++b) {
    const uint64_t u = histogram_upper_ns(b);
    values.insert(values.end(), {u - 1, u, u + 1});
  }
  for (uint64_t v = 1'000; v < (uint64_t(1) << 62); v += v / 997 + 1) values.push_back(v);
  for (int bit = 0; bit < 64; ++bit) {
    const uint64_t p = uint64_t(1) << bit;
    values.insert(values.end(), {p - 1, p, p + 1});
  }
  uint32_t max_steps = 0;
  for (uint64_t v : values) {
    ASSERT_EQ(histogram_bucket_fast(v), histogram_bucket(v)) << v;
    if (v > histogram_min_ns) {
      ASSERT_LE(detail::histogram_first_bucket(v), histogram_bucket(v)) << v;
      max_steps = std::max(max_steps, histogram_bucket(v) - detail::histogram_first_bucket(v));
    }
  }
  EXPECT_LE(max_steps, 2u);  // what the header promises: a step or two
}

TEST(metrics, histogram_bucket_bounds_are_inclusive) {
  EXPECT_EQ(histogram_bucket(0), 0u);
  EXPECT_EQ(histogram_bucket(1'000), 0u);  // ≤ 1 µs
  EXPECT_EQ(histogram_bucket(1'001), 1u);
  EXPECT_EQ(histogram_upper_ns(1), 1'100u);
  EXPECT_EQ(histogram_bucket(1'100), 1u);
  EXPECT_EQ(histogram_bucket(1'101), 2u);
  EXPECT_EQ(histogram_bucket(15'000), histogram_bucket(14'001));
  EXPECT_EQ(histogram_bucket(15'001), histogram_bucket(15'000) + 1);
  EXPECT_EQ(histogram_bucket(60'000'000'000), histogram_buckets - 2);
  EXPECT_EQ(histogram_bucket(60'000'000'001), histogram_buckets - 1);
  EXPECT_EQ(histogram_bucket(100'000'000'000), histogram_buckets - 1);
  EXPECT_EQ(histogram_bucket(UINT64_MAX), histogram_buckets - 1);
  EXPECT_EQ(histogram_upper_ns(histogram_buckets - 1), UINT64_MAX);
}

// Log-linear: every bin from 1 µs to 60 s is (lower, upper] with upper at most 10 % above lower,
// and the bins tile the range without gaps.
TEST(metrics, histogram_bins_are_log_linear_and_at_most_ten_percent_wide) {
  for (uint32_t b = 1; b + 1 < histogram_buckets; ++b) {
    uint64_t lower = histogram_upper_ns(b - 1), upper = histogram_upper_ns(b);
    ASSERT_LT(lower, upper) << b;
    EXPECT_LE(double(upper - lower), 0.1 * double(lower) + 1e-9) << b;
    EXPECT_EQ(histogram_bucket(lower + 1), b);
    EXPECT_EQ(histogram_bucket(upper), b);
  }
  // Values spread over the whole range land in a bin that holds them.
  for (uint64_t v = 1'001; v < 60'000'000'000; v = v * 1013 / 1000 + 7) {
    uint32_t b = histogram_bucket(v);
    ASSERT_GT(v, histogram_upper_ns(b - 1)) << v;
    ASSERT_LE(v, histogram_upper_ns(b)) << v;
  }
}

TEST(metrics, exported_buckets_are_few_and_fine_below_100_us) {
  EXPECT_LE(histogram_exported + 1, 30u);  // + Inf
  uint32_t below_100us = 0;
  for (uint32_t e = 0; e < histogram_exported; ++e) {
    uint64_t v = histogram_export_ns[e];
    EXPECT_EQ(histogram_upper_ns(histogram_bucket(v)), v) << "not a bin bound: " << v;
    if (e > 0) {
      EXPECT_LT(histogram_export_ns[e - 1], v);
    }
    if (v <= 100'000) ++below_100us;
  }
  EXPECT_GE(below_100us, 12u);
  EXPECT_EQ(histogram_export_ns[0], histogram_min_ns);
  EXPECT_EQ(histogram_export_ns[histogram_exported - 1], histogram_max_ns);
}

TEST(metrics, counters_sum_over_shards_and_skip_zero_series) {
  registry r;
  family_id req = r.add({"ringgate_requests_total",
                         "Requests answered.",
                         metric_type::counter,
                         {"model", "status_class"},
                         {{"gpt", "2xx"}, {"gpt", "5xx"}, {"claude", "2xx"}}});
  auto a = r.make_block();
  auto b = r.make_block();
  a->add(req, 0, 3);
  b->add(req, 0, 4);
  b->add(req, 2);
  std::string out = expose(r, {a.get(), b.get()});
  EXPECT_TRUE(contains(out,
                       "# HELP ringgate_requests_total Requests answered.\n"
                       "# TYPE ringgate_requests_total counter\n"));
  EXPECT_TRUE(contains(out, "ringgate_requests_total{model=\"gpt\",status_class=\"2xx\"} 7\n"));
  EXPECT_TRUE(contains(out, "ringgate_requests_total{model=\"claude\",status_class=\"2xx\"} 1\n"));
  EXPECT_FALSE(contains(out, "5xx"));
}

TEST(metrics, gauges_emit_zero_and_sum_signed) {
  registry r;
  family_id g =
      r.add({"ringgate_requests_in_flight", "In flight.", metric_type::gauge, {}, {}, true});
  auto a = r.make_block();
  auto b = r.make_block();
  std::string out = expose(r, {a.get(), b.get()});
  EXPECT_TRUE(contains(out, "ringgate_requests_in_flight 0\n"));
  // A request may start on one shard's count and end on another's: the sum is what matters.
  a->add(g, 0, 2);
  b->sub(g, 0, 1);
  out = expose(r, {a.get(), b.get()});
  EXPECT_TRUE(contains(out, "ringgate_requests_in_flight 1\n"));
}

TEST(metrics, histogram_is_cumulative_and_count_matches_inf_bucket) {
  registry r;
  family_id h = r.add({"ringgate_request_duration_seconds",
                       "Duration.",
                       metric_type::histogram,
                       {"endpoint"},
                       {{"chat"}}});
  auto a = r.make_block();
  auto b = r.make_block();
  a->observe_ns(h, 0, 15'000);          // ≤ 15 µs, an exported bound: counted there
  a->observe_ns(h, 0, 15'001);          // ≤ 20 µs
  a->observe_ns(h, 0, 1'000'000);       // ≤ 1 ms
  b->observe_ns(h, 0, 70'000'000'000);  // +Inf
  std::string out = expose(r, {a.get(), b.get()});
  auto bucket = [&](const char* le, int n) {
    std::string line =
        std::string("ringgate_request_duration_seconds_bucket{endpoint=\"chat\",le=\"") + le +
        "\"} " + std::to_string(n) + "\n";
    EXPECT_TRUE(contains(out, line)) << line << out;
  };
  bucket("1e-06", 0);
  bucket("1e-05", 0);
  bucket("1.5e-05", 1);
  bucket("2e-05", 2);
  bucket("0.0005", 2);
  bucket("0.001", 3);
  bucket("60", 3);
  bucket("+Inf", 4);
  EXPECT_TRUE(contains(out, "ringgate_request_duration_seconds_count{endpoint=\"chat\"} 4\n"));
  EXPECT_TRUE(
      contains(out, "ringgate_request_duration_seconds_sum{endpoint=\"chat\"} 70.001030001\n"));
  // Each series exposes the bounded set of buckets, not the fine internal ones.
  size_t lines = 0;
  for (size_t p = 0; (p = out.find("_bucket{", p)) != std::string::npos; ++p) ++lines;
  EXPECT_EQ(lines, histogram_exported + 1);
}

TEST(metrics, label_values_are_escaped) {
  registry r;
  family_id f =
      r.add({"ringgate_x_total", "X.", metric_type::counter, {"model"}, {{"we\"ird\\name\nz"}}});
  auto a = r.make_block();
  a->add(f, 0);
  std::string out = expose(r, {a.get()});
  EXPECT_TRUE(contains(out, "ringgate_x_total{model=\"we\\\"ird\\\\name\\nz\"} 1\n")) << out;
}

TEST(metrics, invalid_names_are_refused) {
  registry r;
  EXPECT_THROW(r.add({"bad-name", "x", metric_type::counter, {}, {}}), std::invalid_argument);
  EXPECT_THROW(r.add({"ok_total", "x", metric_type::counter, {"le"}, {{"1"}}}),
               std::invalid_argument);
  EXPECT_THROW(r.add({"ok_total", "x", metric_type::counter, {"a"}, {{"1", "2"}}}),
               std::invalid_argument);
}

TEST(metrics, hooks_append_after_families) {
  registry r;
  r.add({"ringgate_a_total", "A.", metric_type::counter, {}, {}, true});
  r.add_hook([](std::string& out) {
    append_help_type(out, "ringgate_build_info", "Build.", "gauge");
    out += "ringgate_build_info{version=\"0.1.0\"} 1\n";
  });
  std::string out = expose(r, {});
  EXPECT_LT(out.find("ringgate_a_total 0"), out.find("ringgate_build_info{"));
}

TEST(metrics, promtool_accepts_the_exposition) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) GTEST_SKIP() << "no promtool";
  registry r;
  family_id c = r.add(
      {"ringgate_requests_total", "Requests.", metric_type::counter, {"model"}, {{"a"}, {"b"}}});
  family_id h = r.add({"ringgate_upstream_ttfb_seconds",
                       "TTFB.",
                       metric_type::histogram,
                       {"provider"},
                       {{"mock"}}});
  r.add({"ringgate_in_flight", "In flight.", metric_type::gauge, {}, {}, true});
  auto a = r.make_block();
  a->add(c, 0, 5);
  a->observe_ns(h, 0, 123'456);
  std::string out = expose(r, {a.get()});
  std::string path = testing::TempDir() + "metrics_test.prom";
  std::ofstream(path) << out;
  std::string cmd = "promtool check metrics < " + path + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string text;
  char buf[512];
  while (fgets(buf, sizeof buf, p)) text += buf;
  int rc = pclose(p);
  EXPECT_EQ(rc, 0) << text << "\n---\n" << out;
}

TEST(metrics, a_labelled_family_may_have_no_series) {
  registry r;
  family_id f = r.add({"ringgate_rate_limited_total", "By key.", metric_type::counter, {"key"},
                       {}, true});
  EXPECT_EQ(f.series, 0u);
  auto a = r.make_block();
  std::string out = expose(r, {a.get()});
  EXPECT_TRUE(contains(out, "# TYPE ringgate_rate_limited_total counter\n"));
  EXPECT_FALSE(contains(out, "ringgate_rate_limited_total{"));
}

TEST(metrics, scaled_counters_expose_fractions) {
  registry r;
  family_options o{"ringgate_cost_usd_total", "Cost.", metric_type::counter, {}, {}, true};
  o.scale = 1e-9;
  family_id f = r.add(std::move(o));
  auto a = r.make_block();
  a->add(f, 0, 1'500'000'000);
  EXPECT_TRUE(contains(expose(r, {a.get()}), "ringgate_cost_usd_total 1.5\n"));
}
