#include "worker.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <strings.h>

#include <algorithm>
#include <cerrno>
#include <coroutine>
#include <memory>
#include <utility>
#include <vector>

#include <ringgate/http/request.hpp>
#include <ringgate/http/response_parser.hpp>
#include <ringgate/http/sse.hpp>
#include <ringgate/net/socket.hpp>
#include <ringgate/net/stream.hpp>
#include <ringgate/runtime/block_pool.hpp>
#include <ringgate/runtime/clock.hpp>
#include <ringgate/runtime/io_call.hpp>
#include <ringgate/runtime/shard.hpp>
#include <ringgate/runtime/task.hpp>

namespace rg::loadgen {

std::string build_request(const options& o) {
  std::string r;
  r.reserve(256 + o.body.size());
  r += o.method;
  r += ' ';
  r += o.url.path;
  r += " HTTP/1.1\r\nHost: ";
  r += o.url.host;
  r += "\r\n";
  bool has_accept = false;
  for (const auto& h : o.headers) {
    r += h;
    r += "\r\n";
    if (h.size() >= 7 && strncasecmp(h.data(), "accept:", 7) == 0) has_accept = true;
  }
  if (o.stream && !has_accept) r += "Accept: text/event-stream\r\n";
  if (o.body_given || o.method == "POST" || o.method == "PUT" || o.method == "PATCH") {
    r += "Content-Length: ";
    r += std::to_string(o.body.size());
    r += "\r\n";
  }
  r += "\r\n";
  r += o.body;
  return r;
}

namespace {

using runtime::task;

constexpr size_t input_block_bytes = 64 * 1024;      // a response head must fit in one block
constexpr size_t event_text_max = 64 * 1024;         // SSE event text kept to classify it
constexpr uint64_t reconnect_pause_ns = 10'000'000;  // after a failed connect

uint64_t us(uint64_t ns) noexcept {
  return ns / 1000;
}

struct worker;

struct conn {
  worker* w = nullptr;
  uint32_t index = 0;        // global connection index
  net::stream* s = nullptr;  // while connected
  runtime::io_call* connecting = nullptr;
  runtime::timer wait_timer;
  std::coroutine_handle<> waiter;
  uint64_t next_send_ns = 0;  // open loop: intended time of the next request
  bool finished = false;      // no more requests for this connection
  bool sent_one = false;      // --hold
  std::string event_text;     // the SSE event being received
};

struct worker {
  plan& p;
  const options& o;
  runtime::shard& shard;
  results& r;
  runtime::block_pool pool{input_block_bytes};
  http::response_limits limits;
  std::vector<std::unique_ptr<conn>> conns;
  uint32_t live = 0;
  bool stopping = false;
  uint64_t interval_ns = 0;  // open loop, per connection
  runtime::timer end_timer;

  worker(plan& pl, runtime::shard& s, results& out) : p(pl), o(*pl.opts), shard(s), r(out) {
    limits.body_bytes_max = uint64_t{1} << 40;
  }

  bool measuring(uint64_t t) const noexcept { return t >= p.measure_ns; }

  void count_error(error_kind k) noexcept {
    if (!stopping && measuring(runtime::monotonic_ns())) r.count_error(k);
  }

