// The attempts of one request (see attempt.hpp). Stages: the model's own pool, then each
// fallback model's pool in order. In a stage, up to retry.attempts attempts, each on a member
// the balancer picks among those whose circuit lets requests through, that are healthy and below
// their concurrency limits — preferring members not tried yet. A retryable failure is retried
// after full-jitter backoff (or the upstream's Retry-After when the retry goes back to the same
// endpoint, up to max_retry_after_ms), never past the retry budget, and only while nothing has
// reached the client: every attempt here ends before the relay starts. When no member can take
// the request: wait in the provider's queue if it has one, else fail over or refuse (429) as
// configured; when nothing anywhere is reachable, 503 at once.
// Invariants: a lease's circuit verdict is given once and its slots released once; every
// attempt running in its own coroutine (a hedge) has finished before run_attempts returns.
#include <cerrno>
#include <cstring>
#include <ctime>

#include <ringgate/resilience/balancer.hpp>
#include <ringgate/runtime/clock.hpp>
#include <ringgate/runtime/log.hpp>

#include "attempt.hpp"
#include "metrics_resilience.hpp"

namespace rg::gateway {
namespace {

using resilience::outcome;
using resilience::verdict;

struct stage {
  const pool_route* pool = nullptr;
  const resilience::retry_policy* policy = nullptr;
  const model_route* model = nullptr;  // null for the provider/model form
  uint64_t hedge_after_ns = 0;
};

enum class pick_result : uint8_t { ok, unavailable, saturated };

constexpr uint64_t bit(uint32_t i) noexcept {
  return uint64_t(1) << i;
}

stage stage_at(const call_state& c, uint32_t s) {
  const route_table& routes = c.h.routes();
  const model_route* m = c.route.model;
  if (m && s > 0) m = &routes.models()[m->fallbacks[s - 1]];
  if (!m) return {c.route.pool, &routes.default_retry(), nullptr, 0};
  return {&m->pool, &m->retry, m, m->hedge_after_ns};
}

uint32_t stage_count(const call_state& c) {
  return c.route.model ? 1 + uint32_t(c.route.model->fallbacks.size()) : 1;
}

const endpoint_route& endpoint_of(const call_state& c, const pool_route& p, uint32_t i) {
  return c.h.routes().endpoints()[p.slots[i].endpoint];
}
const provider_route& provider_of(const call_state& c, const endpoint_route& e) {
  return c.h.routes().providers()[e.provider];
}

// The metrics of this shard, or null when metrics are off.
observe::shard_block* block(call_state& c) {
  return c.h.metrics() ? &c.h.metrics()->block(c.h.shard().id()) : nullptr;
}

void note_transition(call_state& c, const lease& l, resilience::transition t) {
  if (t == resilience::transition::none) return;
  uint32_t e = uint32_t(l.endpoint - c.h.routes().endpoints().data());
  if (auto* b = block(c)) c.h.metrics()->resilience().transition(*b, e, t);
  std::string_view what = t == resilience::transition::opened        ? "circuit opened"
                          : t == resilience::transition::half_opened ? "circuit half-open"
                                                                     : "circuit closed";
  log::level lvl = t == resilience::transition::opened ? log::level::warn : log::level::info;
  if (log::enabled(lvl)) {
    log::write(lvl, what, {{"provider", l.provider->name}, {"endpoint", l.endpoint->label}});
  }
}

// May the balancer pick member i? Circuit, health, the endpoint's and its provider's limits.
struct filter {
  const call_state& c;
  const pool_route& pool;
  uint64_t excluded;
  uint64_t now;
  bool operator()(uint32_t i) const noexcept {
    if (excluded & bit(i)) return false;
    const endpoint_route& e = endpoint_of(c, pool, i);
    return e.state->available(now) && !provider_of(c, e).gate->slots().full();
  }
};

// Reachable = circuit and health would let a request through (limits aside).
bool reachable(const call_state& c, const pool_route& pool, uint64_t except, uint64_t now) {
  for (uint32_t i = 0; i < pool.members.size(); ++i) {
    if (except & bit(i)) continue;
    const auto& st = *endpoint_of(c, pool, i).state;
    if (st.healthy.load(std::memory_order_relaxed) && st.breaker.available(now)) return true;
  }
  return false;
}

// The first member that is reachable but full; null when there is none.
const provider_route* saturated_provider(const call_state& c, const pool_route& pool,
                                         uint64_t except, uint64_t now) {
  for (uint32_t i = 0; i < pool.members.size(); ++i) {
    if (except & bit(i)) continue;
    const endpoint_route& e = endpoint_of(c, pool, i);
    const provider_route& p = provider_of(c, e);
    bool full = e.state->in_flight.full() || p.gate->slots().full();
    if (full && e.state->healthy.load(std::memory_order_relaxed) &&
        e.state->breaker.available(now)) {
      return &p;
    }
  }
  return nullptr;
}

void release(call_state& c, lease& l) noexcept {
  if (!l.held) return;
  l.held = false;
  l.endpoint->state->in_flight.release();
  l.provider->gate->slots().release();
  l.provider->gate->notify(c.h.shard().id());
}

void judge(call_state& c, lease& l, verdict v) {
  if (l.judged || !l.permit) return;
  l.judged = true;
  auto& breaker = l.endpoint->state->breaker;
  uint64_t now = c.h.shard().now_ns();
  resilience::transition t = resilience::transition::none;
  if (v == verdict::success) {
    t = breaker.on_success(l.permit, now);
  } else if (v == verdict::failure) {
    t = breaker.on_failure(l.permit, now);
  } else {
    breaker.on_abandon(l.permit);
  }
  note_transition(c, l, t);
}

// Leases member `i` of `pool`: the provider's slot, the endpoint's slot, the circuit's permit.
bool claim(call_state& c, const pool_route& pool, uint32_t i, lease& out) {
  const endpoint_route& e = endpoint_of(c, pool, i);
  const provider_route& p = provider_of(c, e);
  out = lease{&pool, i, &e, &p,
              pool.slots[i].target == UINT32_MAX ? nullptr : &pool.targets[pool.slots[i].target]};
  if (!p.gate->slots().try_acquire()) return false;
  if (!e.state->in_flight.try_acquire()) {
    p.gate->slots().release();
    p.gate->notify(c.h.shard().id());
    return false;
  }
  out.held = true;
  resilience::transition t = resilience::transition::none;
  out.permit = e.state->breaker.acquire(c.h.shard().now_ns(), &t);
  note_transition(c, out, t);
  if (!out.permit) {
    release(c, out);
    return false;
  }
  return true;
}

// One pass of selection without waiting.
pick_result try_lease(call_state& c, const pool_route& pool, uint64_t tried, lease& out) {
  uint64_t now = c.h.shard().now_ns();
  // Untried members first; then any (a retry prefers another endpoint, but may reuse one).
  for (uint64_t avoid : {tried, uint64_t(0)}) {
    uint64_t excluded = avoid;
    for (size_t k = 0; k < pool.members.size(); ++k) {
      uint32_t i = resilience::pick(pool.balancer, pool.members, c.h.wrr(pool), c.h.rng(), now,
                                    filter{c, pool, excluded, now});
      if (i == resilience::no_pick) break;
      if (claim(c, pool, i, out)) return pick_result::ok;
      excluded |= bit(i);  // lost a race for its last slot or probe: try another
    }
    if (avoid == 0) break;
  }
  return saturated_provider(c, pool, 0, now) ? pick_result::saturated : pick_result::unavailable;
}

// Selection, waiting in the saturated provider's queue when it has one.
runtime::task<pick_result> select(call_state& c, const pool_route& pool, uint64_t tried,
                                  uint64_t budget_end, lease& out) {
  pick_result r = try_lease(c, pool, tried, out);
  if (r != pick_result::saturated) co_return r;
  const provider_route* p = saturated_provider(c, pool, 0, c.h.shard().now_ns());
  if (!p || p->gate->queue_max() == 0) co_return r;
  uint32_t shard = c.h.shard().id();
  uint32_t provider = uint32_t(p - c.h.routes().providers().data());
  queue_waiter w;
  w.alarm = &c.alarm;
  if (!p->gate->enter(shard, w)) {
    if (auto* b = block(c)) c.h.metrics()->resilience().queued(*b, provider, queue_result::full, 0);
    co_return r;
  }
  uint64_t start = c.h.shard().now_ns();
  uint64_t deadline = std::min(start + p->queue_timeout_ns, budget_end);
  for (;;) {
    r = try_lease(c, pool, tried, out);
    if (r != pick_result::saturated || c.client_gone || c.h.shard().now_ns() >= deadline) break;
    w.woken = false;  // ready for the next wake
    co_await c.alarm.wait_until(deadline);
  }
  p->gate->leave(shard, w);
  if (r != pick_result::ok && w.woken) p->gate->notify(shard);  // pass the unused wake on
  if (auto* b = block(c)) {
    c.h.metrics()->resilience().queued(
        *b, provider, r == pick_result::ok ? queue_result::admitted : queue_result::timeout,
        c.h.shard().now_ns() - start);
  }
  co_return r;
}

void reset_slot(attempt_slot& a) noexcept {
  a = attempt_slot{};
}

verdict verdict_of(const call_state& c, const attempt_slot& a) {
  if (a.cancelled || c.client_gone || a.local_limit ||
      (a.outcome == outcome::fatal && a.fail_status == 400)) {
    return verdict::neutral;  // says nothing about the endpoint
  }
  return resilience::circuit_verdict(a.outcome, a.meta.status);
}

// Closes (or, when nothing of the body is left to read, pools) an attempt's connection and
// gives its lease back.
void drop_attempt(call_state& c, attempt_slot& a) {
  if (a.conn) {
    const upstream_meta& m = a.meta;
    bool whole =
        a.answered() && m.keep_alive &&
        (m.body == http::body_kind::none || (m.body == http::body_kind::content_length &&
                                             a.conn->io.input().size() >= m.content_length));
    if (whole && m.body == http::body_kind::content_length) a.conn->io.consume(m.content_length);
    bool keep = whole && !a.cancelled && a.conn->io.input().empty();
    c.h.pool_for(*a.l.endpoint)
        .release(a.conn, keep ? upstream::reuse::keep : upstream::reuse::close);
    a.conn = nullptr;
  }
  judge(c, a.l, verdict::neutral);
  release(c, a.l);
}

runtime::task<void> attempt_child(call_state& c, attempt_slot& a) {
  co_await run_attempt(c, a);
  a.running = false;
  a.finished = true;
  c.alarm.wake();
}

void start_child(call_state& c, attempt_slot& a) {
  a.running = true;
  a.finished = false;
  runtime::spawn(attempt_child(c, a));
}

bool usable(const stage& st, const attempt_slot& a) {
  return a.answered() && !resilience::retryable(*st.policy, outcome::answered, a.meta.status);
}

// The first attempt, and after hedge_after_ms without an answer a second on another member;
// the first usable answer wins and the other attempt is cancelled (its connection closed).
// Returns the index of the attempt that stands for this round; the other is cleaned up.
runtime::task<int> hedged(call_state& c, const stage& st, uint64_t tried) {
  attempt_slot& a = c.attempts[0];
  attempt_slot& b = c.attempts[1];
  start_child(c, a);
  uint64_t hedge_at = c.h.shard().now_ns() + st.hedge_after_ns;
  while (!a.finished && !c.client_gone && c.h.shard().now_ns() < hedge_at) {
    co_await c.alarm.wait_until(hedge_at);
  }
  bool second = false;
  if (!a.finished && !c.client_gone) {
    reset_slot(b);
    if (try_lease(c, *st.pool, tried | bit(a.l.member), b.l) == pick_result::ok &&
        b.l.member != a.l.member) {
      second = true;
      if (auto* blk = block(c)) {
        c.h.metrics()->resilience().hedge(*blk, uint32_t(st.model - c.h.routes().models().data()),
                                          hedge_event::started);
      }
      start_child(c, b);
    } else {
      drop_attempt(c, b);  // nobody else to ask (a reused member is no hedge)
    }
  }
  int winner = 0;
  for (;;) {
    if (a.finished && usable(st, a)) break;
    if (second && b.finished && usable(st, b)) {
      winner = 1;
      break;
    }
    if (a.finished && (!second || b.finished)) {
      // Neither is usable: report the one that answered (it may be relayed), else the first.
      winner = !a.answered() && second && b.answered() ? 1 : 0;
      break;
    }
    co_await c.alarm.wait_until(UINT64_MAX);  // each attempt is bounded by its own deadlines
  }
  if (!second) co_return 0;
  attempt_slot& loser = winner == 0 ? b : a;
  bool cut = !loser.finished;
  if (cut) {
    loser.cancelled = true;
    loser.cancel_token.cancel();
    if (loser.conn) loser.conn->io.abort();
    while (!loser.finished) co_await c.alarm.wait_until(UINT64_MAX);
  }
  if (loser.conn) {
    c.h.pool_for(*loser.l.endpoint).release(loser.conn, upstream::reuse::close);
    loser.conn = nullptr;
  }
  judge(c, loser.l, verdict_of(c, loser));
  release(c, loser.l);
  if (auto* blk = block(c)) {
    uint32_t m = uint32_t(st.model - c.h.routes().models().data());
    if (winner == 1) c.h.metrics()->resilience().hedge(*blk, m, hedge_event::won);
    if (cut) c.h.metrics()->resilience().hedge(*blk, m, hedge_event::cancelled);
  }
  co_return winner;
}

// The attempt's answer goes to the client: it becomes the winner (true); or its failure is the
// answer (false).
bool conclude(call_state& c, attempt_slot& a) {
  if (a.answered()) {
    c.conn = a.conn;
    c.meta = a.meta;
    c.winner = a.l;
    c.endpoint = a.l.endpoint;
    c.sent_ns = a.sent_ns;
    c.upstream_head_ns = a.head_ns;
    c.total_deadline_ns =
        c.started_ns + runtime::ms_to_ns(a.l.endpoint->ep->options().total_timeout_ms);
    a.conn = nullptr;
    a.l.held = false;  // now the winner's
    return true;
  }
  c.endpoint = a.l.endpoint;
  c.winner.provider = a.l.provider;
  c.winner.target = a.l.target;
  fail(c, a.fail_status, a.fail_message, a.fail_code);
  drop_attempt(c, a);
  return false;
}

// Nothing could take the request.
bool refuse(call_state& c, pick_result why) {
  const route_table& routes = c.h.routes();
  uint32_t target =
      c.route.model
          ? uint32_t(c.route.model - routes.models().data())
          : uint32_t(routes.models().size() + (c.route.provider - routes.providers().data()));
  if (auto* b = block(c)) {
    c.h.metrics()->resilience().refused(
        *b, target, why == pick_result::saturated ? refusal::saturated : refusal::no_endpoint);
  }
  if (why == pick_result::saturated) {
    fail(c, 429, "the upstream provider is at its concurrency limit; retry later",
         "upstream_saturated", "retry-after: 1\r\n");
  } else {
    fail(c, 503,
         "no upstream endpoint is available for this model (circuits open or endpoints "
         "unhealthy)",
         "upstream_unavailable");
  }
  return false;
}

retry_reason reason_of(const attempt_slot& a) {
  if (a.local_limit) return retry_reason::pool_exhausted;
  switch (a.outcome) {
    case outcome::connect:
      return retry_reason::connect_error;
    case outcome::timeout:
      return retry_reason::timeout;
    case outcome::answered:
      return retry_reason::status;
    default:
      return retry_reason::reset;
  }
}

// What the upstream asked us to wait, from its answer's headers.
std::optional<uint64_t> server_wait(const attempt_slot& a) {
  if (!a.answered()) return std::nullopt;
  if (auto ms = resilience::parse_retry_after_ms(a.meta.retry_after_ms_view())) return ms;
  if (a.meta.retry_after_len == 0) return std::nullopt;
  return resilience::parse_retry_after(a.meta.retry_after_view(), int64_t(::time(nullptr)));
}

// Bookkeeping after an attempt ended: latency sample, stale-connection retries, the verdict.
void account(call_state& c, attempt_slot& a) {
  if (a.answered() && a.head_ns > a.sent_ns) {
    a.l.endpoint->state->ttfb.sample(a.head_ns - a.sent_ns, c.h.shard().now_ns());
  }
  c.retries += a.stale_retries;
  if (auto* b = block(c); b && a.stale_retries) {
    uint32_t p = uint32_t(a.l.provider - c.h.routes().providers().data());
    c.h.metrics()->resilience().retry(*b, p, retry_reason::stale_connection);
  }
  judge(c, a.l, verdict_of(c, a));
}

}  // namespace

void cancel_attempts(call_state& c) noexcept {
  for (attempt_slot& a : c.attempts) {
    a.cancelled = a.cancelled || a.running;
    a.cancel_token.cancel();
    if (a.conn) a.conn->io.abort();
  }
  if (c.conn) c.conn->io.abort();
  c.alarm.wake();
}

runtime::task<bool> run_attempts(call_state& c) {
  const stage first = stage_at(c, 0);
  const uint64_t budget_end = c.started_ns + first.policy->budget_ns;
  const uint32_t stages = stage_count(c);
  pick_result refused = pick_result::unavailable;
  uint32_t retry_index = 0;
  c.acquire_ns = runtime::monotonic_ns();
  for (uint32_t s = 0; s < stages; ++s) {
    const stage st = stage_at(c, s);
    uint64_t tried = 0;
    for (uint32_t n = 0; n < st.policy->attempts; ++n) {
      if (c.client_gone) co_return false;
      attempt_slot& slot = c.attempts[0];
      reset_slot(slot);
      pick_result r = co_await select(c, *st.pool, tried, budget_end, slot.l);
      if (c.client_gone) {
        drop_attempt(c, slot);
        co_return false;
      }
      if (r != pick_result::ok) {
        refused = r;
        const provider_route* full = saturated_provider(c, *st.pool, 0, c.h.shard().now_ns());
        if (r == pick_result::saturated && full && full->on_full == full_policy::reject) {
          co_return refuse(c, r);
        }
        break;  // this pool cannot take it: the next fallback may
      }
      if (s > 0 && n == 0) {
        if (auto* b = block(c)) {
          c.h.metrics()->resilience().fallback(
              *b, uint32_t(c.route.model - c.h.routes().models().data()));
        }
      }
      c.served = st.model;
      int w = 0;
      if (st.hedge_after_ns && n == 0) {
        w = co_await hedged(c, st, tried);
      } else {
        co_await run_attempt(c, slot);
      }
      attempt_slot& a = c.attempts[w];
      tried |= bit(a.l.member);
      account(c, a);
      if (c.client_gone) {
        drop_attempt(c, a);
        co_return false;
      }
      if (!resilience::retryable(*st.policy, a.outcome, a.meta.status)) co_return conclude(c, a);
      // Retryable. Somewhere to go: another attempt here, or a later stage.
      uint64_t now = c.h.shard().now_ns();
      bool here = n + 1 < st.policy->attempts && reachable(c, *st.pool, 0, now);
      // A full connection pool was already waited for (connect_timeout_ms): going back to the
      // same endpoint would only wait again; another endpoint, or a fallback, may have room.
      if (here && a.local_limit && !reachable(c, *st.pool, tried, now)) here = false;
      bool later = false;
      for (uint32_t k = s + 1; !here && !later && k < stages; ++k) {
        later = reachable(c, *stage_at(c, k).pool, 0, now);
      }
      if (!here && !later) co_return conclude(c, a);
      bool same = here && !reachable(c, *st.pool, tried, now);
      auto delay = resilience::retry_delay_ns(*st.policy, retry_index, c.h.rng().next(),
                                              server_wait(a), same);
      if (!delay || now + *delay >= budget_end) co_return conclude(c, a);
      if (auto* b = block(c)) {
        c.h.metrics()->resilience().retry(
            *b, uint32_t(a.l.provider - c.h.routes().providers().data()), reason_of(a));
      }
      drop_attempt(c, a);
      ++c.retries;
      ++retry_index;
      // Woken early only by the client leaving (a stale wake just loops).
      for (uint64_t until = now + *delay; !c.client_gone && c.h.shard().now_ns() < until;) {
        co_await c.alarm.wait_until(until);
      }
      if (!here) break;
    }
  }
  co_return c.client_gone ? false : refuse(c, refused);
}

void finish_winner(call_state& c, bool keep_connection, bool upstream_failed) {
  lease& l = c.winner;
  if (upstream_failed && l.endpoint && l.permit) {
    // The stream broke after a good head: one more failure for the endpoint's circuit.
    resilience::permit p{resilience::permit::normal, l.permit.generation};
    note_transition(c, l, l.endpoint->state->breaker.on_failure(p, c.h.shard().now_ns()));
  }
  if (c.conn) {
    c.h.pool_for(*c.endpoint)
        .release(c.conn, keep_connection ? upstream::reuse::keep : upstream::reuse::close);
    c.conn = nullptr;
  }
  release(c, l);
}

}  // namespace rg::gateway
