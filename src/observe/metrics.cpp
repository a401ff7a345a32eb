#include <ringgate/observe/metrics.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace rg::observe {

void append_escaped_label_value(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void append_help_type(std::string& out, std::string_view name, std::string_view help,
                      std::string_view type) {
  out += "# HELP ";
  out += name;
  out += ' ';
  for (char c : help) {  // HELP escapes backslash and newline only
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void append_value(std::string& out, double v) {
  char buf[64];
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else if (v == std::floor(v) && std::fabs(v) < 9.007199254740992e15) {
    snprintf(buf, sizeof buf, "%.0f", v);
    out += buf;
  } else {
    snprintf(buf, sizeof buf, "%.12g", v);
    out += buf;
  }
}

namespace {

void append_uint(std::string& out, uint64_t v) {
  char buf[24];
  int n = snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(v));
  out.append(buf, size_t(n));
}

bool valid_name(std::string_view n) {
  if (n.empty()) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

void series_prefix(std::string& out, std::string_view name, std::string_view suffix,
                   std::string_view labels, std::string_view extra_label) {
  out += name;
  out += suffix;
  if (!labels.empty() || !extra_label.empty()) {
    out += '{';
    out += labels;
    if (!labels.empty() && !extra_label.empty()) out += ',';
    out += extra_label;
    out += '}';
  }
  out += ' ';
}

// `le="…"` for each exposed bound (seconds), then +Inf; rendered once.
const std::vector<std::string>& le_labels() {
  static const std::vector<std::string> labels = [] {
    std::vector<std::string> v;
    for (uint64_t ns : histogram_export_ns) {
      char bound[48];
      snprintf(bound, sizeof bound, "le=\"%.9g\"", double(ns) / 1e9);
      v.emplace_back(bound);
    }
    v.emplace_back("le=\"+Inf\"");
    return v;
  }();
  return labels;
}

constexpr const char* type_name(metric_type t) {
  switch (t) {
    case metric_type::counter:
      return "counter";
    case metric_type::gauge:
      return "gauge";
    case metric_type::histogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

family_id registry::add(family_options f) {
  if (!valid_name(f.name)) throw std::invalid_argument("metric name: " + f.name);
  for (const auto& l : f.label_names) {
    if (!valid_name(l) || l.starts_with("__") || l == "le") {
      throw std::invalid_argument("label name: " + l);
    }
  }
  // No labels: one series. Labels but no series (e.g. no keys configured): an empty family.
  if (f.series.empty() && f.label_names.empty()) f.series.emplace_back();
  family fam;
  fam.id.index = uint32_t(_families.size());
  fam.id.offset = _cells;
  fam.id.stride = f.type == metric_type::histogram ? histogram_cells : 1;
  fam.id.series = uint32_t(f.series.size());
  for (const auto& values : f.series) {
    if (values.size() != f.label_names.size()) {
      throw std::invalid_argument("series label count for " + f.name);
    }
    std::string text;
    for (size_t i = 0; i < values.size(); ++i) {
      if (i) text += ',';
      text += f.label_names[i];
      text += "=\"";
      append_escaped_label_value(text, values[i]);
      text += '"';
    }
    fam.label_text.push_back(std::move(text));
  }
  _cells += fam.id.stride * fam.id.series;
  fam.opts = std::move(f);
  _families.push_back(std::move(fam));
  return _families.back().id;
}

void registry::expose(std::span<const shard_block* const> blocks, std::string& out) const {
  std::vector<uint64_t> sums;
  for (const auto& fam : _families) {
    const family_id& id = fam.id;
    append_help_type(out, fam.opts.name, fam.opts.help, type_name(fam.opts.type));
    sums.assign(size_t(id.stride), 0);
    for (uint32_t s = 0; s < id.series; ++s) {
      std::fill(sums.begin(), sums.end(), 0);
      for (const shard_block* b : blocks) {
        for (uint32_t k = 0; k < id.stride; ++k) sums[k] += b->read(id.offset + s * id.stride + k);
      }
      const std::string& labels = fam.label_text[s];
      if (fam.opts.type != metric_type::histogram) {
        if (sums[0] == 0 && !fam.opts.emit_zero) continue;
        series_prefix(out, fam.opts.name, "", labels, "");
        // Gauges may be written as differences by several shards: read as signed.
        if (fam.opts.scale != 1.0) {
          double v = fam.opts.type == metric_type::gauge ? double(int64_t(sums[0]))
                                                         : double(sums[0]);
          append_value(out, v * fam.opts.scale);
        } else if (fam.opts.type == metric_type::gauge) {
          out += std::to_string(int64_t(sums[0]));
        } else {
          append_uint(out, sums[0]);
        }
        out += '\n';
        continue;
      }
      uint64_t count = 0;
      for (uint32_t k = 0; k < histogram_buckets; ++k) count += sums[k];
      if (count == 0 && !fam.opts.emit_zero) continue;
      // The fine buckets summed up to each exposed bound: cumulative, and +Inf equals count.
      const auto& le = le_labels();
      uint64_t cumulative = 0;
      uint32_t next = 0;
      for (uint32_t e = 0; e <= histogram_exported; ++e) {
        uint32_t last = e < histogram_exported ? histogram_bucket(histogram_export_ns[e])
                                               : histogram_buckets - 1;
        for (; next <= last; ++next) cumulative += sums[next];
        series_prefix(out, fam.opts.name, "_bucket", labels, le[e]);
        append_uint(out, cumulative);
        out += '\n';
      }
      series_prefix(out, fam.opts.name, "_sum", labels, "");
      append_value(out, double(sums[histogram_buckets]) / 1e9);
      out += '\n';
      series_prefix(out, fam.opts.name, "_count", labels, "");
      append_uint(out, count);
      out += '\n';
    }
  }
  for (const auto& h : _hooks) h(out);
}

}  // namespace rg::observe
