// Decodes a parsed TOML document into rg::config structs. Invariant: every key of every table is
// either consumed by exactly one field or reported as unknown; a bad value leaves the default.
#include <toml++/toml.h>

#include <cmath>
#include <limits>
#include <string>

#include "detail.hpp"

namespace rg::config::detail {
namespace {

std::string_view type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::table:
      return "table";
    case toml::node_type::array:
      return "array";
    case toml::node_type::string:
      return "string";
    case toml::node_type::integer:
      return "integer";
    case toml::node_type::floating_point:
      return "float";
    case toml::node_type::boolean:
      return "boolean";
    case toml::node_type::date:
      return "date";
    case toml::node_type::time:
      return "time";
    case toml::node_type::date_time:
      return "date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

std::string child(std::string_view parent, std::string_view key) {
  std::string out(parent);
  if (!out.empty()) out += '.';
  out += key;
  return out;
}

std::string element(std::string_view parent, size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

uint32_t line_of(const toml::node& n) {
  return n.source().begin.line;
}

// Bounds for an integer field beyond "fits the field's type".
struct int_range {
  int64_t min = 0;
  uint64_t max = std::numeric_limits<uint64_t>::max();
};
constexpr int_range positive{.min = 1};
// Connections one shard may hold to one endpoint: far above any sane setting, well below the
// descriptor limit a typo would otherwise run into.
constexpr uint64_t pool_connections_max = 1'000'000;

class decoder {
 public:
  decoder(const env_lookup& env, diagnostics& diag) : _env(env), _diag(diag) {}

  void root(const toml::table& t, config& c) {
    for (auto&& [k, v] : t) {
      const std::string path(k.str());
      if (k == "server")
        server(v, path, c.server);
      else if (k == "admin")
        admin(v, path, c.admin);
      else if (k == "log")
        log(v, path, c.log);
      else if (k == "providers")
        entries(v, path, c.providers, &decoder::provider);
      else if (k == "models")
        entries(v, path, c.models, &decoder::model);
      else if (k == "keys")
        entries(v, path, c.keys, &decoder::key);
      else if (k == "auth")
        auth(v, path, c.auth);
      else if (k == "usage")
        usage(v, path, c.usage);
      else
        unknown(k, path);
    }
  }

 private:
  void server(const toml::node& n, const std::string& path, server_config& s) {
    const toml::table* t = table(n, path);
    if (!t) return;
    for (auto&& [k, v] : *t) {
      const std::string p = child(path, k.str());
      if (k == "listen")
        string(v, p, s.listen);
      else if (k == "shards")
        integer(v, p, s.shards, {.max = 1024});
      else if (k == "drain_timeout_ms")
        integer(v, p, s.drain_timeout_ms, positive);
      else if (k == "tls_cert")
        string(v, p, s.tls_cert);
      else if (k == "tls_key")
        string(v, p, s.tls_key);
      else if (k == "limits")
        limits(v, p, s.limits);
      else if (k == "timeouts")
        timeouts(v, p, s.timeouts);
      else
        unknown(k, p);
    }
  }

  void limits(const toml::node& n, const std::string& path, server_limits& l) {
    const toml::table* t = table(n, path);
    if (!t) return;
    for (auto&& [k, v] : *t) {
      const std::string p = child(path, k.str());
      if (k == "connections_per_shard_max")
        integer(v, p, l.connections_per_shard_max, positive);
      else if (k == "request_line_bytes_max")
        integer(v, p, l.request_line_bytes_max, positive);
      else if (k == "head_bytes_max")
        integer(v, p, l.head_bytes_max, positive);
      else if (k == "headers_max")
        integer(v, p, l.headers_max, positive);
      else if (k == "body_bytes_max")
        integer(v, p, l.body_bytes_max);
      else if (k == "requests_per_connection_max")
        integer(v, p, l.requests_per_connection_max);
      else
        unknown(k, p);
    }
  }

  void timeouts(const toml::node& n, const std::string& path, server_timeouts& to) {
    const toml::table* t = table(n, path);
    if (!t) return;
    for (auto&& [k, v] : *t) {
      const std::string p = child(path, k.str());
      if (k == "header_read_ms")
        integer(v, p, to.header_read_ms, positive);
      else if (k == "body_read_ms")
        integer(v, p, to.body_read_ms, positive);
      else if (k == "keepalive_idle_ms")
        integer(v, p, to.keepalive_idle_ms, positive);
      else if (k == "send_ms")
        integer(v, p, to.send_ms, positive);
      else
        unknown(k, p);
    }
  }

  void admin(const toml::node& n, const std::string& path, admin_config& a) {
    const toml::table* t = table(n, path);
    if (!t) return;
    for (auto&& [k, v] : *t) {
      const std::string p = child(path, k.str());
      if (k == "listen")
        string(v, p, a.listen);
      else if (k == "expose_on_data")
        boolean(v, p, a.expose_on_data);
      else if (k == "metrics")
        boolean(v, p, a.metrics);
      else
        unknown(k, p);
    }
  }

  void log(const toml::node& n, const std::string& path, log_config& l) {
    const toml::table* t = table(n, path);
    if (!t) return;
    for (auto&& [k, v] : *t) {
      const std::string p = child(path, k.str());
      std::string text;
      if (k == "level") {
        if (!string(v, p, text)) continue;
        if (auto lv = parse_log_level(text))
          l.level = *lv;
        else
          bad_enum(p, text, "debug|info|warn|error");
      } else if (k == "format") {
        if (!string(v, p, text)) continue;
        if (auto f = parse_log_format(text))
          l.format = *f;
        else
          bad_enum(p, text, "json|text");
      } else if (k == "access_file")
        string(v, p, l.access_file);
      else if (k == "access_log")
        boolean(v, p, l.access_log);
      else
        unknown(k, p);
    }
  }

  void auth(const toml::node& n, const std::string& path, auth_config& a) {
    const toml::table* t = table(n, path);
    if (!t) return;
    for (auto&& [k, v] : *t) {
      const std::string p = child(path, k.str());
      if (k == "required")
        boolean(v, p, a.required);
      else
        unknown(k, p);
    }
  }

  void usage(const toml::node& n, const std::string& path, usage_config& u) {
    const toml::table* t = table(n, path);
    if (!t) return;
    for (auto&& [k, v] : *t) {
      const std::string p = child(path, k.str());
      if (k == "file")
        string(v, p, u.file);
      else if (k == "flush_interval_ms")
        integer(v, p, u.flush_interval_ms, {.min = 1, .max = 60000});
      else if (k == "queue_rows")
        integer(v, p, u.queue_rows, {.min = 16, .max = 1 << 20});
      else
        unknown(k, p);
    }
  }

  void provider(const toml::table& t, const std::string& path, provider_config& pc) {
    for (auto&& [k, v] : t) {
      const std::string p = child(path, k.str());
      if (k == "name")
        string(v, p, pc.name);
      else if (k == "kind")
        string(v, p, pc.kind);
      else if (k == "base_url")
        string(v, p, pc.base_url);
      else if (k == "base_urls") {
        strings(v, p, pc.base_urls);
        if (pc.base_urls.empty() && v.is_array()) {
          _diag.error(line_of(v), p, "needs at least one URL");
        }
      }
      else if (k == "api_key")
        string(v, p, pc.api_key);
      else if (k == "headers")
        headers(v, p, pc.headers);
      else if (k == "forward_headers")
        strings(v, p, pc.forward_headers);
      else if (k == "tls")
        tls(v, p, pc.tls);
      else if (k == "max_concurrent")
        integer(v, p, pc.max_concurrent, positive);
      else if (k == "max_concurrent_per_endpoint")
        integer(v, p, pc.max_concurrent_per_endpoint);
      else if (k == "queue_max")
        integer(v, p, pc.queue_max);
      else if (k == "queue_timeout_ms")
        integer(v, p, pc.queue_timeout_ms, positive);
      else if (k == "on_full")
        string(v, p, pc.on_full);
      else if (k == "circuit")
        circuit(v, p, pc.circuit);
      else if (k == "health_check")
        health_check(v, p, pc.health_check);
      else if (k == "connect_timeout_ms")
        integer(v, p, pc.connect_timeout_ms, positive);
      else if (k == "first_byte_timeout_ms")
        integer(v, p, pc.first_byte_timeout_ms, positive);
      else if (k == "idle_timeout_ms")
        integer(v, p, pc.idle_timeout_ms, positive);
      else if (k == "total_timeout_ms")
        integer(v, p, pc.total_timeout_ms, positive);
      else if (k == "pool")
        pool(v, p, pc.pool);
      else
        unknown(k, p);
    }
  }

  void pool(const toml::node& n, const std::string& path, provider_pool& out) {
    const toml::table* t = table(n, path);
    if (!t) return;
    for (auto&& [k, v] : *t) {
      const std::string p = child(path, k.str());
      if (k == "idle_max")
        integer(v, p, out.idle_max, {.max = pool_connections_max});
      else if (k == "idle_timeout_ms")
        integer(v, p, out.idle_timeout_ms, positive);
      else if (k == "connections_max")
        integer(v, p, out.connections_max, {.min = 1, .max = pool_connections_max});
      else
        unknown(k, p);
    }
  }

  void circuit(const toml::node& n, const std::string& path, circuit_config& c) {
    const toml::table* t = table(n, path);
    if (!t) return;
    for (auto&& [k, v] : *t) {
      const std::string p = child(path, k.str());
      if (k == "failures")
        integer(v, p, c.failures);
      else if (k == "failure_rate_percent")
        integer(v, p, c.failure_rate_percent, {.max = 100});
      else if (k == "min_requests")
        integer(v, p, c.min_requests, positive);
      else if (k == "window_ms")
        integer(v, p, c.window_ms, positive);
      else if (k == "cooldown_ms")
        integer(v, p, c.cooldown_ms, positive);
      else if (k == "half_open_probes")
        integer(v, p, c.half_open_probes, {.min = 1, .max = 1023});
      else
        unknown(k, p);
    }
  }

  void health_check(const toml::node& n, const std::string& path, health_check_config& h) {
    const toml::table* t = table(n, path);
    if (!t) return;
    for (auto&& [k, v] : *t) {
      const std::string p = child(path, k.str());
      if (k == "path")
        string(v, p, h.path);
      else if (k == "interval_ms")
        integer(v, p, h.interval_ms, positive);
      else if (k == "timeout_ms")
        integer(v, p, h.timeout_ms, positive);
      else if (k == "unhealthy_after")
        integer(v, p, h.unhealthy_after, positive);
      else if (k == "healthy_after")
        integer(v, p, h.healthy_after, positive);
      else
        unknown(k, p);
    }
  }

  void retry(const toml::node& n, const std::string& path, retry_config& r) {
    const toml::table* t = table(n, path);
    if (!t) return;
    for (auto&& [k, v] : *t) {
      const std::string p = child(path, k.str());
      if (k == "attempts")
        integer(v, p, r.attempts, {.min = 1, .max = 10});
      else if (k == "backoff_base_ms")
        integer(v, p, r.backoff_base_ms);
      else if (k == "backoff_max_ms")
        integer(v, p, r.backoff_max_ms);
      else if (k == "max_retry_after_ms")
        integer(v, p, r.max_retry_after_ms);
      else if (k == "budget_ms")
        integer(v, p, r.budget_ms, positive);
      else if (k == "statuses")
        integers(v, p, r.statuses);
      else if (k == "on_timeout")
        boolean(v, p, r.on_timeout);
      else
        unknown(k, p);
    }
  }

  void headers(const toml::node& n, const std::string& path,
               std::vector<std::pair<std::string, std::string>>& out) {
    const toml::table* t = table(n, path);
    if (!t) return;
    for (auto&& [k, v] : *t) {
      const std::string p = child(path, k.str());
      std::string value;
      if (string(v, p, value)) out.emplace_back(std::string(k.str()), std::move(value));
    }
  }

  void tls(const toml::node& n, const std::string& path, provider_tls& out) {
    const toml::table* t = table(n, path);
    if (!t) return;
    for (auto&& [k, v] : *t) {
      const std::string p = child(path, k.str());
      if (k == "ca_file")
        string(v, p, out.ca_file);
      else if (k == "insecure_skip_verify")
        boolean(v, p, out.insecure_skip_verify);
      else
        unknown(k, p);
    }
  }

  void model(const toml::table& t, const std::string& path, model_config& m) {
    for (auto&& [k, v] : t) {
      const std::string p = child(path, k.str());
      if (k == "name")
        string(v, p, m.name);
      else if (k == "targets")
        entries(v, p, m.targets, &decoder::target);
      else if (k == "fallbacks")
        strings(v, p, m.fallbacks);
      else if (k == "price")
        price(v, p, m.price);
      else if (k == "balancer")
        string(v, p, m.balancer);
      else if (k == "retry")
        retry(v, p, m.retry);
      else if (k == "hedge_after_ms")
        integer(v, p, m.hedge_after_ms);
      else if (k == "reserve_output_tokens")
        integer(v, p, m.reserve_output_tokens, {.min = 1, .max = 10'000'000});
      else
        unknown(k, p);
    }
  }

  void target(const toml::table& t, const std::string& path, model_target& mt) {
    for (auto&& [k, v] : t) {
      const std::string p = child(path, k.str());
      if (k == "provider")
        string(v, p, mt.provider);
      else if (k == "model")
        string(v, p, mt.model);
      else if (k == "weight")
        integer(v, p, mt.weight);
      else
        unknown(k, p);
    }
  }

  void price(const toml::node& n, const std::string& path, model_price& mp) {
    const toml::table* t = table(n, path);
    if (!t) return;
    mp.present = true;
    for (auto&& [k, v] : *t) {
      const std::string p = child(path, k.str());
      if (k == "input_per_mtok")
        number(v, p, mp.input_per_mtok);
      else if (k == "output_per_mtok")
        number(v, p, mp.output_per_mtok);
      else if (k == "cached_input_per_mtok")
        number(v, p, mp.cached_input_per_mtok);
      else
        unknown(k, p);
    }
  }

  void key(const toml::table& t, const std::string& path, key_config& kc) {
    for (auto&& [k, v] : t) {
      const std::string p = child(path, k.str());
      if (k == "name")
        string(v, p, kc.name);
      else if (k == "sha256")
        string(v, p, kc.sha256);
      else if (k == "models")
        strings(v, p, kc.models);
      else if (k == "rpm")
        integer(v, p, kc.rpm);
      else if (k == "tpm")
        integer(v, p, kc.tpm);
      else if (k == "max_concurrent")
        integer(v, p, kc.max_concurrent);
      else if (k == "budget_usd")
        number(v, p, kc.budget_usd);
      else if (k == "budget_period")
        string(v, p, kc.budget_period);
      else if (k == "tags")
        strings(v, p, kc.tags);
      else
        unknown(k, p);
    }
  }

  // An array of tables ([[x]] or [{...}, ...]); each entry decoded by `fn` into a new element.
  template <class T>
  void entries(const toml::node& n, const std::string& path, std::vector<T>& out,
               void (decoder::*fn)(const toml::table&, const std::string&, T&)) {
    const toml::array* a = array(n, path, "array of tables");
    if (!a) return;
    out.reserve(a->size());
    for (size_t i = 0; i < a->size(); ++i) {
      const std::string p = element(path, i);
      T& entry = out.emplace_back();  // even when bad: keeps indices in step with the file
      if (const toml::table* t = table((*a)[i], p)) (this->*fn)(*t, p, entry);
    }
  }

  const toml::table* table(const toml::node& n, const std::string& path) {
    _diag.note(path, line_of(n));
    if (const toml::table* t = n.as_table()) return t;
    wrong_type(n, path, "table");
    return nullptr;
  }

  const toml::array* array(const toml::node& n, const std::string& path, std::string_view what) {
    _diag.note(path, line_of(n));
    if (const toml::array* a = n.as_array()) return a;
    wrong_type(n, path, what);
    return nullptr;
  }

  bool string(const toml::node& n, const std::string& path, std::string& out) {
    _diag.note(path, line_of(n));
    const toml::value<std::string>* s = n.as_string();
    if (!s) {
      wrong_type(n, path, "string");
      return false;
    }
    auto value = interpolate(s->get(), _env);
    if (!value) {
      _diag.error(line_of(n), path, value.error());
      return false;
    }
    out = std::move(*value);
    return true;
  }

  void strings(const toml::node& n, const std::string& path, std::vector<std::string>& out) {
    const toml::array* a = array(n, path, "array of strings");
    if (!a) return;
    out.clear();
    for (size_t i = 0; i < a->size(); ++i) {
      // Pushed even when bad, so that later checks index the same element as the file.
      std::string value;
      string((*a)[i], element(path, i), value);
      out.push_back(std::move(value));
    }
  }

  void integers(const toml::node& n, const std::string& path, std::vector<uint32_t>& out) {
    const toml::array* a = array(n, path, "array of integers");
    if (!a) return;
    out.clear();
    for (size_t i = 0; i < a->size(); ++i) {
      uint32_t value = 0;  // pushed even when bad, like strings()
      integer((*a)[i], element(path, i), value);
      out.push_back(value);
    }
  }

  void boolean(const toml::node& n, const std::string& path, bool& out) {
    _diag.note(path, line_of(n));
    if (const toml::value<bool>* b = n.as_boolean())
      out = b->get();
    else
      wrong_type(n, path, "boolean");
  }

  // Integer or float, finite and not negative (prices, budgets).
  void number(const toml::node& n, const std::string& path, double& out) {
    _diag.note(path, line_of(n));
    double value = 0;
    if (const toml::value<int64_t>* i = n.as_integer())
      value = static_cast<double>(i->get());
    else if (const toml::value<double>* d = n.as_floating_point())
      value = d->get();
    else
      return wrong_type(n, path, "number");
    if (!std::isfinite(value)) return _diag.error(line_of(n), path, "must be a finite number");
    if (value < 0) return _diag.error(line_of(n), path, "must not be negative");
    out = value;
  }

  template <class T>
  void integer(const toml::node& n, const std::string& path, T& out, int_range r = {}) {
    _diag.note(path, line_of(n));
    const toml::value<int64_t>* iv = n.as_integer();
    if (!iv) return wrong_type(n, path, "integer");
    const int64_t v = iv->get();
    const uint64_t type_max = std::numeric_limits<T>::max();
    const std::string got = ", got " + std::to_string(v);
    if (v < 0) return _diag.error(line_of(n), path, "must not be negative" + got);
    if (v < r.min) {
      return _diag.error(line_of(n), path,
                         (r.min == 1 ? "must be > 0" : "must be >= " + std::to_string(r.min)) + got);
    }
    if (static_cast<uint64_t>(v) > type_max) {
      return _diag.error(line_of(n), path,
                         "out of range (max " + std::to_string(type_max) + ")" + got);
    }
    if (static_cast<uint64_t>(v) > r.max) {
      return _diag.error(line_of(n), path, "must be <= " + std::to_string(r.max) + got);
    }
    out = static_cast<T>(v);
  }

  void unknown(const toml::key& k, const std::string& path) {
    _diag.note(path, k.source().begin.line);
    _diag.error(k.source().begin.line, path, "unknown key");
  }

  void wrong_type(const toml::node& n, const std::string& path, std::string_view expected) {
    _diag.error(line_of(n), path,
                "expected " + std::string(expected) + ", got " + std::string(type_name(n.type())));
  }

  void bad_enum(const std::string& path, std::string_view value, std::string_view allowed) {
    _diag.error_at(path, "\"" + std::string(value) + "\" is not one of " + std::string(allowed));
  }

  const env_lookup& _env;
  diagnostics& _diag;
};

}  // namespace

std::expected<void, std::string> decode(std::string_view text, const std::string& source,
                                        const env_lookup& env, diagnostics& diag, config& out) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    const toml::source_position& at = e.source().begin;
    return std::unexpected(source + ":" + std::to_string(at.line) + ":" +
                           std::to_string(at.column) + ": " + std::string(e.description()));
  }
  decoder(env, diag).root(root, out);
  return {};
}

}  // namespace rg::config::detail
