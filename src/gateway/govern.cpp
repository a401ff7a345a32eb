// Governance on the proxy path: credentials → key, admission with the request's token estimates,
// refusals in the endpoint protocol's error shape (401, 403, 429 with Retry-After and OpenAI's
// x-ratelimit-* headers), and the settlement that runs however a call ends.
#include "govern.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>

#include <ringgate/http/response.hpp>
#include <ringgate/runtime/clock.hpp>

#include "call.hpp"
#include "metrics.hpp"

namespace rg::gateway {
namespace {

// Output tokens assumed for a provider/model request (no [[models]] entry) without max_tokens.
constexpr int64_t default_reserve_output_tokens = 4096;

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool starts_with_bearer(std::string_view v) noexcept {
  static constexpr std::string_view bearer = "bearer ";
  if (v.size() < bearer.size()) return false;
  for (size_t i = 0; i < bearer.size(); ++i) {
    char c = v[i] >= 'A' && v[i] <= 'Z' ? char(v[i] - 'A' + 'a') : v[i];
    if (c != bearer[i]) return false;
  }
  return true;
}

// OpenAI's duration style for x-ratelimit-reset-*: "120ms", "1.5s", "6m0s".
size_t format_reset(uint64_t ns, char* out, size_t cap) noexcept {
  uint64_t ms = (ns + 999'999) / 1'000'000;
  int n;
  if (ms < 1000) {
    n = snprintf(out, cap, "%llums", (unsigned long long)ms);
  } else if (ms < 60'000) {
    unsigned long long s = ms / 1000, frac = ms % 1000;
    if (frac == 0) {
      n = snprintf(out, cap, "%llus", s);
    } else {
      n = snprintf(out, cap, "%llu.%03llu", s, frac);
      while (n > 0 && out[n - 1] == '0') --n;
      n += snprintf(out + n, cap - size_t(n), "s");
    }
  } else {
    n = snprintf(out, cap, "%llum%llus", (unsigned long long)(ms / 60'000),
                 (unsigned long long)(ms % 60'000 / 1000));
  }
  return n > 0 && size_t(n) < cap ? size_t(n) : 0;
}

// Appends one "name: value\r\n" line; the buffer is sized for every line we write.
struct lines {
  char* buf;
  size_t cap;
  size_t len = 0;
  void add(const char* fmt, auto... args) noexcept {
    if (len >= cap) return;
    int n = snprintf(buf + len, cap - len, fmt, args...);
    if (n > 0 && size_t(n) < cap - len) len += size_t(n);
  }
  void limit(const char* what, const governance::limit_state& s) noexcept {
    if (s.limit == 0) return;
    char reset[32];
    size_t r = format_reset(s.reset_ns, reset, sizeof reset);
    add("x-ratelimit-limit-%s: %llu\r\n", what, (unsigned long long)s.limit);
    add("x-ratelimit-remaining-%s: %lld\r\n", what, (long long)std::max<int64_t>(s.remaining, 0));
    add("x-ratelimit-reset-%s: %.*s\r\n", what, int(r), reset);
  }
  std::string_view view() const noexcept { return {buf, len}; }
};

// One error answer in `p`'s shape.
void write_error(httpd::exchange& ex, protocol p, uint16_t status, std::string_view type,
                 std::string_view code, std::string_view message,
                 std::string_view extra_headers) noexcept {
  char body[1024];
  size_t n = 0;
  switch (p) {
    case protocol::openai:
      n = http::openai_error_body(std::span<char>(body), message, type, code);
      break;
  }
  ex.json(status, std::string_view(body, n), extra_headers);
}

struct presented {
  std::string_view key;
  bool any = false;  // some credential header was sent
};

// A Bearer token first, then x-api-key. Another Authorization scheme (Basic, a proxy's own) is
// not a key, but does not hide an x-api-key sent alongside it.
presented presented_key(const http::request_head& head) noexcept {
  const http::header* auth = head.find("authorization");
  if (auth) {
    std::string_view v = trim(auth->value);
    if (starts_with_bearer(v)) return {trim(v.substr(7)), true};
  }
  if (const http::header* h = head.find("x-api-key")) return {trim(h->value), true};
  return {{}, auth != nullptr};  // another scheme alone: present but not a key we accept
}

governance::token_counts usage_counts(const json::usage& u, int64_t prompt_estimate) noexcept {
  return {u.prompt_tokens >= 0 ? u.prompt_tokens : prompt_estimate,
          std::max<int64_t>(u.cached_tokens, 0), std::max<int64_t>(u.completion_tokens, 0)};
}

key_refusal refusal_of(governance::verdict v) noexcept {
  using governance::verdict;
  switch (v) {
    case verdict::model_not_allowed:
    case verdict::unpriced:
      return key_refusal::model_not_allowed;
    case verdict::concurrency:
      return key_refusal::concurrency;
    case verdict::rpm:
      return key_refusal::rpm;
    case verdict::tpm:
    case verdict::tpm_too_large:
      return key_refusal::tpm;
    case verdict::budget:
      return key_refusal::budget;
    case verdict::admitted:
      break;
  }
  return key_refusal::none;
}

// The 403 or 429 for a refused admission.
void refuse_admission(call_state& c, governance::verdict v, const governance::rejection& r,
                      exchange_note& note) {
  using governance::verdict;
  const governance::key_entry& k = c.h.governor()->shared().keys()[size_t(c.gov.key)];
  const auto name = int(k.name.size());
  char msg[512];
  uint16_t status = 429;
  std::string_view type = "requests", code = "rate_limit_exceeded";
  switch (v) {
    case verdict::model_not_allowed:
      status = 403, type = "invalid_request_error", code = "model_not_allowed";
      snprintf(msg, sizeof msg, "key '%.*s' may not use this model", name, k.name.data());
      break;
    case verdict::unpriced:
      status = 403, type = "invalid_request_error", code = "model_not_allowed";
      snprintf(msg, sizeof msg,
               "key '%.*s' has a budget, and this model has no price: only models configured "
               "with a price can be used",
               name, k.name.data());
      break;
    case verdict::concurrency:
      code = "concurrency_limit_exceeded";
      snprintf(msg, sizeof msg, "too many concurrent requests for key '%.*s' (at most %u)", name,
               k.name.data(), k.max_concurrent);
      break;
    case verdict::rpm:
      snprintf(msg, sizeof msg, "rate limit reached for key '%.*s': %u requests per minute",
               name, k.name.data(), k.rpm);
      break;
    case verdict::tpm:
      type = "tokens";
      snprintf(msg, sizeof msg,
               "rate limit reached for key '%.*s': %u tokens per minute; this request needs %lld "
               "(prompt estimate + max output tokens)",
               name, k.name.data(), k.tpm, (long long)r.tokens_asked);
      break;
    case verdict::tpm_too_large:
      type = "tokens";
      snprintf(msg, sizeof msg,
               "request too large for key '%.*s': it needs %lld tokens (prompt estimate + max "
               "output tokens) and the key allows %u per minute; lower max_tokens",
               name, k.name.data(), (long long)r.tokens_asked, k.tpm);
      break;
    case verdict::budget: {
      type = "insufficient_quota", code = "insufficient_quota";
      char budget[32], left[32], need[32];
      governance::format_usd(k.budget, budget, sizeof budget);
      governance::format_usd(r.remaining_budget, left, sizeof left);
      governance::format_usd(r.reserve, need, sizeof need);
      const char* per = k.budget_period == governance::period::daily     ? " per day"
                        : k.budget_period == governance::period::monthly ? " per month"
                                                                         : "";
      snprintf(msg, sizeof msg,
               "budget exceeded for key '%.*s': %s USD%s, %s USD left, and this request may cost "
               "up to %s USD",
               name, k.name.data(), budget, per, left, need);
      break;
    }
    case verdict::admitted:
      return;
  }
  char buf[1024];
  lines l{buf, sizeof buf};
  l.add("x-request-id: %.*s\r\n", int(c.request_id_len), c.request_id);
  if (r.retry_after_ns) {
    l.add("retry-after: %llu\r\n",
          (unsigned long long)std::max<uint64_t>((r.retry_after_ns + 999'999'999) / 1'000'000'000, 1));
    l.add("retry-after-ms: %llu\r\n", (unsigned long long)((r.retry_after_ns + 999'999) / 1'000'000));
  }
  l.limit("requests", r.requests);
  l.limit("tokens", r.tokens);
  write_error(c.ex, protocol::openai, status, type, code, msg, l.view());
  c.error_code = code;
  note.refused = refusal_of(v);
}

}  // namespace

auth_outcome check_credentials(governance::shard_governor& g,
                               const http::request_head& head) noexcept {
  presented p = presented_key(head);
  int32_t key = p.key.empty() ? -1 : g.find_key(p.key);
  if (key >= 0) return {key, true, false};
  if (!g.shared().auth_required()) return {-1, true, false};
  return {-1, false, !p.any};
}

void refuse_credentials(httpd::exchange& ex, protocol p, const auth_outcome& a,
                        std::string_view extra_headers, exchange_note& note) noexcept {
  char buf[512];
  lines l{buf, sizeof buf};
  l.add("www-authenticate: Bearer realm=\"ringgate\"\r\n");
  l.add("%.*s", int(extra_headers.size()), extra_headers.data());
  if (a.missing) {
    write_error(ex, p, 401, "invalid_request_error", "missing_api_key",
                "no API key: send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'",
                l.view());
  } else {
    write_error(ex, p, 401, "invalid_request_error", "invalid_api_key", "invalid API key",
                l.view());
  }
  note.refused = a.missing ? key_refusal::missing_key : key_refusal::invalid_key;
  note.error = a.missing ? "missing_api_key" : "invalid_api_key";
}

bool authenticate(call_state& c, exchange_note& note) {
  auth_outcome a = check_credentials(*c.h.governor(), c.ex.head());
  if (a.ok) {
    c.gov.key = a.key;
    return true;
  }
  char extra[256];
  refuse_credentials(c.ex, protocol::openai, a, response_header_lines(c, extra, sizeof extra),
                     note);
  c.error_code = note.error;
  return false;
}

namespace {

// The price a call is billed at: the model that answered (a fallback's when one did), or, when
// that one has no price, the reservation's worst case over the model and its fallbacks.
const governance::price* billing_price(const call_state& c) noexcept {
  const model_route* ran = c.served ? c.served : c.route.model;
  if (ran && ran->priced()) return ran->priced();
  return c.route.model ? c.route.model->reserve_priced() : nullptr;
}

}  // namespace

bool admit(call_state& c, exchange_note& note) {
  call_governance& g = c.gov;
  const json::request_info& info = c.info;
  const model_route* model = c.route.model;
  g.max_output = c.kind == api::embeddings ? 0
                 : info.max_tokens >= 0    ? info.max_tokens
                 : model                   ? int64_t(model->reserve_output_tokens)
                                           : default_reserve_output_tokens;
  // TPM: OpenAI's own estimate (a token per 4 characters of prompt text). The budget reserves
  // an upper bound instead: a token never encodes less than one byte, and a chat template adds a
  // few tokens per message (each message has at least one string, its role).
  g.prompt_estimate = int64_t((info.prompt_chars + 3) / 4);
  governance::shard_governor& gov = *c.h.governor();
  governance::admission a;
  a.key = g.key;
  a.model = info.model;
  a.model_price = model ? model->reserve_priced() : nullptr;
  a.tpm_tokens = g.prompt_estimate + g.max_output;
  a.budget_input_tokens = int64_t(info.prompt_chars + 4 * info.prompt_strings + 4);
  a.budget_output_tokens = g.max_output;
  a.now_ns = c.h.shard().now_ns();
  a.unix_us = runtime::unix_us_at(a.now_ns);  // budget periods: no clock read
  governance::rejection r;
  governance::verdict v = gov.admit(a, g.ticket, r);
  if (v == governance::verdict::admitted) {
    g.admitted = true;
    return true;
  }
  refuse_admission(c, v, r, note);
  return false;
}

void end_call(call_state& c, exchange_note& note) noexcept {
  call_governance& g = c.gov;
  governance::shard_governor& gov = *c.h.governor();
  if (g.key >= 0) {
    note.key = gov.shared().keys()[size_t(g.key)].name;
    note.key_index = g.key;
  }
  if (!g.admitted || g.ended) return;
  g.ended = true;
  const uint16_t status = c.ex.out().last_status();
  governance::token_counts billed;
  bool estimated = false;
  if (c.usage.present()) {
    billed = usage_counts(c.usage, g.prompt_estimate);
  } else if (c.upstream_head_ns && c.meta.status == 200 && (g.events > 0 || status == 200)) {
    // The client got (part of) an answer but the upstream reported no usage (a stream cut
    // before its usage event, a provider that omits it): bill the prompt estimate and, for a
    // stream, one token per event relayed.
    estimated = true;
    billed.input = g.prompt_estimate;
    billed.output = g.max_output > 0 ? std::min<int64_t>(g.events, g.max_output) : g.events;
  }
  const uint64_t now_ns = c.h.shard().now_ns();
  g.ticket.model_price = billing_price(c);
  governance::nano_usd cost = gov.settle(g.ticket, billed, now_ns);
  note.cost_nano = (c.usage.present() || estimated) ? cost : -1;
  note.billed_in = billed.input;
  note.billed_out = billed.output;
  note.usage_estimated = estimated;

  governance::usage_row row;
  row.time_us = g.ticket.unix_us;
  row.latency_us = int64_t(now_ns > c.started_ns ? (now_ns - c.started_ns) / 1000 : 0);
  row.tokens_in = billed.input;
  row.tokens_out = billed.output;
  row.tokens_cached = billed.cached;
  row.cost = cost;  // -1: unpriced; 0: a priced model with nothing billed (a failure)
  row.key = g.key;
  // The provider that answered (a model's pool may span several), else the model's first.
  const provider_route* provider = c.winner.provider ? c.winner.provider : c.route.provider;
  row.provider = provider ? int32_t(provider - c.h.routes().providers().data()) : -1;
  row.status = status;
  row.estimated = estimated;
  row.set_request_id(c.request_id_view());
  row.set_model(c.info.model);
  gov.record(row);
}

size_t cost_header(const call_state& c, char* buf, size_t cap) noexcept {
  const governance::price* price = billing_price(c);
  if (!c.usage.present() || !price) return 0;
  governance::nano_usd cost = governance::cost(*price, usage_counts(c.usage, c.gov.prompt_estimate));
  char usd[32];
  size_t n = governance::format_usd(cost, usd, sizeof usd);
  int len = snprintf(buf, cap, "x-ringgate-cost-usd: %.*s\r\n", int(n), usd);
  return len > 0 && size_t(len) < cap ? size_t(len) : 0;
}

}  // namespace rg::gateway
