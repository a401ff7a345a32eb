// --since parsing (UTC dates and relative durations) and the spend table of `ringgate usage`.
#include <ringgate/governance/report.hpp>

#include <cstdio>

namespace rg::governance {
namespace {

// Reads exactly `digits` decimal digits at s[at]; -1 when they are not there.
int64_t number(std::string_view s, size_t at, size_t digits) {
  if (at + digits > s.size()) return -1;
  int64_t v = 0;
  for (size_t i = at; i < at + digits; ++i) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

bool leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(int64_t y, unsigned m) {
  static constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : days[m - 1];
}

std::optional<int64_t> relative(std::string_view text, int64_t now_s) {
  if (text.size() < 2 || text.size() > 12) return std::nullopt;
  int64_t unit = 0;
  switch (text.back()) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    default: return std::nullopt;
  }
  int64_t n = number(text, 0, text.size() - 1);
  if (n < 0) return std::nullopt;
  return now_s - n * unit;
}

}  // namespace

std::optional<int64_t> parse_since(std::string_view text, int64_t now_s) {
  if (text.size() < 10 || text[4] != '-' || text[7] != '-') return relative(text, now_s);
  int64_t y = number(text, 0, 4), mo = number(text, 5, 2), d = number(text, 8, 2);
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > int64_t(days_in_month(y, unsigned(mo)))) {
    return std::nullopt;
  }
  int64_t h = 0, mi = 0, sec = 0;
  std::string_view rest = text.substr(10);
  if (!rest.empty()) {
    if ((rest[0] != 'T' && rest[0] != ' ') || rest.size() < 6 || rest[3] != ':') return std::nullopt;
    h = number(rest, 1, 2), mi = number(rest, 4, 2);
    rest.remove_prefix(6);
    if (!rest.empty() && rest[0] == ':') {
      sec = number(rest, 1, 2);
      rest.remove_prefix(3);
    }
    if (rest == "Z") rest = {};
    if (!rest.empty() || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59) {
      return std::nullopt;
    }
  }
  // Days since the epoch: the start of the month (period arithmetic), then the day.
  int64_t month_index = (y - 1970) * 12 + (mo - 1);
  int64_t start = period_start(period::monthly, month_index);
  return start + (d - 1) * 86400 + h * 3600 + mi * 60 + sec;
}

std::string format_utc(int64_t unix_s) {
  int64_t day = unix_s >= 0 ? unix_s / 86400 : (unix_s - 86399) / 86400;
  std::string date = period_label(period::daily, day).substr(2);  // "YYYY-MM-DD"
  int64_t rem = unix_s - day * 86400;
  char buf[48];
  snprintf(buf, sizeof buf, "%sT%02lld:%02lld:%02lldZ", date.c_str(), (long long)(rem / 3600),
           (long long)(rem % 3600 / 60), (long long)(rem % 60));
  return buf;
}

std::string format_usage_table(const std::vector<usage_summary>& rows) {
  std::string out;
  char line[256];
  snprintf(line, sizeof line, "%-24s %10s %14s %14s %20s\n", "key", "requests", "tokens_in",
           "tokens_out", "cost_usd");
  out += line;
  usage_summary total;
  total.key = "total";
  for (const auto& r : rows) {
    char usd[32];
    format_usd(r.cost, usd, sizeof usd);
    snprintf(line, sizeof line, "%-24s %10llu %14lld %14lld %20s\n",
             r.key.empty() ? "(anonymous)" : r.key.c_str(), (unsigned long long)r.requests,
             (long long)r.tokens_in, (long long)r.tokens_out, usd);
    out += line;
    total.requests += r.requests;
    total.tokens_in += r.tokens_in;
    total.tokens_out += r.tokens_out;
    total.cost += r.cost;
    total.estimated += r.estimated;
  }
  char usd[32];
  format_usd(total.cost, usd, sizeof usd);
  snprintf(line, sizeof line, "%-24s %10llu %14lld %14lld %20s\n", "total",
           (unsigned long long)total.requests, (long long)total.tokens_in,
           (long long)total.tokens_out, usd);
  out += line;
  if (total.estimated > 0) {
    snprintf(line, sizeof line,
             "(%llu requests had no usage reported upstream: their tokens are estimates)\n",
             (unsigned long long)total.estimated);
    out += line;
  }
  return out;
}

}  // namespace rg::governance
