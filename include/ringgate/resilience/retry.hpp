// Retry policy: which attempt outcomes may be retried, how long to wait before the next attempt
// (exponential backoff with full jitter, or what the upstream asked for with Retry-After /
// retry-after-ms, up to a cap), and how an outcome counts for the endpoint's circuit breaker.
// Pure functions of their inputs (time and randomness are parameters), so tables test them.
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <string_view>

namespace rg::resilience {

inline constexpr uint64_t ns_per_ms = 1'000'000;

struct retry_policy {
  uint32_t attempts = 3;  // per model, the first included (1 = never retry)
  uint64_t backoff_base_ns = 100 * ns_per_ms;
  uint64_t backoff_max_ns = 2000 * ns_per_ms;
  uint64_t max_retry_after_ns = 2000 * ns_per_ms;  // longest upstream-requested wait honoured
  uint64_t budget_ns = 30'000 * ns_per_ms;  // no attempt starts later than this after the request
  bool on_timeout = false;    // retry a first-byte timeout (the upstream may still be working)
  std::bitset<600> statuses;  // retryable statuses

  bool retries_status(uint16_t status) const noexcept {
    return status < statuses.size() && statuses.test(status);
  }
  // 429, 500, 502, 503, 504 and 529 retryable; everything else as above.
  static retry_policy defaults() noexcept;
};

// Statuses that are never retried whatever the configuration says: the request itself is wrong
// (or not allowed), so another attempt would fail the same way.
constexpr bool never_retried(uint16_t status) noexcept {
  return status == 400 || status == 401 || status == 403 || status == 404 || status == 413 ||
         status == 422;
}

// How an attempt ended.
enum class outcome : uint8_t {
  answered,  // a response head the client may get (its status decides the rest)
  connect,   // no connection (refused, unreachable, connect timeout): nothing was sent
  reset,     // the connection failed or closed before the response head
  timeout,   // no response head within the first-byte deadline
  fatal,     // never retried: TLS verification failure, an invalid response, …
};

// Whether another attempt may follow this one (attempts and budget aside).
constexpr bool retryable(const retry_policy& p, outcome o, uint16_t status) noexcept {
  switch (o) {
    case outcome::answered:
      return !never_retried(status) && p.retries_status(status);
    case outcome::connect:
    case outcome::reset:
      return true;
    case outcome::timeout:
      return p.on_timeout;
    case outcome::fatal:
      return false;
  }
  return false;
}

// What an outcome says about the endpoint. 5xx and transport failures are failures; 429 says
// "slow down", not "broken"; any other answer shows the endpoint works.
enum class verdict : uint8_t { success, failure, neutral };
constexpr verdict circuit_verdict(outcome o, uint16_t status) noexcept {
  if (o != outcome::answered) return verdict::failure;
  if (status >= 500) return verdict::failure;
  if (status == 429) return verdict::neutral;
  return verdict::success;
}

// Full-jitter exponential backoff before retry number `retry_index` (0 = the first retry):
// uniform in [0, min(backoff_max, backoff_base * 2^retry_index)], drawn from `random`.
uint64_t backoff_ns(const retry_policy& p, uint32_t retry_index, uint64_t random) noexcept;

// The wait before the next attempt. `server_wait_ns` is what the upstream asked for (parsed
// Retry-After / retry-after-ms), which binds only a retry that goes back to the same endpoint:
// then the wait is the longer of it and the backoff, or nullopt (do not retry) when it is over
// max_retry_after_ns — the client is better placed to wait that long than a held request.
std::optional<uint64_t> retry_delay_ns(const retry_policy& p, uint32_t retry_index, uint64_t random,
                                       std::optional<uint64_t> server_wait_ns,
                                       bool same_endpoint) noexcept;

// `retry-after-ms: 1500` (an OpenAI convention; a fraction is allowed and rounded up).
std::optional<uint64_t> parse_retry_after_ms(std::string_view value) noexcept;
// `Retry-After: 120` (delta-seconds) or an IMF-fixdate (`Wed, 21 Oct 2015 07:28:00 GMT`),
// relative to `now_unix_s`; a date in the past is 0. nullopt when unparsable.
std::optional<uint64_t> parse_retry_after(std::string_view value, int64_t now_unix_s) noexcept;

}  // namespace rg::resilience
