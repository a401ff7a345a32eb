// The throttle behind "upstream TLS handshake failed" warnings: at most one line per endpoint per
// interval, and the next line carries how many were held back meanwhile. Driven with explicit
// clock values (the integration test sees the one-line half through a real ringgate).
#include <gtest/gtest.h>

#include <ringgate/upstream/endpoint.hpp>

namespace rg::upstream {
namespace {

constexpr uint64_t s_ns = 1'000'000'000;
constexpr log_topic tls = log_topic::tls_failure;

TEST(tls_failure_log, one_line_per_interval_then_the_suppressed_count) {
  endpoint ep(endpoint_options{});
  uint64_t suppressed = 99;
  EXPECT_TRUE(ep.claim_log(tls, 100 * s_ns, 10 * s_ns, suppressed));
  EXPECT_EQ(suppressed, 0u);
  for (uint64_t t : {100, 101, 105, 109}) {
    EXPECT_FALSE(ep.claim_log(tls, t * s_ns, 10 * s_ns, suppressed)) << "at " << t << " s";
  }
  EXPECT_TRUE(ep.claim_log(tls, 110 * s_ns, 10 * s_ns, suppressed));
  EXPECT_EQ(suppressed, 4u) << "the held-back lines are reported on the next one";
  EXPECT_FALSE(ep.claim_log(tls, 111 * s_ns, 10 * s_ns, suppressed));
  EXPECT_TRUE(ep.claim_log(tls, 200 * s_ns, 10 * s_ns, suppressed));
  EXPECT_EQ(suppressed, 1u);
}

TEST(tls_failure_log, endpoints_are_throttled_independently) {
  endpoint a(endpoint_options{}), b(endpoint_options{});
  uint64_t suppressed = 0;
  EXPECT_TRUE(a.claim_log(tls, 100 * s_ns, 10 * s_ns, suppressed));
  EXPECT_TRUE(b.claim_log(tls, 100 * s_ns, 10 * s_ns, suppressed));
  EXPECT_FALSE(a.claim_log(tls, 101 * s_ns, 10 * s_ns, suppressed));
}

}  // namespace
}  // namespace rg::upstream
