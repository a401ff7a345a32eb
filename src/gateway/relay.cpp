// Zero-copy SSE relay. Upstream bytes arrive in provided buffers that the stream hands over
// unchanged (hold mode); the relay decodes the upstream framing and finds event boundaries in
// place, then sends complete events to the client straight from those buffers, framed as one
// HTTP chunk per send through iovecs. A buffer returns to the ring once every byte of it that
// the client needs has been sent. Only an event that spans buffers and must be inspected (usage,
// [DONE]) is copied, into a small scratch. A TLS upstream cannot be relayed zero-copy (its
// plaintext exists only after decryption): its bytes are copied into pooled blocks instead.
// Every byte taken in is counted by path (ringgate_stream_relay_bytes_total): zero_copy (the
// events that came with the response head too: exchange_head parses it in the buffer), or
// copied (those read with a head that spanned buffers, and TLS plaintext).
// Failure semantics (DESIGN §5): the client never sees half an event; a failed stream ends with
// an error event, no [DONE], and an unterminated chunked body, and the connection closes.
// Stream metrics (chunks, bytes, gaps, time to first token) are recorded at the shard's cached
// time: no clock read, syscall or allocation per chunk, and nothing at all when metrics are off.
#include <cerrno>
#include <cstring>
#include <new>
#include <utility>

#include <ringgate/http/response.hpp>
#include <ringgate/http/sse.hpp>
#include <ringgate/json/writer.hpp>
#include <ringgate/runtime/clock.hpp>
#include <ringgate/runtime/bytes.hpp>
#include <ringgate/runtime/log.hpp>

#include "call.hpp"

namespace rg::gateway {
namespace {

using net::read_status;
using runtime::ms_to_ns;

constexpr size_t held_max = 64;         // buffers held at once (an event may span them)
constexpr size_t iov_max = 256;         // iovecs per send
constexpr size_t event_line_max = 512 * 1024;
constexpr size_t gather_min_pieces = 6;  // iovecs in one send from which they are gathered

// Where the `"usage":null}` that ends an event's data starts (line endings aside), or npos. Once
// include_usage is on, OpenAI's chunks (and the compatible servers') end with it, so most events
// are settled from their last bytes instead of searched whole. Only a root member can be last on
// the line: a nested one leaves more closing braces after it, and inside a string its quotes
// would be escaped.
size_t trailing_null_usage(std::string_view text) noexcept {
  constexpr std::string_view tail = "\"usage\":null}";
  size_t end = text.size();
  if (end >= 2 && text[end - 1] == '\n' && text[end - 2] == '\n') end -= 2;  // the usual ending
  while (end > 0 && (text[end - 1] == '\n' || text[end - 1] == '\r')) --end;
  if (end < tail.size() || text.substr(end - tail.size(), tail.size()) != tail) {
    return std::string_view::npos;
  }
  return end - tail.size();
}

struct held_entry {
  int32_t bid;  // -1: bytes left in the connection's input block after the head, or a copy
  uint32_t len;
  char* copy = nullptr;  // secure upstreams: decrypted bytes copied out of the input block
};

class relay {
 public:
  explicit relay(call_state& c) noexcept
      : _c(c),
        _sse(event_line_max),
        _metrics(c.h.metrics()),
        _provider(uint32_t(c.winner.provider - c.h.routes().providers().data())) {}

  runtime::task<bool> run();

