// The metrics registry: series summed across shard blocks, histogram buckets cumulative and
// consistent with the count, label escaping, and (when promtool is installed) a format check.
#include <gtest/gtest.h>

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

TEST(metrics, histogram_bucket_bounds_are_inclusive) {
  EXPECT_EQ(histogram_bucket(0), 0u);
  EXPECT_EQ(histogram_bucket(10'000), 0u);
  EXPECT_EQ(histogram_bucket(10'001), 1u);
  EXPECT_EQ(histogram_bucket(1'000'000'000), 15u);
  EXPECT_EQ(histogram_bucket(50'000'000'000), histogram_buckets - 2);
  EXPECT_EQ(histogram_bucket(50'000'000'001), histogram_buckets - 1);
  EXPECT_EQ(histogram_bucket(UINT64_MAX), histogram_buckets - 1);
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
  a->observe_ns(h, 0, 15'000);          // ≤ 20 µs
  a->observe_ns(h, 0, 1'000'000);       // ≤ 1 ms
  b->observe_ns(h, 0, 70'000'000'000);  // +Inf
  std::string out = expose(r, {a.get(), b.get()});
  EXPECT_TRUE(contains(
      out, "ringgate_request_duration_seconds_bucket{endpoint=\"chat\",le=\"1e-05\"} 0\n"));
  EXPECT_TRUE(contains(
      out, "ringgate_request_duration_seconds_bucket{endpoint=\"chat\",le=\"2e-05\"} 1\n"));
  EXPECT_TRUE(contains(
      out, "ringgate_request_duration_seconds_bucket{endpoint=\"chat\",le=\"0.001\"} 2\n"));
  EXPECT_TRUE(
      contains(out, "ringgate_request_duration_seconds_bucket{endpoint=\"chat\",le=\"50\"} 2\n"));
  EXPECT_TRUE(
      contains(out, "ringgate_request_duration_seconds_bucket{endpoint=\"chat\",le=\"+Inf\"} 3\n"));
  EXPECT_TRUE(contains(out, "ringgate_request_duration_seconds_count{endpoint=\"chat\"} 3\n"));
  EXPECT_TRUE(
      contains(out, "ringgate_request_duration_seconds_sum{endpoint=\"chat\"} 70.001015\n"));
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
