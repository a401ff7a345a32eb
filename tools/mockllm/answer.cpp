// The answer drivers (see answer.hpp): they turn a script into bytes on the wire, in as few sends
// as possible when nothing paces them, and stop at the point a fault asks for.
// Every co_await in mockllm is a statement or an initializer, never inside a condition: GCC 12.2
// miscompiles some `if (co_await f(param))` forms (the body never runs, or resumes garbage).
#include <algorithm>

#include "answer.hpp"

namespace rg::mockllm {
namespace {

constexpr size_t head_bytes_max = 1024;

// The size of the data line a content event with `pad` text bytes would have: the prefix from
// its last line start, the text and the suffix up to its first line end.
uint64_t data_line_overhead(const script& s) noexcept {
  std::string_view pre = s.content_prefix;
  if (auto nl = pre.rfind('\n'); nl != std::string_view::npos) pre.remove_prefix(nl + 1);
  std::string_view suf = s.content_suffix;
  if (auto nl = suf.find('\n'); nl != std::string_view::npos) suf = suf.substr(0, nl);
  return pre.size() + suf.size();
}

// One content event carrying the text `f`, straight into the block when it fits whole.
bool try_event(body_writer& w, const script& s, filler f) noexcept {
  if (w.space() < s.content_prefix.size() + f.bytes() + s.content_suffix.size()) return false;
  w.put(s.content_prefix);
  w.try_fill(f);
  w.put(s.content_suffix);
  return true;
}

// The same, sending as often as needed (a large event, or a full block).
runtime::task<int> content_event(body_writer& w, const script& s, filler f) {
  if (int rc = co_await w.put_all(s.content_prefix); rc != 0) co_return rc;
  if (int rc = co_await w.fill_all(f); rc != 0) co_return rc;
  co_return co_await w.put_all(s.content_suffix);
}

// The events a fault puts before the content: a malformed one, or one oversized data line.
runtime::task<int> fault_events(request_ctx& c, const script& s) {
  if (c.p.what == fault::malformed_json) {
    c.st.on_fault(c.shard);
    if (c.w.put(s.malformed)) co_return 0;
    co_return co_await c.w.put_all(s.malformed);
  }
  if (c.p.what == fault::oversized_line) {
    c.st.on_fault(c.shard);
    uint64_t overhead = data_line_overhead(s);
    uint64_t pad = c.p.fault_arg > overhead ? c.p.fault_arg - overhead : 0;
    filler text = filler::repeat(pad);
    if (try_event(c.w, s, text)) co_return 0;
    co_return co_await content_event(c.w, s, text);
  }
  co_return 0;
}

}  // namespace

runtime::task<void> answer_body(request_ctx& c, uint16_t status, std::string_view body,
                                std::string_view extra_headers) {
  char head[head_bytes_max];
  size_t h = render_head(head, sizeof(head), c.ex, status, "application/json", framing::raw,
                         body.size(), extra_headers);
  int rc = h && c.w.put(std::string_view(head, h)) ? 0 : -EINVAL;
  if (rc == 0 && !c.w.put(body)) rc = co_await c.w.put_all(body);
  if (rc == 0) rc = co_await c.w.finish();
  if (rc != 0) c.ex.force_close();
}

runtime::task<void> answer_complete(request_ctx& c, const script& s, filler text) {
  bool go = co_await before_head(c);
  if (!go) co_return;
  if (c.p.what == fault::malformed_json) {
    c.st.on_fault(c.shard);
    co_await answer_body(c, s.status, s.malformed);
    co_return;
  }
  if (c.p.what == fault::oversized_line) {
    c.st.on_fault(c.shard);
    text = filler::repeat(c.p.fault_arg);
  }
  uint64_t length = s.before.size() + text.bytes() + s.after.size();
  char head[head_bytes_max];
  size_t h = render_head(head, sizeof(head), c.ex, s.status, s.content_type, framing::raw, length);
  int rc = h && c.w.put(std::string_view(head, h)) ? 0 : -EINVAL;
  if (rc == 0 && !c.w.put(s.before)) rc = co_await c.w.put_all(s.before);
  if (rc == 0 && cuts_stream(c.p.what)) {
    co_await cut_answer(c);
    co_return;
  }
  if (rc == 0 && !c.w.try_fill(text)) rc = co_await c.w.fill_all(text);
  if (rc == 0 && !c.w.put(s.after)) rc = co_await c.w.put_all(s.after);
  if (rc == 0) rc = co_await c.w.finish();
  if (rc != 0) c.ex.force_close();
}

runtime::task<void> answer_stream(request_ctx& c, const script& s, uint64_t words) {
  bool go = co_await before_head(c);
  if (!go) co_return;
  // HTTP/1.0 has no chunked coding: the stream then ends with the connection.
  framing f = c.ex.head().ver == http::version::http10 ? framing::until_close : framing::chunked;
  if (f == framing::until_close) c.ex.force_close();
  char head[head_bytes_max];
  size_t h = render_head(head, sizeof(head), c.ex, 200, "text/event-stream", f, 0,
                         "cache-control: no-cache\r\n");
  int rc = h && c.w.put(std::string_view(head, h)) ? 0 : -EINVAL;
  c.w.start_body(f);
  if (rc == 0 && !c.w.put(s.before)) rc = co_await c.w.put_all(s.before);
  if (rc == 0) rc = co_await fault_events(c, s);
  const uint64_t chunks = c.p.chunks;
  const uint64_t cut_at = cuts_stream(c.p.what) ? std::min(c.p.fault_arg, chunks) : UINT64_MAX;
  for (uint64_t i = 0; rc == 0 && i <= chunks; ++i) {
    if (i == cut_at) {
      co_await cut_answer(c);
      co_return;
    }
    if (i == chunks) break;
    if (c.p.delay_ms > 0) {
      rc = co_await c.w.flush();
      if (rc != 0) break;
      bool gone = co_await client_gone_within(c.ex, c.p.delay_ms);
      if (gone) {
        c.st.on_abandoned(c.shard);
        rc = -ECONNRESET;
        break;
      }
    }
    filler text = filler::words(i * words / chunks, (i + 1) * words / chunks);
    if (!try_event(c.w, s, text)) rc = co_await content_event(c.w, s, text);
  }
  if (rc == 0 && !c.w.put(s.after)) rc = co_await c.w.put_all(s.after);
  if (rc == 0) rc = co_await c.w.finish();
  if (rc != 0) c.ex.force_close();
}

}  // namespace rg::mockllm
