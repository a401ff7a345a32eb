// Upstream attempts. attempt.cpp: one attempt on one leased endpoint — the request spliced for
// its target, a pooled connection (replaced once, invisibly, when a reused one turns out
// stale), the request sent and the response head read. failover.cpp: the sequence of attempts
// around it — endpoint selection, concurrency limits and their wait queue, circuit verdicts,
// retries with backoff, fallback models, hedging. Neither answers the client except through
// the outcome it leaves in call_state.
#pragma once

#include <ringgate/runtime/task.hpp>

#include "call.hpp"

namespace rg::gateway {

// Runs one attempt on a.l (already leased). Leaves the outcome in `a`; on `answered`, a.conn
// holds the connection positioned after the response head and a.meta describes it.
runtime::task<void> run_attempt(call_state& c, attempt_slot& a);

// Every attempt the request gets. True: c.conn / c.meta / c.winner hold an upstream answer to
// relay. False: an error answer was written (or the client is gone).
runtime::task<bool> run_attempts(call_state& c);

// After the relay: the winner's circuit verdict for a failure mid-stream, its slots given back,
// its connection pooled or closed.
void finish_winner(call_state& c, bool keep_connection, bool upstream_failed);

// Cancels every running attempt (the client went away).
void cancel_attempts(call_state& c) noexcept;

}  // namespace rg::gateway