 private:
  // Feeds one received segment through framing decode and event scanning.
  bool process(std::string_view bytes) noexcept;
  bool scan(std::string_view data) noexcept;
  bool resume() noexcept;
  bool out_full() const noexcept { return _out_count + 2 * std::size(_event) + 2 > iov_max; }
  bool has_rest() const noexcept { return !_rest_data.empty() || !_rest_bytes.empty(); }
  void finish_event() noexcept;
  void note_chunk(std::string_view text) noexcept;
  void settle_chunk_metrics() noexcept;
  void end_body() noexcept;
  bool add_piece(std::string_view p) noexcept;
  // An event's bytes to send, by reference; joined to the piece before when they are adjacent
  // (the end of an event after a cut and the start of the next one): half the iovecs of a burst.
  void emit(std::string_view p) noexcept {
    if (p.empty()) return;
    _out_bytes += p.size();
    if (_out_count > 0) {
      iovec& last = _out[_out_count];
      if (static_cast<const char*>(last.iov_base) + last.iov_len == p.data()) {
        last.iov_len += p.size();
        return;
      }
    }
    _out[1 + _out_count++] = {const_cast<char*>(p.data()), p.size()};
  }
  runtime::task<bool> flush(std::string_view trailer);
  void recycle_sent() noexcept;
  bool next_segment(held_entry& e, std::string_view& bytes);
  bool segment_ready() const noexcept;
  void fail(std::string_view message) noexcept;
  void account(gateway_metrics::relay_path path, uint64_t bytes) noexcept {
    if (_metrics) _metrics->stream_relayed(_c.h.shard().id(), path, bytes);
  }
  runtime::task<bool> send_error_event();

