#include "access.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <ctime>

#include <ringgate/json/writer.hpp>
#include <ringgate/runtime/bytes.hpp>
#include <ringgate/runtime/clock.hpp>
#include <ringgate/runtime/log.hpp>

namespace rg::gateway {
namespace {

constexpr size_t text_max = 160;  // any one variable string field

[[gnu::always_inline]] inline std::string_view clip(std::string_view s) noexcept {
  return {s.data(), std::min(s.size(), text_max)};  // called 12 times a line: no call
}

// The line is built from literal fragments (keys and punctuation together), with the values in
// between: json_writer's per-call checks and its per-byte escaping made formatting the access
// line cost ~13,000 instructions a request, about half the cost of proxying it (callgrind).
// Checked: every write checks the room left, and overflow sets ok = false for good, like
// json_writer. Unchecked: format_access_line has shown the whole line fits (its bound), so literal
// fragments are plain stores (their per-write checks were a fifth of the line's cost).
template <bool Checked>
class line_builder {
 public:
  explicit line_builder(std::span<char> out) noexcept
      : _begin(out.data()), _p(out.data()), _end(out.data() + out.size()) {}
  line_builder& lit(std::string_view s) noexcept {
    if (!room(s.size())) return *this;
    std::memcpy(_p, s.data(), s.size());
    _p += s.size();
    return *this;
  }
  // A quoted JSON string, escaped exactly as json_writer::string does it (which the few strings
  // that need escaping go through).
  line_builder& str(std::string_view v) noexcept {
    if (!json::is_plain(v)) return value([v](json::json_writer& w) { w.string(v); });
    return quoted(v);
  }
  // A string that needs no escaping by construction: a request id (valid_request_id's charset, or
  // generated hex), an address formatted here. Client text always goes through str().
  line_builder& quoted(std::string_view v) noexcept {
    if (!room(v.size() + 2)) return *this;
    *_p = '"';
    std::memcpy(_p + 1, v.data(), v.size());
    _p[v.size() + 1] = '"';
    _p += v.size() + 2;
    return *this;
  }
  line_builder& str_or_null(std::string_view v) noexcept {
    return v.empty() ? lit("null") : str(clip(v));
  }
  // A configured name's JSON token (`json`, built at start-up) when there is one and the name is
  // not clipped, else the text escaped here: the same bytes either way.
  line_builder& token_or_str(std::string_view json, std::string_view text) noexcept {
    return !json.empty() && text.size() <= text_max ? lit(json) : str_or_null(text);
  }
  line_builder& num(uint64_t v) noexcept {
    if constexpr (!Checked) {  // the bound covers the longest number: digits straight into place
      _p = std::to_chars(_p, _p + 20, v).ptr;
      return *this;
    }
    char digits[20];
    return lit({digits, size_t(std::to_chars(digits, digits + sizeof digits, v).ptr - digits)});
  }
  line_builder& timestamp(int64_t unix_us) noexcept {
    if (!room(log::ts_chars)) return *this;
    log::format_utc_us(unix_us, _p);
    _p += log::ts_chars;
    return *this;
  }
  // Milliseconds with microsecond precision, trailing fraction zeros dropped ("53.45", "7").
  line_builder& millis(uint64_t ns) noexcept {
    const uint64_t us = ns / 1000;
    num(us / 1000);
    if (const auto frac = uint32_t(us % 1000); frac != 0) {
      char f[4] = {'.', char('0' + frac / 100)};
      runtime::put_two_digits(f + 2, frac % 100);
      const size_t n = frac % 10 ? 4 : frac % 100 ? 3 : 2;
      lit({f, n});
    }
    return *this;
  }
  line_builder& dbl(double v) noexcept {
    return value([v](json::json_writer& w) { w.number(v); });
  }
  bool ok() const noexcept { return _ok; }
  size_t size() const noexcept { return size_t(_p - _begin); }

 private:
  bool room(size_t n) noexcept {
    if constexpr (Checked) {
      if (!_ok || n > size_t(_end - _p)) return _ok = false;
    }
    return true;
  }
  // One root value written by a json_writer straight into the rest of the buffer (it checks its
  // own room either way).
  template <class Write>
  line_builder& value(Write write) noexcept {
    if (!_ok) return *this;
    json::json_writer w(std::span<char>(_p, size_t(_end - _p)));
    write(w);
    _ok = w.ok();
    _p += w.size();
    return *this;
  }

