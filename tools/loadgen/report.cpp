#include "report.hpp"

#include <cstdio>
#include <vector>

#include <ringgate/json/writer.hpp>

namespace rg::loadgen {

namespace {

struct quantile_key {
  const char* name;
  double q;
};
constexpr quantile_key quantiles[] = {{"p50", 0.50}, {"p90", 0.90}, {"p99", 0.99}, {"p999", 0.999}};

void write_hist(json::json_writer& w, const histogram& h) {
  w.begin_object();
  w.key("count").unsigned_integer(h.count());
  w.key("min").unsigned_integer(h.min());
  w.key("mean").number(double(uint64_t(h.mean() * 10 + 0.5)) / 10);
  for (const auto& k : quantiles) w.key(k.name).unsigned_integer(h.quantile(k.q));
  w.key("max").unsigned_integer(h.max());
  w.end_object();
}

double rps(const results& r, const run_info& info) {
  return info.measured_s > 0 ? double(r.requests) / info.measured_s : 0;
}

std::string thousands(uint64_t v) {
  std::string digits = std::to_string(v), out;
  out.reserve(digits.size() + digits.size() / 3);
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string hist_line(const histogram& h) {
  if (h.count() == 0) return "(none)";
  std::string out;
  for (const auto& k : quantiles) {
    out += std::string(k.name == std::string_view("p999") ? "p99.9" : k.name) + " " +
           thousands(h.quantile(k.q)) + "  ";
  }
  out += "max " + thousands(h.max());
  char mean[48];
  snprintf(mean, sizeof mean, "  mean %.1f", h.mean());
  return out + mean;
}

}  // namespace

std::string format_json(const options& o, const results& r, const run_info& info) {
  std::vector<char> buf(1 << 16);
  json::json_writer w(buf);
  w.begin_object();
  w.key("url").string("http://" + o.url.host + o.url.path);
  w.key("method").string(o.method);
  w.key("mode").string(o.rate > 0 ? "open" : "closed");
  if (o.rate > 0) w.key("rate").number(o.rate);
  w.key("connections").unsigned_integer(o.connections);
  w.key("pipeline").unsigned_integer(o.pipeline);
  w.key("threads").unsigned_integer(info.threads);
  w.key("warmup_s").number(o.warmup_s);
  w.key("duration_s").number(double(uint64_t(info.measured_s * 1e6)) / 1e6);
  w.key("requests").unsigned_integer(r.requests);
  w.key("rps").number(double(uint64_t(rps(r, info) * 10 + 0.5)) / 10);
  w.key("status").begin_object();
  for (size_t s = 0; s < r.status.size(); ++s) {
    if (r.status[s]) w.key(std::to_string(s)).unsigned_integer(r.status[s]);
  }
  w.end_object();
  w.key("errors").begin_object();
  for (size_t k = 0; k < error_kinds; ++k) {
    w.key(error_name(error_kind(k))).unsigned_integer(r.errors[k]);
  }
  w.end_object();
  w.key("errors_total").unsigned_integer(r.errors_total());
  if (o.expect_status) w.key("expect_status").unsigned_integer(o.expect_status);
  w.key("mismatches").unsigned_integer(r.mismatches);
  w.key("connects").unsigned_integer(r.connects);
  w.key("bytes_in").unsigned_integer(r.bytes_in);
  w.key("bytes_out").unsigned_integer(r.bytes_out);
  w.key("latency_us");
  write_hist(w, r.latency);
  if (o.stream) {
    const stream_results& s = r.stream;
    w.key("stream").begin_object();
    w.key("responses").unsigned_integer(s.responses);
    w.key("truncated").unsigned_integer(s.truncated);
    w.key("chunks").unsigned_integer(s.chunks);
    double n = s.responses ? double(s.responses) : 1.0;
    w.key("chunks_per_response").number(double(uint64_t(double(s.chunks) / n * 100 + 0.5)) / 100);
    w.key("bytes_per_response").number(double(uint64_t(double(s.bytes) / n * 10 + 0.5)) / 10);
    w.key("ttfb_us");
    write_hist(w, s.ttfb);
    w.key("ttft_us");
    write_hist(w, s.ttft);
    w.key("gap_us");
    write_hist(w, s.gap);
    w.end_object();
  }
  w.end_object();
  return std::string(w.view()) + "\n";
}

std::string format_summary(const options& o, const results& r, const run_info& info) {
  std::string out;
  char line[512];
  snprintf(line, sizeof line, "loadgen: %s %s://%s%s, %u connections, %u threads, %s, %.3f s",
           o.method.c_str(), "http", o.url.host.c_str(), o.url.path.c_str(), o.connections,
           info.threads, o.rate > 0 ? "open loop" : "closed loop", info.measured_s);
  out += line;
  if (o.warmup_s > 0) {
    snprintf(line, sizeof line, " (+%.1f s warm-up)", o.warmup_s);
    out += line;
  }
  out += "\n";
  if (o.rate > 0) {
    snprintf(line, sizeof line, "  target rate     %.1f req/s\n", o.rate);
    out += line;
  }
  snprintf(line, sizeof line, "  requests        %s (%.1f req/s), %s connects\n",
           thousands(r.requests).c_str(), rps(r, info), thousands(r.connects).c_str());
  out += line;
  out += "  status         ";
  bool any = false;
  for (size_t s = 0; s < r.status.size(); ++s) {
    if (!r.status[s]) continue;
    out += " " + std::to_string(s) + ": " + thousands(r.status[s]);
    any = true;
  }
  out += any ? "\n" : " (none)\n";
  out += "  errors         ";
  if (r.errors_total() == 0) {
    out += " none\n";
  } else {
    for (size_t k = 0; k < error_kinds; ++k) {
      if (r.errors[k]) {
        out += " " + std::string(error_name(error_kind(k))) + ": " + thousands(r.errors[k]);
      }
    }
    out += "\n";
  }
  if (o.expect_status) {
    out += "  mismatches      " + thousands(r.mismatches) + " (expected " +
           std::to_string(o.expect_status) + ")\n";
  }
  snprintf(line, sizeof line, "  bytes           in %s, out %s\n", thousands(r.bytes_in).c_str(),
           thousands(r.bytes_out).c_str());
  out += line;
  out += "  latency µs      " + hist_line(r.latency) + "\n";
  if (o.stream) {
    const stream_results& s = r.stream;
    double n = s.responses ? double(s.responses) : 1.0;
    snprintf(line, sizeof line,
             "  streams         %s responses, %s truncated, %.2f chunks and %.0f bytes each\n",
             thousands(s.responses).c_str(), thousands(s.truncated).c_str(), double(s.chunks) / n,
             double(s.bytes) / n);
    out += line;
    out += "  first byte µs   " + hist_line(s.ttfb) + "\n";
    out += "  first token µs  " + hist_line(s.ttft) + "\n";
    out += "  chunk gap µs    " + hist_line(s.gap) + "\n";
  }
  return out;
}

}  // namespace rg::loadgen
