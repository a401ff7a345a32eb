// Retry policy: which outcomes retry, full-jitter backoff bounds, Retry-After parsing and the
// cap, and how outcomes count for the circuit breaker. Table tests; randomness is a parameter.
#include <gtest/gtest.h>

#include <ringgate/resilience/retry.hpp>

using namespace rg::resilience;

namespace {

constexpr uint64_t ms = ns_per_ms;

TEST(retry, default_statuses_and_never_retried_ones) {
  retry_policy p = retry_policy::defaults();
  struct row {
    uint16_t status;
    bool retry;
  } rows[] = {{429, true},  {500, true},  {502, true},  {503, true},  {504, true},
              {529, true},  {200, false}, {400, false}, {401, false}, {403, false},
              {404, false}, {413, false}, {422, false}, {501, false}, {408, false}};
  for (auto r : rows) EXPECT_EQ(retryable(p, outcome::answered, r.status), r.retry) << r.status;
  // Even when configured, a request the upstream refused as wrong is never sent again.
  p.statuses.set(400);
  p.statuses.set(422);
  EXPECT_FALSE(retryable(p, outcome::answered, 400));
  EXPECT_FALSE(retryable(p, outcome::answered, 422));
}

TEST(retry, transport_outcomes) {
  retry_policy p = retry_policy::defaults();
  EXPECT_TRUE(retryable(p, outcome::connect, 0));
  EXPECT_TRUE(retryable(p, outcome::reset, 0));
  EXPECT_FALSE(retryable(p, outcome::timeout, 0));
  EXPECT_FALSE(retryable(p, outcome::fatal, 0));
  p.on_timeout = true;
  EXPECT_TRUE(retryable(p, outcome::timeout, 0));
}

TEST(retry, circuit_verdicts) {
  EXPECT_EQ(circuit_verdict(outcome::answered, 200), verdict::success);
  EXPECT_EQ(circuit_verdict(outcome::answered, 404), verdict::success);
  EXPECT_EQ(circuit_verdict(outcome::answered, 429), verdict::neutral);
  EXPECT_EQ(circuit_verdict(outcome::answered, 500), verdict::failure);
  EXPECT_EQ(circuit_verdict(outcome::answered, 529), verdict::failure);
  EXPECT_EQ(circuit_verdict(outcome::connect, 0), verdict::failure);
  EXPECT_EQ(circuit_verdict(outcome::reset, 0), verdict::failure);
  EXPECT_EQ(circuit_verdict(outcome::timeout, 0), verdict::failure);
}

TEST(retry, backoff_is_full_jitter_under_an_exponential_cap) {
  retry_policy p = retry_policy::defaults();
  p.backoff_base_ns = 100 * ms;
  p.backoff_max_ns = 1000 * ms;
  struct row {
    uint32_t index;
    uint64_t cap;
  } rows[] = {{0, 100 * ms},  {1, 200 * ms},   {2, 400 * ms},    {3, 800 * ms},
              {4, 1000 * ms}, {63, 1000 * ms}, {1000, 1000 * ms}};
  for (auto r : rows) {
    EXPECT_EQ(backoff_ns(p, r.index, 0), 0u) << r.index;
    EXPECT_EQ(backoff_ns(p, r.index, UINT64_MAX), r.cap) << r.index;
    EXPECT_NEAR(double(backoff_ns(p, r.index, UINT64_MAX / 2)), double(r.cap) / 2, 1.0);
  }
  p.backoff_base_ns = 0;
  EXPECT_EQ(backoff_ns(p, 5, UINT64_MAX), 0u);
}

TEST(retry, retry_after_binds_only_the_same_endpoint_and_is_capped) {
  retry_policy p = retry_policy::defaults();
  p.backoff_base_ns = 10 * ms;
  p.max_retry_after_ns = 2000 * ms;
  uint64_t half = UINT64_MAX / 2;
  // No hint: backoff.
  EXPECT_NEAR(double(*retry_delay_ns(p, 0, half, std::nullopt, true)), 5.0 * ms, 1.0);
  // A hint under the cap: waited when going back to the same endpoint…
  EXPECT_EQ(retry_delay_ns(p, 0, half, 1500 * ms, true), 1500 * ms);
  // …not when another endpoint takes the retry.
  EXPECT_NEAR(double(*retry_delay_ns(p, 0, half, 1500 * ms, false)), 5.0 * ms, 1.0);
  // Over the cap: no retry on the same endpoint; another endpoint still may.
  EXPECT_EQ(retry_delay_ns(p, 0, half, 2001 * ms, true), std::nullopt);
  EXPECT_TRUE(retry_delay_ns(p, 0, half, 2001 * ms, false));
  // The longer of backoff and hint.
  p.backoff_base_ns = 4000 * ms;
  p.backoff_max_ns = 4000 * ms;
  EXPECT_EQ(retry_delay_ns(p, 0, UINT64_MAX, 1000 * ms, true), 4000 * ms);
}

TEST(retry, parse_retry_after_ms) {
  struct row {
    const char* text;
    std::optional<uint64_t> ns;
  } rows[] = {{"1500", 1500 * ms},
              {" 20 ", 20 * ms},
              {"0", 0},
              {"1.5", 2 * ms},
              {"3.000", 3 * ms},
              {"", std::nullopt},
              {"-1", std::nullopt},
              {"1e3", std::nullopt},
              {"12x", std::nullopt},
              {"1.", std::nullopt},
              {"999999999999", 86'400'000 * ms}};
  for (auto r : rows) EXPECT_EQ(parse_retry_after_ms(r.text), r.ns) << r.text;
}

TEST(retry, parse_retry_after_seconds_and_dates) {
  // 1994-11-06 08:49:37 UTC
  const int64_t now = 784111777;
  struct row {
    const char* text;
    std::optional<uint64_t> ns;
  } rows[] = {
      {"120", 120'000 * ms},
      {"0", 0},
      {"Sun, 06 Nov 1994 08:49:37 GMT", 0},
      {"Sun, 06 Nov 1994 08:50:07 GMT", 30'000 * ms},
      {"Sun, 06 Nov 1994 08:00:00 GMT", 0},  // in the past
      {"Mon, 07 Nov 1994 08:49:37 GMT", 86'400'000 * ms},
      {"Sun, 06 Nov 1994 08:49:37 UTC", std::nullopt},
      {"Sunday, 06-Nov-94 08:49:37 GMT", std::nullopt},  // obsolete RFC 850 form: ignored
      {"Sun, 06 Foo 1994 08:49:37 GMT", std::nullopt},
      {"soon", std::nullopt},
      {"1.5", std::nullopt},
      {"99999999999", 86'400'000 * ms},  // clamped: longer than any cap
  };
  for (auto r : rows) EXPECT_EQ(parse_retry_after(r.text, now), r.ns) << r.text;
}

}  // namespace
