// Admission (concurrency, RPM, TPM, budget; each undone when a later one refuses) and settlement
// (TPM to actual tokens, the budget reservation to actual cost, the in-flight count released).
#include <ringgate/governance/governor.hpp>

#include <sys/random.h>

#include <algorithm>

#include <ringgate/runtime/log.hpp>

namespace rg::governance {

governance::governance(key_table keys, uint32_t shards, bool auth_required, int64_t unix_s)
    : _keys(std::move(keys)),
      _shared(std::make_unique<key_shared[]>(std::max<size_t>(_keys.size(), 1))),
      _shards(std::max<uint32_t>(shards, 1)),
      _auth_required(auth_required) {
  // Unpredictable, so no client can aim at key cache slots or forge a memoized MAC.
  size_t got = 0;
  auto* bytes = reinterpret_cast<unsigned char*>(_cache_secret.data());
  while (got < sizeof _cache_secret) {
    ssize_t n = getrandom(bytes + got, sizeof _cache_secret - got, 0);
    if (n > 0) got += size_t(n);
  }
  for (size_t i = 0; i < _keys.size(); ++i) {
    const key_entry& k = _keys[i];
    _shared[i].rpm.configure(k.rpm, _shards);
    _shared[i].tpm.configure(k.tpm, _shards);
    _shared[i].budget.configure(k.budget_period, k.budget, period_index(k.budget_period, unix_s),
                                0);
  }
}

void governance::roll_periods(int64_t unix_s) noexcept {
  for (size_t i = 0; i < _keys.size(); ++i) {
    _shared[i].budget.roll(period_index(_keys[i].budget_period, unix_s));
  }
}

governance::~governance() { stop_writer(); }

void governance::stop_writer() {
  if (_writer) _writer->stop();
}

std::expected<void, std::string> governance::restore(ledger& db, int64_t unix_s) {
  for (size_t i = 0; i < _keys.size(); ++i) {
    const key_entry& k = _keys[i];
    int64_t idx = period_index(k.budget_period, unix_s);
    auto spent = db.spend(k.name, period_label(k.budget_period, idx));
    if (!spent) return std::unexpected(spent.error());
    _shared[i].budget.configure(k.budget_period, k.budget, idx, *spent);
    if (k.budget > 0 && *spent > 0) {
      char usd[32], limit[32];
      format_usd(*spent, usd, sizeof usd);
      format_usd(k.budget, limit, sizeof limit);
      log::info("budget restored from the usage ledger",
                {{"key", k.name},
                 {"period", period_label(k.budget_period, idx)},
                 {"spent_usd", std::string_view(usd)},
                 {"budget_usd", std::string_view(limit)}});
    }
  }
  return {};
}

shard_governor::shard_governor(governance& g, uint32_t shard)
    : _g(g), _shard(shard), _slices(g.keys().size()), _cache(g.keys(), g.cache_secret()) {}

shard_governor::~shard_governor() = default;

void shard_governor::describe(int32_t key, int64_t now_ticks, rejection& r) const noexcept {
  const key_shared& sh = _g.shared(size_t(key));
  const key_slices& sl = _slices[size_t(key)];
  if (!sh.rpm.unlimited()) {
    r.requests = {sh.rpm.shape().limit, sh.rpm.remaining(sl.rpm, now_ticks),
                  sh.rpm.reset_ns(now_ticks)};
  }
  if (!sh.tpm.unlimited()) {
    r.tokens = {sh.tpm.shape().limit, sh.tpm.remaining(sl.tpm, now_ticks),
                sh.tpm.reset_ns(now_ticks)};
  }
}

void shard_governor::rollback(ticket& t, int32_t key, bool rpm_taken, int64_t now) noexcept {
  key_shared& sh = _g.shared(size_t(key));
  key_slices& sl = _slices[size_t(key)];
  if (t.tpm_charged > 0) sh.tpm.refund(sl.tpm, now, t.tpm_charged);
  if (rpm_taken) sh.rpm.refund(sl.rpm, now, 1);
  if (t.concurrency_held) sh.in_flight.fetch_sub(1, std::memory_order_relaxed);
  t = ticket{};
}

verdict shard_governor::admit(const admission& a, ticket& t, rejection& r) noexcept {
  t = ticket{};
  t.key = a.key;
  t.model_price = a.model_price;
  t.unix_us = a.unix_us;
  if (a.key < 0) {
    t.open = true;
    return verdict::admitted;
  }
  const key_entry& k = _g.keys()[size_t(a.key)];
  key_shared& sh = _g.shared(size_t(a.key));
  key_slices& sl = _slices[size_t(a.key)];
  if (!k.allows(a.model)) return verdict::model_not_allowed;
  if (k.budget > 0 && !a.model_price) return verdict::unpriced;
  const int64_t now = to_ticks(a.now_ns);

  if (k.max_concurrent > 0) {
    if (sh.in_flight.fetch_add(1, std::memory_order_relaxed) >= k.max_concurrent) {
      sh.in_flight.fetch_sub(1, std::memory_order_relaxed);
      describe(a.key, now, r);
      r.retry_after_ns = 1'000'000'000;  // a slot frees when any request of this key ends
      return verdict::concurrency;
    }
    t.concurrency_held = true;
  }
  bool rpm_taken = false;
  if (!sh.rpm.unlimited()) {
    if (sh.rpm.take(sl.rpm, now, 1) != take_result::ok) {
      r.retry_after_ns = sh.rpm.retry_ns(sl.rpm, now, 1);
      rollback(t, a.key, false, now);
      describe(a.key, now, r);
      return verdict::rpm;
    }
    rpm_taken = true;
  }
  if (!sh.tpm.unlimited()) {
    const int64_t n = std::max<int64_t>(a.tpm_tokens, 1);
    take_result got = sh.tpm.take(sl.tpm, now, n);
    if (got != take_result::ok) {
      r.tokens_asked = n;
      r.retry_after_ns = got == take_result::too_large ? 0 : sh.tpm.retry_ns(sl.tpm, now, n);
      rollback(t, a.key, rpm_taken, now);
      describe(a.key, now, r);
      return got == take_result::too_large ? verdict::tpm_too_large : verdict::tpm;
    }
    t.tpm_charged = n;
  }
  if (k.budget > 0) {
    const int64_t unix_s = a.unix_us / 1'000'000;
    const int64_t idx = period_index(k.budget_period, unix_s);
    const nano_usd reserve =
        cost(*a.model_price, {a.budget_input_tokens, 0, a.budget_output_tokens});
    if (!sh.budget.reserve(idx, reserve, t.budget)) {
      r.reserve = reserve;
      r.remaining_budget = std::max<nano_usd>(k.budget - sh.budget.committed(idx), 0);
      if (k.budget_period != period::total) {
        r.retry_after_ns = uint64_t(period_start(k.budget_period, idx + 1) - unix_s) * 1'000'000'000;
      }
      rollback(t, a.key, rpm_taken, now);
      describe(a.key, now, r);
      return verdict::budget;
    }
    if (t.budget.period_idx > idx) {
      // Another shard already began the next period: bill this request there, consistently in
      // the ledger too.
      t.unix_us = std::max(a.unix_us, period_start(k.budget_period, t.budget.period_idx) * 1'000'000);
    }
  }
  t.open = true;
  return verdict::admitted;
}

nano_usd shard_governor::settle(ticket& t, const token_counts& billed, uint64_t now_ns) noexcept {
  nano_usd amount = t.model_price ? cost(*t.model_price, billed) : -1;
  if (!t.open) return amount;
  t.open = false;
  if (t.key < 0) return amount;
  key_shared& sh = _g.shared(size_t(t.key));
  key_slices& sl = _slices[size_t(t.key)];
  if (t.tpm_charged > 0) {
    int64_t actual = std::max<int64_t>(billed.input, 0) + std::max<int64_t>(billed.output, 0);
    if (actual < t.tpm_charged) {
      sh.tpm.refund(sl.tpm, to_ticks(now_ns), t.tpm_charged - actual);
    } else if (actual > t.tpm_charged) {
      sh.tpm.charge(sl.tpm, to_ticks(now_ns), actual - t.tpm_charged);
    }
  }
  sh.budget.settle(t.budget, amount < 0 ? 0 : amount);
  if (t.concurrency_held) sh.in_flight.fetch_sub(1, std::memory_order_relaxed);
  t.concurrency_held = false;
  return amount;
}

bool shard_governor::record(const usage_row& row) noexcept {
  ledger_writer* w = _g.writer();
  return w && w->push(_shard, row);
}

}  // namespace rg::governance
