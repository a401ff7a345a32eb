// Retry policy (see retry.hpp): backoff arithmetic and Retry-After parsing. Parsing is strict
// (a value we do not fully understand is ignored, never guessed) and bounded.
#include <ringgate/resilience/retry.hpp>

#include <algorithm>

#include <ringgate/resilience/rng.hpp>

namespace rg::resilience {
namespace {

constexpr uint64_t ns_per_s = 1'000'000'000;
// Longer waits are clamped to this: still "longer than any cap", and the arithmetic stays small.
constexpr uint64_t server_wait_max_s = 86'400;

bool digits(std::string_view s, uint64_t max, uint64_t& out) noexcept {
  if (s.empty() || s.size() > 12) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + uint64_t(c - '0');
  }
  if (v > max) return false;
  out = v;
  return true;
}

std::string_view trimmed(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Days since 1970-01-01 of a proleptic Gregorian date (month 1..12).
int64_t days_from_civil(int64_t y, int64_t m, int64_t d) noexcept {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// IMF-fixdate (RFC 9110 §5.6.7): "Sun, 06 Nov 1994 08:49:37 GMT", exactly 29 bytes.
std::optional<int64_t> imf_fixdate(std::string_view s) noexcept {
  static constexpr std::string_view days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  static constexpr std::string_view months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (s.size() != 29 || s.substr(3, 2) != ", " || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
      s[19] != ':' || s[22] != ':' || s.substr(25) != " GMT") {
    return std::nullopt;
  }
  if (std::find(std::begin(days), std::end(days), s.substr(0, 3)) == std::end(days)) {
    return std::nullopt;
  }
  auto month = std::find(std::begin(months), std::end(months), s.substr(8, 3));
  if (month == std::end(months)) return std::nullopt;
  uint64_t day, year, hh, mm, ss;
  if (!digits(s.substr(5, 2), 31, day) || !digits(s.substr(12, 4), 9999, year) ||
      !digits(s.substr(17, 2), 23, hh) || !digits(s.substr(20, 2), 59, mm) ||
      !digits(s.substr(23, 2), 60, ss) || day == 0) {
    return std::nullopt;
  }
  int64_t d = days_from_civil(int64_t(year), int64_t(month - std::begin(months)) + 1, int64_t(day));
  return d * 86'400 + int64_t(hh * 3600 + mm * 60 + ss);
}

}  // namespace

retry_policy retry_policy::defaults() noexcept {
  retry_policy p;
  for (uint16_t s : {429, 500, 502, 503, 504, 529}) p.statuses.set(s);
  return p;
}

uint64_t backoff_ns(const retry_policy& p, uint32_t retry_index, uint64_t random) noexcept {
  uint64_t cap = p.backoff_max_ns;
  if (retry_index < 40 && p.backoff_base_ns <= (p.backoff_max_ns >> retry_index)) {
    cap = p.backoff_base_ns << retry_index;
  }
  if (cap == 0) return 0;
  if (cap == UINT64_MAX) return random;
  return scale_random(random, cap + 1);  // uniform in [0, cap]
}

std::optional<uint64_t> retry_delay_ns(const retry_policy& p, uint32_t retry_index, uint64_t random,
                                       std::optional<uint64_t> server_wait_ns,
                                       bool same_endpoint) noexcept {
  uint64_t backoff = backoff_ns(p, retry_index, random);
  if (!same_endpoint || !server_wait_ns) return backoff;
  if (*server_wait_ns > p.max_retry_after_ns) return std::nullopt;
  return std::max(backoff, *server_wait_ns);
}

std::optional<uint64_t> parse_retry_after_ms(std::string_view value) noexcept {
  value = trimmed(value);
  size_t dot = value.find('.');
  uint64_t ms = 0;
  if (!digits(value.substr(0, dot), UINT64_MAX, ms)) return std::nullopt;
  ms = std::min(ms, server_wait_max_s * 1000);
  if (dot != std::string_view::npos) {
    uint64_t frac = 0;
    std::string_view f = value.substr(dot + 1);
    if (!digits(f, UINT64_MAX, frac)) return std::nullopt;
    if (frac > 0) ++ms;  // round up: never retry before the upstream said
  }
  return ms * ns_per_ms;
}

std::optional<uint64_t> parse_retry_after(std::string_view value, int64_t now_unix_s) noexcept {
  value = trimmed(value);
  uint64_t s = 0;
  if (digits(value, UINT64_MAX, s)) return std::min(s, server_wait_max_s) * ns_per_s;
  if (auto at = imf_fixdate(value)) {
    int64_t delta = *at - now_unix_s;
    if (delta <= 0) return 0;
    return std::min(uint64_t(delta), server_wait_max_s) * ns_per_s;
  }
  return std::nullopt;
}

}  // namespace rg::resilience
