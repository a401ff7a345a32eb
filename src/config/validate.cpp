// Cross-field validation of a decoded config: enum strings, listen addresses, URLs, hashes, unique
// names and references between sections. Invariant: reports every problem, skips a field whose
// value was already reported by the decoder (no derived second error for one mistake).
#include <algorithm>
#include <array>
#include <map>
#include <string>

#include <ringgate/runtime/bytes.hpp>

#include "detail.hpp"

namespace rg::config::detail {
namespace {

constexpr std::array kinds = {"openai", "anthropic", "gemini", "bedrock", "azure"};
// Kinds with a translator today; the others are known names that are refused until theirs exists
// (spoken to as OpenAI they would fail on every request).
constexpr std::array supported_kinds = {"openai"};
constexpr std::array balancers = {"weighted", "least_outstanding", "p2c_ewma"};
constexpr std::array budget_periods = {"daily", "monthly", "total"};
constexpr std::array on_full_modes = {"reject", "failover"};
// Budget accounts hold 56 bits of nano-dollars (≈ 72 million USD); well inside that.
constexpr double budget_usd_max = 10'000'000;
// Framing and hop-by-hop headers the gateway computes itself for every upstream request.
constexpr std::array managed_headers = {"host",       "content-length", "transfer-encoding",
                                        "connection", "keep-alive",     "upgrade",
                                        "te",         "trailer",        "proxy-connection"};
// Client headers that never travel upstream (see never_forwarded() in config.hpp): the framing
// and hop-by-hop ones above plus Expect, credentials (every provider's spelling), cookies, and
// the headers the gateway writes itself.
constexpr std::string_view never_forwarded_headers[] = {
    "host",        "content-length", "transfer-encoding",
    "connection",  "keep-alive",     "upgrade",
    "te",          "trailer",        "proxy-connection",
    "expect",      "authorization",  "proxy-authorization",
    "x-api-key",   "api-key",        "x-goog-api-key",
    "cookie",      "content-type",   "accept-encoding",
    "x-request-id"};

std::string at(std::string_view parent, size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

std::string quoted(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

template <size_t N>
bool one_of(std::string_view value, const std::array<const char*, N>& allowed) {
  return std::ranges::any_of(allowed, [&](const char* a) { return value == a; });
}

template <size_t N>
std::string joined(const std::array<const char*, N>& allowed) {
  std::string out;
  for (const char* a : allowed) {
    if (!out.empty()) out += '|';
    out += a;
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return out;
}

// RFC 9110 token characters (header field names).
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  return std::ranges::all_of(s, [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

bool is_sha256_hex(std::string_view s) {
  return s.size() == 64 && std::ranges::all_of(s, [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

class validator {
 public:
  explicit validator(diagnostics& diag) : _diag(diag) {}

  void run(const config& c) {
    listen(c.server.listen, "server.listen");
    if (c.admin.listen != "off") listen(c.admin.listen, "admin.listen");
    if (!c.server.tls_cert.empty() && c.server.tls_key.empty()) {
      fail("server.tls_key", "required when server.tls_cert is set");
    }
    if (c.server.tls_cert.empty() && !c.server.tls_key.empty()) {
      fail("server.tls_cert", "required when server.tls_key is set");
    }
    listeners_distinct(c);
    std::map<std::string, size_t, std::less<>> providers;
    for (size_t i = 0; i < c.providers.size(); ++i)
      provider(c.providers[i], at("providers", i), providers);
    std::map<std::string, size_t, std::less<>> models;
    for (size_t i = 0; i < c.models.size(); ++i)
      name(c.models[i].name, at("models", i), "model", models);
    for (size_t i = 0; i < c.models.size(); ++i)
      model(c.models[i], at("models", i), providers, models);
    std::map<std::string, size_t, std::less<>> keys;
    std::map<std::string, size_t, std::less<>> hashes;
    for (size_t i = 0; i < c.keys.size(); ++i)
      key(c.keys[i], at("keys", i), models, providers, keys, hashes);
  }

 private:
  using names = std::map<std::string, size_t, std::less<>>;

  void provider(const provider_config& p, const std::string& path, names& seen) {
    name(p.name, path, "provider", seen);
    if (p.kind.empty())
      fail(path + ".kind", "required (one of " + joined(kinds) + ")");
    else if (!one_of(p.kind, kinds))
      fail(path + ".kind", quoted(p.kind) + " is not one of " + joined(kinds));
    else if (!one_of(p.kind, supported_kinds))
      fail(path + ".kind",
           quoted(p.kind) + " is not supported yet (supported: " + joined(supported_kinds) + ")");
    endpoints(p, path);
    if (p.pool.idle_max > p.pool.connections_max && !_diag.failed(path + ".pool")) {
      fail(path + ".pool.idle_max",
           "must be <= pool.connections_max (" + std::to_string(p.pool.connections_max) + ")");
    }
    resilience(p, path);
    for (const auto& [header, value] : p.headers) {
      const std::string hp = path + ".headers." + header;
      if (!is_token(header))
        fail(hp, "not a valid header name");
      else if (one_of(lower(header), managed_headers))
        fail(hp, "header is set by the gateway");
      if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
        fail(hp, "value must not contain CR, LF or NUL");
      }
    }
    for (const auto& h : p.forward_headers) {
      const std::string hp = path + ".forward_headers";
      std::string_view name = h;
      if (name.ends_with('*')) name.remove_suffix(1);
      std::string low = lower(std::string(name));
      if (name.empty() || !is_token(std::string(name)))
        fail(hp, quoted(h) + " is not a header name (a trailing * matches a prefix)");
      else if (never_forwarded(low))
        fail(hp, quoted(h) + " may not be forwarded (credentials and framing stay behind)");
    }
  }

  // base_url, or base_urls (one endpoint each, no duplicates); not both.
  void endpoints(const provider_config& p, const std::string& path) {
    if (p.base_urls.empty()) {
      if (_diag.failed(path + ".base_urls")) return;  // an empty list was reported already
      return base_url(p.base_url, path + ".base_url");
    }
    if (!p.base_url.empty()) {
      return fail(path + ".base_urls", "set base_url or base_urls, not both");
    }
    for (size_t i = 0; i < p.base_urls.size(); ++i) {
      base_url(p.base_urls[i], at(path + ".base_urls", i));
      for (size_t j = 0; j < i; ++j) {
        if (p.base_urls[j] == p.base_urls[i]) {
          fail(at(path + ".base_urls", i), "duplicate of base_urls[" + std::to_string(j) + "]");
        }
      }
    }
  }

  void resilience(const provider_config& p, const std::string& path) {
    if (!one_of(p.on_full, on_full_modes)) {
      fail(path + ".on_full", quoted(p.on_full) + " is not one of " + joined(on_full_modes));
    }
    const health_check_config& h = p.health_check;
    const std::string hp = path + ".health_check";
    if (!h.path.empty() && (h.path.front() != '/' || h.path.find_first_of(" \t\r\n") !=
                                                         std::string::npos)) {
      fail(hp + ".path", "must be an absolute path without spaces, e.g. \"/health\"");
    }
    if (h.timeout_ms > h.interval_ms) fail(hp + ".timeout_ms", "must not exceed interval_ms");
  }

  void retry(const retry_config& r, const std::string& path) {
    if (r.backoff_base_ms > r.backoff_max_ms) {
      fail(path + ".backoff_base_ms", "must not exceed backoff_max_ms");
    }
    for (size_t i = 0; i < r.statuses.size(); ++i) {
      uint32_t s = r.statuses[i];
      if (s != 408 && s != 429 && (s < 500 || s > 599)) {
        fail(at(path + ".statuses", i),
             "status " + std::to_string(s) + " is never retried (allowed: 408, 429, 500..599)");
      }
    }
  }

  void base_url(std::string_view url, const std::string& path) {
    if (_diag.failed(path)) return;
    if (url.empty()) return fail(path, "required (http:// or https:// URL)");
    size_t host_at = 0;
    if (url.starts_with("http://"))
      host_at = 7;
    else if (url.starts_with("https://"))
      host_at = 8;
    else
      return fail(path, "must start with http:// or https://");
    if (host_at >= url.size() || url[host_at] == '/') return fail(path, "missing host");
    // The same refusals as upstream::parse_base_url, so --check-config catches them too; the
    // message never repeats the URL (it may hold a secret).
    std::string_view rest = url.substr(host_at);
    if (rest.substr(0, rest.find('/')).find('@') != std::string_view::npos) {
      return fail(path, "must not carry user:password@ (put the key in api_key or headers)");
    }
    if (rest.find_first_of("?#") != std::string_view::npos) {
      return fail(path, "must not carry a query or fragment");
    }
    for (unsigned char c : url) {
      if (c <= 0x20 || c >= 0x7f) return fail(path, "space or control byte");
    }
  }

  void model(const model_config& m, const std::string& path, const names& providers,
             const names& models) {
    if (!_diag.failed(path + ".targets") && m.targets.empty()) {
      fail(path + ".targets", "at least one target required");
    }
    uint64_t weight_sum = 0;
    for (size_t i = 0; i < m.targets.size(); ++i) {
      const model_target& t = m.targets[i];
      const std::string tp = at(path + ".targets", i);
      weight_sum += t.weight;
      if (t.provider.empty())
        fail(tp + ".provider", "required");
      else if (!providers.contains(t.provider))
        fail(tp + ".provider", "unknown provider " + quoted(t.provider));
      if (t.model.empty()) fail(tp + ".model", "required (the provider's model name)");
    }
    if (!m.targets.empty() && weight_sum == 0) fail(path + ".targets", "all target weights are 0");
    for (size_t i = 0; i < m.fallbacks.size(); ++i) {
      const std::string& f = m.fallbacks[i];
      if (f == m.name)
        fail(at(path + ".fallbacks", i), "a model cannot fall back to itself");
      else if (!models.contains(f))
        fail(at(path + ".fallbacks", i), "unknown model " + quoted(f));
    }
    if (!one_of(m.balancer, balancers)) {
      fail(path + ".balancer", quoted(m.balancer) + " is not one of " + joined(balancers));
    }
    retry(m.retry, path + ".retry");
  }

  // A pattern with '*' matches names as clients send them; a plain name must be routable: a
  // [[models]] name or "provider/model" with a configured provider.
  void key_model(const std::string& m, const std::string& path, const names& models,
                 const names& providers) {
    if (_diag.failed(path)) return;
    if (m.empty()) return fail(path, "must not be empty");
    if (m.find('*') != std::string::npos || models.contains(m)) return;
    if (auto slash = m.find('/'); slash != std::string::npos && slash + 1 < m.size() &&
                                  providers.contains(std::string_view(m).substr(0, slash))) {
      return;
    }
    fail(path, "unknown model " + quoted(m) +
                   " (use a [[models]] name, \"provider/model\", or a pattern with *)");
  }

  void key(const key_config& k, const std::string& path, const names& models,
           const names& providers, names& seen, names& hashes) {
    name(k.name, path, "key", seen);
    const std::string hp = path + ".sha256";
    if (!is_sha256_hex(k.sha256))
      fail(hp, "must be 64 lowercase hex characters (SHA-256 of the key)");
    else if (auto [it, fresh] = hashes.emplace(k.sha256, _diag.line_of(hp)); !fresh) {
      fail(hp, "same sha256 as another key (line " + std::to_string(it->second) + ")");
    }
    for (size_t i = 0; i < k.models.size(); ++i) key_model(k.models[i], at(path + ".models", i), models, providers);
    if (k.budget_usd > budget_usd_max) {
      fail(path + ".budget_usd", "must be at most 10000000");
    }
    if (!one_of(k.budget_period, budget_periods)) {
      fail(path + ".budget_period",
           quoted(k.budget_period) + " is not one of " + joined(budget_periods));
    }
  }

  // Checks a required, unique name; remembers its line for the duplicate message.
  void name(const std::string& value, const std::string& path, std::string_view what, names& seen) {
    const std::string np = path + ".name";
    if (_diag.failed(np)) return;
    if (value.empty()) return fail(np, "required");
    auto [it, fresh] = seen.emplace(value, _diag.line_of(np));
    if (!fresh) {
      fail(np, "duplicate " + std::string(what) + " name " + quoted(value) +
                   " (first defined at line " + std::to_string(it->second) + ")");
    }
  }

  void listen(std::string_view value, const std::string& path) {
    if (_diag.failed(path)) return;
    if (auto parsed = parse_listen(value); !parsed) fail(path, parsed.error());
  }

  void listeners_distinct(const config& c) {
    auto data = parse_listen(c.server.listen);
    auto admin = parse_listen(c.admin.listen);
    if (data && admin && data->port != 0 && data->port == admin->port &&
        data->host == admin->host) {
      fail("admin.listen", "same address as server.listen");
    }
  }

  void fail(const std::string& path, std::string_view message) {
    if (!_diag.failed(path)) _diag.error_at(path, message);
  }

  diagnostics& _diag;
};

}  // namespace

void validate(const config& cfg, diagnostics& diag) {
  validator(diag).run(cfg);
}

}  // namespace rg::config::detail

namespace rg::config {

namespace {

// never_forwarded_headers indexed by (length, first letter in either case): one candidate to
// compare per client header instead of a walk over the list (~160 instructions a header).
// Built when the program is compiled, which fails if two names shared a slot.
constexpr size_t name_len_max = 19;
struct never_forwarded_index {
  int8_t at[name_len_max + 1][32];
};

constexpr never_forwarded_index make_never_forwarded_index() {
  never_forwarded_index t{};
  for (auto& row : t.at) {
    for (int8_t& slot : row) slot = -1;
  }
  for (size_t i = 0; i < std::size(detail::never_forwarded_headers); ++i) {
    const std::string_view name = detail::never_forwarded_headers[i];
    if (name.size() > name_len_max) throw "never_forwarded_index: raise name_len_max";
    int8_t& slot = t.at[name.size()][name[0] & 31];
    if (slot != -1) throw "never_forwarded_index: two names share a slot";
    slot = static_cast<int8_t>(i);
  }
  return t;
}

constexpr never_forwarded_index never_index = make_never_forwarded_index();

}  // namespace

bool never_forwarded(std::string_view header_name) noexcept {
  if (header_name.empty() || header_name.size() > name_len_max) return false;
  const int8_t i = never_index.at[header_name.size()][header_name[0] & 31];
  if (i < 0) return false;
  return runtime::ascii_iequal(header_name, detail::never_forwarded_headers[size_t(i)]);
}

}  // namespace rg::config
