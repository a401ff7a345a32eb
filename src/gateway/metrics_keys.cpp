// The governance metric families: refusals by key and reason, tokens and cost billed per key, and
// the usage ledger's row counters. Labels are configured key names only (never a key, never
// client text), so the series are fixed at startup like every other family.
#include "metrics.hpp"

#include <ringgate/observe/metrics.hpp>

namespace rg::gateway {
namespace {

constexpr std::string_view rate_limits[] = {"concurrent", "rpm", "tpm"};
constexpr uint32_t rate_limit_count = std::size(rate_limits);

}  // namespace

void gateway_metrics::add_key_families(const std::vector<config::key_config>& keys) {
  _keys = uint32_t(keys.size());
  std::vector<std::vector<std::string>> by_key;
  for (const auto& k : keys) by_key.push_back({k.name});
  observe::family_options limited{"ringgate_rate_limited_total",
                                  "Requests refused by a virtual key's limits, by key and limit "
                                  "(concurrent, rpm, tpm).",
                                  observe::metric_type::counter,
                                  {"key", "limit"},
                                  {},
                                  true};
  for (const auto& k : keys) {
    for (auto l : rate_limits) limited.series.push_back({k.name, std::string(l)});
  }
  _rate_limited = _reg.add(std::move(limited));
  _budget_rejected = _reg.add({"ringgate_budget_rejected_total",
                               "Requests refused because a virtual key's budget was spent, by key.",
                               observe::metric_type::counter, {"key"}, by_key, true});
  _model_denied = _reg.add({"ringgate_model_denied_total",
                            "Requests refused (403) because the key may not use the model, by key.",
                            observe::metric_type::counter, {"key"}, by_key, true});
  _auth_rejected = _reg.add({"ringgate_auth_rejected_total",
                             "Requests refused (401) for a missing or unknown API key.",
                             observe::metric_type::counter,
                             {"reason"},
                             {{"missing_key"}, {"invalid_key"}},
                             true});
  observe::family_options tokens{"ringgate_key_tokens_total",
                                 "Tokens billed to a virtual key, by key and direction (in = "
                                 "prompt, out = completion; estimated when the upstream reported "
                                 "none).",
                                 observe::metric_type::counter,
                                 {"key", "direction"},
                                 {}};
  for (const auto& k : keys) {
    tokens.series.push_back({k.name, "in"});
    tokens.series.push_back({k.name, "out"});
  }
  _key_tokens = _reg.add(std::move(tokens));
  observe::family_options cost{"ringgate_key_cost_usd_total",
                               "Cost in US dollars billed to a virtual key, at the configured "
                               "prices.",
                               observe::metric_type::counter,
                               {"key"},
                               by_key};
  cost.scale = 1e-9;  // cells count nano-dollars
  _key_cost = _reg.add(std::move(cost));
}

void gateway_metrics::count_key(observe::shard_block& b, const exchange_note& n) noexcept {
  const bool keyed = n.key_index >= 0 && uint32_t(n.key_index) < _keys;
  const uint32_t k = keyed ? uint32_t(n.key_index) : 0;
  switch (n.refused) {
    case key_refusal::none:
      break;
    case key_refusal::missing_key:
    case key_refusal::invalid_key:
      b.add(_auth_rejected, n.refused == key_refusal::missing_key ? 0 : 1);
      return;
    case key_refusal::model_not_allowed:
      if (keyed) b.add(_model_denied, k);
      return;
    case key_refusal::concurrency:
    case key_refusal::rpm:
    case key_refusal::tpm: {
      uint32_t l = n.refused == key_refusal::concurrency ? 0 : n.refused == key_refusal::rpm ? 1 : 2;
      if (keyed) b.add(_rate_limited, k * rate_limit_count + l);
      return;
    }
    case key_refusal::budget:
      if (keyed) b.add(_budget_rejected, k);
      return;
  }
  if (!keyed) return;
  if (n.billed_in > 0) b.add(_key_tokens, k * 2, uint64_t(n.billed_in));
  if (n.billed_out > 0) b.add(_key_tokens, k * 2 + 1, uint64_t(n.billed_out));
  if (n.cost_nano > 0) b.add(_key_cost, k, uint64_t(n.cost_nano));
}

void gateway_metrics::watch_ledger(const governance::ledger_counters* counters) {
  if (!counters) return;
  _reg.add_hook([counters](std::string& out) {
    auto line = [&out](std::string_view name, std::string_view help, uint64_t v) {
      observe::append_help_type(out, name, help, "counter");
      out += name;
      out += ' ';
      observe::append_value(out, double(v));
      out += '\n';
    };
    line("ringgate_usage_rows_written_total", "Usage ledger rows committed to SQLite.",
         counters->written.load(std::memory_order_relaxed));
    line("ringgate_usage_rows_dropped_total",
         "Usage ledger rows dropped because a shard's queue was full.",
         counters->dropped.load(std::memory_order_relaxed));
    line("ringgate_usage_rows_failed_total",
         "Usage ledger rows lost because the database kept failing.",
         counters->failed.load(std::memory_order_relaxed));
  });
}

}  // namespace rg::gateway