  void stop_all() noexcept {
    if (stopping) return;
    stopping = true;
    for (auto& c : conns) {
      if (c->connecting) c->connecting->cancel();
      if (c->s) c->s->abort();
      if (auto h = std::exchange(c->waiter, {})) {
        shard.timers().cancel(c->wait_timer);
        h.resume();
      }
    }
  }
};

// Suspends until `deadline_ns`, or until the run stops.
struct wait_until {
  conn& c;
  uint64_t deadline_ns;
  bool await_ready() const noexcept {
    return c.w->stopping || deadline_ns <= runtime::monotonic_ns();
  }
  void await_suspend(std::coroutine_handle<> h) noexcept {
    c.waiter = h;
    c.wait_timer.set_callback(&wait_until::fire, &c);
    c.w->shard.timers().arm(c.wait_timer, deadline_ns);
  }
  void await_resume() const noexcept {}
  static void fire(runtime::timer&, void* ctx) noexcept {
    auto* c = static_cast<conn*>(ctx);
    if (auto h = std::exchange(c->waiter, {})) h.resume();
  }
};

struct in_flight {
  uint64_t intended_ns = 0;  // latency is measured from here (the send time in a closed loop)
  bool measured = false;
};

// Whether `data` (one SSE event's data) carries generated content: a non-empty "content",
// "text" or "partial_json" string (OpenAI deltas; Anthropic text and tool-input deltas).
bool has_content(std::string_view d) noexcept {
  for (std::string_view key : {"\"content\":", "\"text\":", "\"partial_json\":"}) {
    size_t from = 0;
    while (true) {
      size_t pos = d.find(key, from);
      if (pos == std::string_view::npos) break;
      size_t i = pos + key.size();
      while (i < d.size() && (d[i] == ' ' || d[i] == '\t')) ++i;
      if (i + 1 < d.size() && d[i] == '"' && d[i + 1] != '"') return true;
      from = pos + 1;
    }
  }
  return false;
}

// Per answer: what the SSE scanner has seen so far.
struct stream_answer {
  http::sse_scanner scanner;
  bool active = false;  // a 2xx answer to a --stream run
  bool saw_terminator = false;
  bool saw_content = false;
  bool failed = false;  // oversized line
  uint64_t last_event_ns = 0;
  uint64_t chunks = 0;
};

void on_event(worker& w, conn& c, stream_answer& sa, const in_flight& f, uint64_t now) {
  if (!sa.scanner.event_has_data()) return;
  std::string_view ev = c.event_text;
  if (http::sse_is_done(ev) || http::sse_event_name(ev) == "message_stop") {
    sa.saw_terminator = true;
    return;
  }
  ++sa.chunks;
  if (!f.measured) return;
  if (sa.last_event_ns) w.r.stream.gap.record(us(now - sa.last_event_ns));
  sa.last_event_ns = now;
  if (!sa.saw_content && has_content(http::sse_first_data(ev))) {
    sa.saw_content = true;
    w.r.stream.ttft.record(us(now - f.intended_ns));
  }
}

void feed_sse(worker& w, conn& c, stream_answer& sa, const in_flight& f, std::string_view data,
              uint64_t now) {
  while (!data.empty() && !sa.failed) {
    http::sse_step st = sa.scanner.step(data);
    if (st.error.status) {
      sa.failed = true;
      return;
    }
    if (c.event_text.size() < event_text_max) {
      c.event_text.append(data.substr(0, std::min(st.consumed, event_text_max)));
    }
    data.remove_prefix(st.consumed);
    if (st.event_end) {
      on_event(w, c, sa, f, now);
      c.event_text.clear();
    } else if (st.consumed == 0) {
      break;
    }
  }
}

enum class outcome : uint8_t { keep, close, error, stopped };

outcome read_status_outcome(worker& w, net::read_status st, error_kind on_eof) {
  switch (st) {
    case net::read_status::data:
      return outcome::keep;
    case net::read_status::eof:
      w.count_error(on_eof);
      return outcome::error;
    case net::read_status::timeout:
      w.count_error(error_kind::timeout);
      return outcome::error;
    case net::read_status::cancelled:
      return outcome::stopped;
    case net::read_status::error:
      w.count_error(error_kind::reset);
      return outcome::error;
    case net::read_status::full:
      w.count_error(error_kind::parse);
      return outcome::error;
  }
  return outcome::error;
}

// Reads one whole answer for `f` from `s` and records it.
task<outcome> read_answer(worker& w, conn& c, net::stream& s, const in_flight& f) {
  const uint64_t deadline = f.intended_ns + runtime::ms_to_ns(w.o.timeout_ms);
  http::response_parser parser(w.limits);
  http::response_head head;
  uint64_t first_byte_ns = 0;
  uint64_t bytes = 0;
  while (true) {
    if (!s.input().empty() && !first_byte_ns) first_byte_ns = runtime::monotonic_ns();
    http::head_result hr = parser.parse(s.input(), head, http::request_kind::normal);
    if (hr.status == http::parse_status::complete) {
      bytes += hr.head_bytes;
      s.consume(hr.head_bytes);
      if (!head.interim()) break;
      parser.reset();
      continue;
    }
    if (hr.status == http::parse_status::error) {
      w.count_error(error_kind::parse);
      co_return outcome::error;
    }
    net::read_status st = co_await s.read_more(deadline);
    if (st != net::read_status::data) co_return read_status_outcome(w, st, error_kind::closed);
  }
  const uint16_t status = head.status;
  const bool keep_alive = head.keep_alive;
  stream_answer sa;
  sa.active = w.o.stream && status >= 200 && status < 300;
  c.event_text.clear();

  http::body_decoder body;
  body.start(head.body, head.content_length, w.limits.body_bytes_max, http::body_origin::upstream);
  bool done = head.body == http::body_kind::none;
  bool eof = false;
  while (!done) {
    const uint64_t now = runtime::monotonic_ns();
    while (!s.input().empty() && !done) {
      http::body_step step = body.step(s.input());
      if (step.error.status) {
        w.count_error(error_kind::parse);
        done = false;
        break;
      }
      if (sa.active && !step.data.empty()) feed_sse(w, c, sa, f, step.data, now);
      bytes += step.consumed;
      s.consume(step.consumed);
      done = step.done;
      if (step.consumed == 0 && !done) break;
    }
    if (done) break;
    if (body.done()) {
      done = true;
      break;
    }
    if (eof) {
      http::body_step step = body.finish_eof();
      if (step.done) {
        done = true;
        break;
      }
      w.count_error(error_kind::closed);
      break;
    }
    net::read_status st = co_await s.read_more(deadline);
    if (st == net::read_status::eof) {
      eof = true;
      continue;
    }
    if (st != net::read_status::data) {
      outcome o = read_status_outcome(w, st, error_kind::closed);
      if (sa.active && f.measured && o == outcome::error) {
        ++w.r.stream.responses;
        ++w.r.stream.truncated;
      }
      co_return o;
    }
  }
  const uint64_t end_ns = runtime::monotonic_ns();
  if (!done) {
    if (sa.active && f.measured) {
      ++w.r.stream.responses;
      ++w.r.stream.truncated;
    }
    co_return outcome::error;
  }
  if (sa.active) {
    if (auto st = sa.scanner.finish_eof(); st.event_end) on_event(w, c, sa, f, end_ns);
  }
  if (f.measured && !w.stopping) {
    results& r = w.r;
    ++r.requests;
    ++r.status[status];
    if (w.o.expect_status && status != w.o.expect_status) ++r.mismatches;
    r.bytes_in += bytes;
    r.bytes_out += w.p.request.size();
    r.latency.record(us(end_ns - f.intended_ns));
    r.last_ns = std::max(r.last_ns, end_ns);
    if (!r.first_ns || f.intended_ns < r.first_ns) r.first_ns = f.intended_ns;
    if (sa.active) {
      ++r.stream.responses;
      r.stream.chunks += sa.chunks;
      r.stream.bytes += body.decoded_bytes();
      if (!sa.saw_terminator || sa.failed) ++r.stream.truncated;
      if (first_byte_ns) r.stream.ttfb.record(us(first_byte_ns - f.intended_ns));
    }
  }
  co_return (keep_alive && !eof) ? outcome::keep : outcome::close;
}

// Claims the next request: false when the run (or this connection) has no more to send.
bool claim(worker& w, conn& c, in_flight& f, uint64_t intended_ns) {
  if (w.stopping || c.finished) return false;
  if (w.o.hold && c.sent_one) return false;
  f.intended_ns = intended_ns;
  f.measured = w.measuring(intended_ns);
  if (f.measured && intended_ns >= w.p.end_ns) return false;
  if (f.measured && w.o.requests &&
      w.p.claimed.fetch_add(1, std::memory_order_relaxed) >= w.o.requests) {
    c.finished = true;
    return false;
  }
  c.sent_one = true;
  return true;
}

// One connection's life: requests until an error, a close, or the end of the run.
task<void> session(worker& w, conn& c, net::stream& s) {
  const uint32_t depth = w.o.pipeline;
  in_flight ring[256];
  uint32_t head = 0, count = 0;
  while (true) {
    while (count < depth) {
      uint64_t intended = runtime::monotonic_ns();
      if (w.o.rate > 0) {
        if (c.next_send_ns > intended) co_await wait_until{c, c.next_send_ns};
        if (w.stopping) co_return;
        intended = c.next_send_ns;
        c.next_send_ns += w.interval_ns;
      }
      in_flight& f = ring[(head + count) % 256];
      if (!claim(w, c, f, intended)) break;
      int rc = co_await s.send_all(w.p.request, f.intended_ns + runtime::ms_to_ns(w.o.timeout_ms));
      if (rc != 0) {
        if (rc == -ECANCELED && w.stopping) co_return;
        w.count_error(rc == -ETIMEDOUT ? error_kind::timeout : error_kind::reset);
        co_return;
      }
      ++count;
    }
    if (count == 0) break;
    outcome out = co_await read_answer(w, c, s, ring[head % 256]);
    if (out != outcome::keep) co_return;
    head = (head + 1) % 256;
    --count;
  }
  if (w.o.hold && c.sent_one && !w.stopping) {
    s.release_input_if_empty();
    co_await wait_until{c, w.p.end_ns};
  }
}

task<void> run_connection(worker& w, conn& c) {
  const net::address& addr = w.o.url.addr;
  while (!w.stopping && !c.finished && !(w.o.hold && c.sent_one)) {
    int fd = ::socket(addr.storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      w.count_error(error_kind::connect);
      co_await wait_until{c, runtime::monotonic_ns() + reconnect_pause_ns};
      continue;
    }
    net::set_nodelay(fd);
    runtime::io_call call(w.shard);
    io_uring_prep_connect(call.sqe(), fd, addr.sa(), addr.len);
    c.connecting = &call;
    int res;
    {
      runtime::deadline_guard guard(w.shard, call,
                                    w.shard.now_ns() + runtime::ms_to_ns(w.o.timeout_ms));
      res = co_await call;
    }
    c.connecting = nullptr;
    if (res < 0) {
      ::close(fd);
      if (w.stopping) break;
      w.count_error(error_kind::connect);
      co_await wait_until{c, runtime::monotonic_ns() + reconnect_pause_ns};
      continue;
    }
    ++w.r.connects;
    net::stream s(w.shard, w.pool, fd);
    c.s = &s;
    co_await session(w, c, s);
    c.s = nullptr;
    co_await s.close();
    // Every request is handed out: no point in another connection.
    if (w.o.requests && w.p.claimed.load(std::memory_order_relaxed) >= w.o.requests) break;
  }
  if (--w.live == 0) w.shard.stop();
}

void on_end(runtime::timer&, void* ctx) noexcept {
  static_cast<worker*>(ctx)->stop_all();
}

}  // namespace

void run_worker(plan& p, uint32_t index, uint32_t count, results& out) {
  const options& o = *p.opts;
  runtime::shard_options so;
  so.id = index;
  so.cpu = o.cpus.empty() ? -1 : o.cpus[index % o.cpus.size()];
  so.recv_buffers = 512;
  so.sq_entries = 4096;
  so.cq_entries = 16384;
  runtime::shard shard(so);
  worker w(p, shard, out);

  // Connections i, i + count, i + 2·count, ... belong to this worker.
  for (uint32_t i = index; i < o.connections; i += count) {
    auto c = std::make_unique<conn>();
    c->w = &w;
    c->index = i;
    w.conns.push_back(std::move(c));
  }
  if (o.rate > 0) {
    // Each connection sends at rate / connections, the first sends staggered over one interval.
    w.interval_ns = uint64_t(1e9 * double(o.connections) / o.rate);
    for (auto& c : w.conns) {
      c->next_send_ns = p.start_ns + w.interval_ns * c->index / o.connections;
    }
  }
  w.live = uint32_t(w.conns.size());
  if (p.end_ns != UINT64_MAX) {
    w.end_timer.set_callback(&on_end, &w);
    shard.timers().arm(w.end_timer, p.end_ns);
  }
  for (auto& c : w.conns) runtime::spawn(run_connection(w, *c));
  if (w.live) shard.run();
  shard.timers().cancel(w.end_timer);
  p.workers_done.fetch_add(1);
}

}  // namespace rg::loadgen