  char* _begin;
  char* _p;
  char* _end;
  bool _ok = true;
};

// Everything but the variable strings: the literal fragments (447 bytes with every optional one
// and every null), the timestamp, and the numbers at their longest.
constexpr size_t line_fixed_max = 512;
// json_writer writes a byte as at most six ("\u001f").
size_t escaped_max(std::string_view s) noexcept {
  return 6 * clip(s).size() + 2;
}

struct line_fields {
  std::string_view id, client, method, path;
  bool method_plain, path_plain;  // a known method's name, an endpoint's path: nothing to escape
};

template <bool Checked>
size_t write_line(const line_fields& f, const exchange_note& n, uint16_t status,
                  uint64_t duration_ns, int64_t unix_us, std::span<char> out) noexcept {
  const double cost = cost_usd(n);

  line_builder<Checked> b(out);
  b.lit("{\"time\":\"").timestamp(unix_us).lit("\",\"request_id\":");
  f.id.empty() ? b.lit("null") : b.quoted(f.id);
  b.lit(",\"client\":");
  f.client.empty() ? b.lit("null") : b.quoted(f.client);
  b.lit(",\"method\":");
  f.method_plain ? b.quoted(f.method) : b.str(clip(f.method));
  b.lit(",\"path\":");
  f.path_plain ? b.quoted(f.path) : b.str(clip(f.path));
  b.lit(",\"status\":").num(status).lit(",\"model\":").token_or_str(n.model_json, n.model);
  b.lit(",\"provider\":").token_or_str(n.provider_json, n.provider);
  b.lit(",\"upstream_model\":").token_or_str(n.upstream_model_json, n.upstream_model);
  b.lit(n.stream ? std::string_view(",\"stream\":true,\"tokens_in\":")
                 : std::string_view(",\"stream\":false,\"tokens_in\":"));
  if (n.usage_known) {
    b.num(uint64_t(std::max<int64_t>(n.tokens_in, 0))).lit(",\"tokens_out\":");
    b.num(uint64_t(std::max<int64_t>(n.tokens_out, 0)));
  } else {
    b.lit("null,\"tokens_out\":null");
  }
  b.lit(",\"cost_usd\":");
  cost >= 0 ? b.dbl(cost) : b.lit("null");
  b.lit(",\"duration_ms\":").millis(duration_ns).lit(",\"upstream_ttfb_ms\":");
  n.upstream_ttfb_ns ? b.millis(n.upstream_ttfb_ns) : b.lit("null");
  b.lit(",\"retries\":").num(n.retries).lit(",\"error\":").str_or_null(n.error);
  b.lit(",\"key\":").str_or_null(n.key);  // the key's configured name, never the key itself
  b.lit(n.usage_estimated ? std::string_view(",\"usage_estimated\":true}") : std::string_view("}"));
  return b.ok() ? b.size() : 0;
}

}  // namespace

double cost_usd(const exchange_note& n) noexcept {
  // Governance billed it (exact integer nano-dollars, the same amount the ledger records).
  if (n.cost_nano >= 0) return double(n.cost_nano) / 1e9;
  if (!n.usage_known || !n.price) return -1;
  const config::model_price& p = *n.price;
  int64_t cached = std::min(n.cached_tokens, n.tokens_in);
  return (double(n.tokens_in - cached) * p.input_per_mtok + double(cached) * p.cached_input() +
          double(n.tokens_out) * p.output_per_mtok) /
         1e6;
}

size_t format_access_line(const http::request_head& head, std::string_view client,
                          const exchange_note& n, uint16_t status, uint64_t duration_ns,
                          int64_t unix_us, std::span<char> out) noexcept {
  // A method other than method::other is one of the parser's names (tchar only); an endpoint
  // other than `other` was matched on exactly its path. Both are plain: no escape check.
  const bool known_path = n.ep < endpoint::other;
  const line_fields f{n.request_id_view(),
                      client,
                      head.method_text,
                      known_path ? endpoint_paths[size_t(n.ep)] : head.path(),  // without query
                      head.meth != http::method::other,
                      known_path};
  const size_t bound = line_fixed_max + f.id.size() + 2 + f.client.size() + 2 +
                       escaped_max(f.method) + escaped_max(f.path) + escaped_max(n.model) +
                       escaped_max(n.provider) + escaped_max(n.upstream_model) +
                       escaped_max(n.error) + escaped_max(n.key);
  return bound <= out.size() ? write_line<false>(f, n, status, duration_ns, unix_us, out)
                             : write_line<true>(f, n, status, duration_ns, unix_us, out);
}

void write_access_line(log::access_batch& batch, httpd::exchange& ex, const exchange_note& n,
                       uint16_t status, uint64_t duration_ns, uint64_t end_ns) noexcept {
  const int64_t unix_us = runtime::unix_us_at(end_ns);
  std::span<char> room = batch.reserve(access_room);
  if (room.empty()) {  // every block of the batch is still with the writer: one slot for the line
    char buf[access_line_max];
    size_t len =
        format_access_line(ex.head(), ex.peer_text(), n, status, duration_ns, unix_us, buf);
    len ? log::access(std::string_view(buf, len)) : log::access_batch::drop();
    return;
  }
  size_t len = format_access_line(ex.head(), ex.peer_text(), n, status, duration_ns, unix_us, room);
  if (len == 0) log::access_batch::drop();
  batch.commit(len);
}

}  // namespace rg::gateway
