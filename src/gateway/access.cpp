#include "access.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

#include <ringgate/json/writer.hpp>
#include <ringgate/runtime/log.hpp>

namespace rg::gateway {
namespace {

constexpr size_t text_max = 160;  // any one variable string field

std::string_view clip(std::string_view s) noexcept {
  return s.size() > text_max ? s.substr(0, text_max) : s;
}

// "1.2.3.4:5678" or "[::1]:5678" into buf; empty when unknown.
std::string_view peer_text(const net::address& a, char* buf, size_t cap) noexcept {
  if (a.len == 0) return {};
  char host[INET6_ADDRSTRLEN] = {};
  const sockaddr* sa = a.sa();
  int n = 0;
  if (sa->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    n = snprintf(buf, cap, "%s:%u", host, unsigned(ntohs(in->sin_port)));
  } else if (sa->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    n = snprintf(buf, cap, "[%s]:%u", host, unsigned(ntohs(in6->sin6_port)));
  }
  return n > 0 && size_t(n) < cap ? std::string_view(buf, size_t(n)) : std::string_view{};
}

void string_or_null(json::json_writer& w, std::string_view key, std::string_view v) {
  w.key(key);
  if (v.empty()) {
    w.null();
  } else {
    w.string(clip(v));
  }
}

double millis(uint64_t ns) noexcept {
  return double(ns / 1000) / 1000.0;
}  // µs precision

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

size_t format_access_line(httpd::exchange& ex, const exchange_note& n, uint16_t status,
                          uint64_t duration_ns, int64_t unix_us, std::span<char> out) noexcept {
  json::json_writer w(out);
  char ts[log::ts_chars];
  log::format_utc_us(unix_us, ts);
  char peer_buf[64];
  const http::request_head& head = ex.head();
  std::string_view path = head.path();
  if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);

  w.begin_object();
  w.key("time").string(std::string_view(ts, sizeof ts));
  string_or_null(w, "request_id", n.request_id_view());
  string_or_null(w, "client", peer_text(ex.peer(), peer_buf, sizeof peer_buf));
  w.key("method").string(clip(head.method_text));
  w.key("path").string(clip(path));
  w.key("status").unsigned_integer(status);
  string_or_null(w, "model", n.model);
  string_or_null(w, "provider", n.provider);
  string_or_null(w, "upstream_model", n.upstream_model);
  w.key("stream").boolean(n.stream);
  w.key("tokens_in");
  n.usage_known ? w.integer(n.tokens_in) : w.null();
  w.key("tokens_out");
  n.usage_known ? w.integer(n.tokens_out) : w.null();
  double cost = cost_usd(n);
  w.key("cost_usd");
  cost >= 0 ? w.number(cost) : w.null();
  w.key("duration_ms").number(millis(duration_ns));
  w.key("upstream_ttfb_ms");
  n.upstream_ttfb_ns ? w.number(millis(n.upstream_ttfb_ns)) : w.null();
  w.key("retries").unsigned_integer(n.retries);
  string_or_null(w, "error", n.error);
  string_or_null(w, "key", n.key);  // the key's configured name, never the key itself
  if (n.usage_estimated) w.key("usage_estimated").boolean(true);
  w.end_object();
  return w.complete() ? w.size() : 0;
}

void write_access_line(httpd::exchange& ex, const exchange_note& n, uint16_t status,
                       uint64_t duration_ns) noexcept {
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  int64_t unix_us = int64_t(now.tv_sec) * 1'000'000 + now.tv_nsec / 1000;
  char buf[1000];
  size_t len = format_access_line(ex, n, status, duration_ns, unix_us, std::span<char>(buf));
  if (len) log::access(std::string_view(buf, len));
}

}  // namespace rg::gateway