  call_state& _c;
  http::body_decoder _dec;
  http::sse_scanner _sse;
  held_entry _held[held_max];
  size_t _held_count = 0;
  size_t _leftover = 0;
  // Pieces of the event being scanned (not yet complete), and of events ready to send.
  std::string_view _event[64];
  size_t _event_count = 0;
  size_t _event_first_held = 0;  // held index where the pending event began
  bool _event_overflow = false;
  // _out[0] is reserved for the chunk header; pieces follow; two slots spare for the trailers.
  iovec _out[iov_max + 3];
  size_t _out_count = 0;  // pieces, from _out[1]
  size_t _out_bytes = 0;
  std::string_view _rest_data;   // decoded payload not yet scanned
  std::string_view _rest_bytes;  // raw upstream bytes not yet decoded
  bool _done_seen = false;
  bool _body_done = false;
  bool _failed = false;
  bool _extra_bytes = false;
  std::string_view _fail_message;
  char _chunk_head[24];
  gateway_metrics* _metrics;  // null: metrics off
  uint32_t _provider;
  uint64_t _last_chunk_ns = 0;
  uint64_t _chunks_pending = 0;  // counted in this loop turn, not yet added to the shard's block
  bool _content_seen = false;
};

bool relay::add_piece(std::string_view p) noexcept {
  if (p.empty()) return true;
  if (_event_count > 0) {
    std::string_view& last = _event[_event_count - 1];
    if (last.data() + last.size() == p.data()) {  // contiguous: extend
      last = std::string_view(last.data(), last.size() + p.size());
      return true;
    }
  }
  if (_event_count == std::size(_event)) {
    _event_overflow = true;
    return false;
  }
  if (_event_count == 0) _event_first_held = _held_count == 0 ? 0 : _held_count - 1;
  _event[_event_count++] = p;
  return true;
}

void relay::finish_event() noexcept {
  static constexpr std::string_view usage_key = "\"usage\":";
  size_t null_usage_len = 0;
  std::string_view text;
  if (_event_count == 1) {
    text = _event[0];
  } else if (!_event_overflow) {
    size_t total = 0;
    for (size_t i = 0; i < _event_count; ++i) total += _event[i].size();
    std::span<char> scratch = _c.h.event_scratch();
    if (total <= scratch.size()) {
      size_t off = 0;
      for (size_t i = 0; i < _event_count; ++i) {
        std::memcpy(scratch.data() + off, _event[i].data(), _event[i].size());
        off += _event[i].size();
      }
      text = std::string_view(scratch.data(), off);
    }
  }
  bool drop = false;
  bool chunk = _sse.event_has_data();             // a data event other than [DONE]
  size_t null_usage_at = std::string_view::npos;  // `,"usage":null` to cut when we injected it
  if (size_t last = trailing_null_usage(text); last != std::string_view::npos) {
    // Most events: not [DONE] (which ends otherwise), no usage object. The cut as below, found
    // from the end.
    if (_c.injected_usage && last > 0 && text[last - 1] == ',') {
      null_usage_at = last - 1;
      null_usage_len = 1 + usage_key.size() + 4;
    }
  } else if (http::sse_is_done(text)) {
    _done_seen = true;
    chunk = false;
  } else if (size_t at = runtime::find_bytes(text, usage_key); at != std::string_view::npos) {
    size_t v = at + usage_key.size();
    while (v < text.size() && (text[v] == ' ' || text[v] == '\t')) ++v;
    if (v < text.size() && text[v] == '{') {
      // Only the final chunk carries a usage object: parse that one, and only that one.
      std::string_view data = http::sse_first_data(text);
      if (auto u = json::extract_usage_openai(data, _c.h.json_scratch()); u && u->present()) {
        _c.usage = *u;
        drop = _c.injected_usage;  // the client did not ask for it: strip it
      }
    } else if (_c.injected_usage && at > 0 && text[at - 1] == ',' &&
               text.substr(v, 4) == "null") {
      // OpenAI adds "usage":null to every chunk once include_usage is on; the client did not
      // ask, so it sees the chunks it would have seen without it (two iovecs, no copy).
      null_usage_at = at - 1;
      null_usage_len = v + 4 - null_usage_at;
    }
  }
  if (!drop) {
    // Emit the event's pieces, leaving out [cut_begin, cut_end) of the event's text (the same
    // offsets whether the text is one piece or was copied together from several).
    size_t cut_begin = null_usage_at == std::string_view::npos ? SIZE_MAX : null_usage_at;
    size_t cut_end = cut_begin == SIZE_MAX ? SIZE_MAX : cut_begin + null_usage_len;
    if (_event_count == 1) {  // the usual event, in one piece: one iovec, or two around the cut
      const std::string_view piece = _event[0];
      if (cut_begin == SIZE_MAX) {
        emit(piece);
      } else {
        emit(piece.substr(0, cut_begin));
        emit(piece.substr(cut_end));
      }
    }
    for (size_t i = 0, off = 0; i < _event_count && _event_count > 1; ++i) {
      const std::string_view piece = _event[i];
      const size_t p_begin = off, p_end = off + piece.size();
      off = p_end;
      if (cut_end <= p_begin || cut_begin >= p_end) {
        emit(piece);
      } else {  // piece-relative
        emit(piece.substr(0, cut_begin > p_begin ? cut_begin - p_begin : 0));
        emit(piece.substr(cut_end < p_end ? cut_end - p_begin : piece.size()));
      }
    }
    if (chunk) {
      note_chunk(text);
      ++_c.gov.events;  // billed when the upstream reports no usage (govern.cpp)
    }
  }
  _event_count = 0;
  _event_overflow = false;
}

// Counts a relayed chunk and, for the first chunk that carries content, observes the time to
// first token (from the start of the request). The count and the gaps between chunks are added
// to the shard's block per send (settle_chunk_metrics): per chunk only a count, which took
// metrics from ~14 to ~4 instructions a chunk (callgrind, 64-chunk streams).
void relay::note_chunk(std::string_view text) noexcept {
  if (!_metrics) return;
  ++_chunks_pending;
  if (!_content_seen && json::openai_chunk_has_output(text)) {
    _content_seen = true;
    const uint64_t now = _c.h.shard().now_ns();
    _metrics->stream_first_token(_c.h.shard().id(), _provider, now - _c.started_ns);
  }
}

// The chunks counted since the last send all came in this loop turn: they are counted only by
// process() and end_body(), which run before the flush() that settles them without a
// suspension in between, so they share the turn's time. The first of them is the gap to the
// chunk before it (none for a stream's first chunk, 0 when that one came in this turn too), the
// others a gap of 0 each, as a clock read per chunk would have found them.
void relay::settle_chunk_metrics() noexcept {
  if (_chunks_pending == 0) return;
  const uint64_t now = _c.h.shard().now_ns();
  uint64_t zero_gaps = _chunks_pending;
  if (_last_chunk_ns != now) {
    --zero_gaps;
    if (_last_chunk_ns) _metrics->stream_gap(_c.h.shard().id(), _provider, now - _last_chunk_ns);
  }
  _last_chunk_ns = now;
  _metrics->stream_chunks(_c.h.shard().id(), _provider, _chunks_pending, zero_gaps);
  _chunks_pending = 0;
}

bool relay::scan(std::string_view data) noexcept {
  while (!data.empty()) {
    http::sse_step st = _sse.step(data);
    if (st.error.status != 0) {
      fail("upstream sent an oversized stream event");
      return false;
    }
    if (!add_piece(data.substr(0, st.consumed)) && !st.event_end) {
      fail("upstream stream event too fragmented");
      return false;
    }
    data.remove_prefix(st.consumed);
    if (st.event_end) finish_event();
    if (out_full() && !data.empty()) {
      _rest_data = data;  // resumed after the next flush
      return true;
    }
  }
  return true;
}

// The upstream body is complete: an event whose blank line ended in a lone CR ends here.
void relay::end_body() noexcept {
  if (_body_done) return;
  _body_done = true;
  if (_sse.finish_eof().event_end) finish_event();
}

// Stops early (saving the rest in _rest_data / _rest_bytes, still inside the last held buffer)
// when the iovec array is nearly full; resume() continues after the flush.
bool relay::process(std::string_view bytes) noexcept {
  while (!bytes.empty() && !_body_done) {
    if (out_full()) {
      _rest_bytes = bytes;
      return true;
    }
    http::body_step st = _dec.step(bytes);
    if (st.error.status != 0) {
      fail("upstream sent an invalid chunked stream");
      return false;
    }
    bytes.remove_prefix(st.consumed);
    if (!st.data.empty() && !scan(st.data)) return false;
    if (!_rest_data.empty()) {
      _rest_bytes = bytes;
      return true;
    }
    if (_dec.done()) end_body();
    if (st.consumed == 0) break;
  }
  if (_body_done && !bytes.empty()) _extra_bytes = true;  // never pool such a connection
  return true;
}

// Continues a segment that process() left unfinished. True when nothing is left of it.
bool relay::resume() noexcept {
  if (!_rest_data.empty()) {
    std::string_view d = std::exchange(_rest_data, {});
    if (!scan(d)) return true;
    if (!_rest_data.empty()) return false;
    if (_dec.done()) end_body();
  }
  if (!_rest_bytes.empty()) {
    std::string_view b = std::exchange(_rest_bytes, {});
    if (!process(b)) return true;
  }
  return _rest_data.empty() && _rest_bytes.empty();
}

void relay::fail(std::string_view message) noexcept {
  if (_failed) return;
  _failed = true;
  _fail_message = message;
}

runtime::task<bool> relay::flush(std::string_view trailer) {
  settle_chunk_metrics();
  bool http10 = _c.ex.head().ver == http::version::http10;
  if (_out_bytes == 0 && trailer.empty()) co_return true;
  size_t first = 1;
  size_t end = 1 + _out_count;
  if (_out_bytes > 0 && !http10) {
    _out[0] = {_chunk_head, http::chunk_header(_out_bytes, _chunk_head)};
    first = 0;
    _out[end++] = {const_cast<char*>(http::chunk_trailer.data()), http::chunk_trailer.size()};
  }
  if (!trailer.empty() && !http10) _out[end++] = {const_cast<char*>(trailer.data()), trailer.size()};
  if (_metrics && _out_bytes) _metrics->stream_bytes(_c.h.shard().id(), _provider, _out_bytes);
  _out_count = 0;
  _out_bytes = 0;
  std::span<iovec> out(_out + first, end - first);
  // Many small pieces (a burst of events, two pieces each when a usage null is cut out) are
  // gathered into one pooled block first: the kernel's per-segment cost in copying an iovec array
  // was 8.4 µs per 64-chunk stream, against 1.8 µs for nginx's one buffer (perf), while this copy
  // of cache-hot bytes is a fraction of that. A few pieces (paced streams) go as they are.
  char* gathered = nullptr;
  iovec one{};
  if (out.size() >= gather_min_pieces) {
    size_t total = 0;
    for (const iovec& v : out) total += v.iov_len;
    auto& blocks = _c.h.body_blocks();
    if (total <= blocks.block_bytes()) {
      try {
        gathered = blocks.get();
      } catch (const std::bad_alloc&) {
        gathered = nullptr;  // send the pieces as they are
      }
    }
    if (gathered) {
      size_t off = 0;
      for (const iovec& v : out) {
        std::memcpy(gathered + off, v.iov_base, v.iov_len);
        off += v.iov_len;
      }
      one = {gathered, off};
      out = std::span<iovec>(&one, 1);
    }
  }
  int rc = co_await _c.ex.send(out);
  if (gathered) _c.h.body_blocks().put(gathered);
  if (rc < 0) {
    _c.client_gone = true;
    proxy_counters::bump(_c.h.counters().client_disconnects);
    co_return false;
  }
  co_return true;
}

// Gives back every held buffer the pending (incomplete) event does not still reference.
void relay::recycle_sent() noexcept {
  size_t keep_from = _event_count > 0 ? _event_first_held : _held_count;
  if (has_rest() && _held_count > 0) keep_from = std::min(keep_from, _held_count - 1);
  for (size_t i = 0; i < keep_from; ++i) {
    if (_held[i].bid >= 0) _c.conn->io.recycle(uint16_t(_held[i].bid));
    if (_held[i].copy) _c.h.body_blocks().put(_held[i].copy);
  }
  std::memmove(_held, _held + keep_from, (_held_count - keep_from) * sizeof(held_entry));
  _held_count -= keep_from;
  _event_first_held = 0;
}

// The next received segment. Plaintext upstreams hand over provided buffers (zero-copy); a
// secure stream's plaintext exists only in its input block, which later reads compact, so it is
// copied out into a pooled block that lives until the events in it were sent.
bool relay::next_segment(held_entry& e, std::string_view& bytes) {
  auto& io = _c.conn->io;
  if (!io.secure()) {
    net::stream::rx_buffer b;
    if (!io.pop_buffer(b)) return false;
    e = {int32_t(b.bid), b.len};
    bytes = std::string_view(b.data, b.len);
    account(gateway_metrics::relay_path::zero_copy, b.len);
    return true;
  }
  std::string_view in = io.input();
  if (in.empty()) return false;
  auto& blocks = _c.h.body_blocks();
  char* copy = blocks.get();
  size_t n = std::min(in.size(), blocks.block_bytes());
  std::memcpy(copy, in.data(), n);
  io.consume(n);
  e = {-1, uint32_t(n), copy};
  bytes = std::string_view(copy, n);
  account(gateway_metrics::relay_path::copied, n);
  return true;
}

bool relay::segment_ready() const noexcept {
  auto& io = _c.conn->io;
  return io.secure() ? !io.input().empty() : io.buffers_queued() > 0;
}

runtime::task<bool> relay::send_error_event() {
  char body[512];
  size_t n = http::openai_error_body(std::span<char>(body), _fail_message, "upstream_error",
                                     "upstream_stream_error");
  char event[640];
  int len = snprintf(event, sizeof(event), "data: %.*s\n\n", int(n), body);
  _out[1] = {event, size_t(len)};
  _out_count = 1;
  _out_bytes = size_t(len);
  co_return co_await flush({});
}

runtime::task<bool> relay::run() {
  auto& io = _c.conn->io;
  const auto& opts = _c.upstream_options();
  proxy_counters::bump(_c.h.counters().streams);
  _dec.start(_c.meta.body, _c.meta.content_length, UINT64_MAX);

  // The client's head: chunked (or close-delimited for HTTP/1.0), sent at once.
  bool http10 = _c.ex.head().ver == http::version::http10;
  if (http10) _c.ex.force_close();
  char extra[256];
  std::string_view lines =
      response_header_lines(_c, extra, sizeof(extra), "cache-control: no-cache\r\n");
  _c.ex.out().head(200, "text/event-stream", http10 ? std::optional<uint64_t>(0) : std::nullopt,
                   _c.ex.mode(), _c.ex.head().ver, lines);
  if (http10) {
    // HTTP/1.0 has no chunked coding: the body ends when the connection closes.
    _c.ex.out().clear();
    _c.ex.out().raw("HTTP/1.0 200 OK\r\ncontent-type: text/event-stream\r\n");
    _c.ex.out().raw(lines);
    _c.ex.out().raw("\r\n");
  }
  int flushed = co_await _c.ex.flush();
  if (flushed != 0) {
    _c.client_gone = true;
    co_return false;
  }

  // Bytes that arrived with a head read in copy mode (one that spanned receive buffers) sit in
  // the input block; process them in place first (a secure stream's are copied out like
  // everything it receives). A head parsed in its buffer left the stream in hold mode already.
  if (!io.secure()) {
    _leftover = io.input().size();
    if (_leftover > 0) {
      account(gateway_metrics::relay_path::copied, _leftover);
      _held[_held_count++] = {-1, uint32_t(_leftover)};
      process(io.input());
    }
    io.set_rx_mode(net::stream::rx_mode::hold);
  }
  for (;;) {
    held_entry e;
    std::string_view bytes;
    bool drained = resume();
    while (drained && !_failed && !_body_done && _held_count < held_max && next_segment(e, bytes)) {
      _held[_held_count++] = e;
      process(bytes);
      if (has_rest()) break;
    }
    if (_held_count == held_max && _event_count > 0) fail("upstream stream event too large");
    if (_failed) break;
    std::string_view trailer = _body_done && _done_seen ? http::last_chunk : std::string_view{};
    bool sent = co_await flush(trailer);
    if (!sent) break;
    recycle_sent();
    if (_body_done && !has_rest()) break;
    if (segment_ready() || has_rest()) continue;
    uint64_t deadline =
        std::min(_c.total_deadline_ns, _c.h.shard().now_ns() + ms_to_ns(opts.idle_timeout_ms));
    read_status rs = co_await io.read_more(deadline);
    if (rs == read_status::data) continue;
    if (_c.client_gone || rs == read_status::cancelled) break;
    if (rs == read_status::eof) {
      if (_dec.finish_eof().done) {
        end_body();
        continue;
      }
      fail("upstream closed the stream before it ended");
    } else if (rs == read_status::timeout) {
      fail(_c.h.shard().now_ns() >= _c.total_deadline_ns ? "upstream exceeded the total timeout"
                                                         : "upstream stream stalled");
    } else {
      fail("upstream connection failed mid-stream");
    }
    break;
  }
  if (!_failed && !_c.client_gone && _body_done && !_done_seen) {
    fail("upstream ended the stream without its terminator");
  }
  if (_failed && !_c.client_gone) {
    _c.error_code = "upstream_stream_failed";
    proxy_counters::bump(_c.h.counters().stream_failures);
    log::warn("upstream stream failed", {{"provider", _c.provider_name()},
                                         {"error", _fail_message},
                                         {"request_id", _c.request_id_view()}});
    _out_count = 0;  // complete events already queued are dropped with the failure
    _out_bytes = 0;
    co_await send_error_event();
  }
  if (_failed || _c.client_gone) _c.ex.force_close();
  settle_chunk_metrics();
  // Release everything we still hold.
  _rest_data = {};
  _rest_bytes = {};
  _event_count = 0;
  _event_first_held = 0;
  recycle_sent();
  net::stream::rx_buffer b;
  while (io.pop_buffer(b)) io.recycle(b.bid);
  io.consume(_leftover);
  co_return !_failed && !_c.client_gone && _body_done && !_extra_bytes;
}

}  // namespace

runtime::task<bool> relay_stream(call_state& c) {
  relay r(c);
  co_return co_await r.run();
}

}  // namespace rg::gateway
