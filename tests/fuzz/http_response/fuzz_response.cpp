// libFuzzer driver for the upstream side of the http module: runs the input as a stream of
// responses (heads, bodies, EOF) and as SSE, and aborts if any split changes a verdict or a view.
#include <ringgate/http/response_parser.hpp>
#include <ringgate/http/sse.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace rg::http;

constexpr size_t responses_max = 64;
constexpr size_t bytewise_input_max = 8192;  // byte-at-a-time feeding is O(n) calls; keep it quick
constexpr size_t sse_body_max = 64 * 1024;   // decoded body bytes kept for the SSE pass

enum class feed : uint8_t { whole, split, bytewise };

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "fuzz_response: %s\n", what);
  std::abort();
}

void check(bool ok, const char* what) {
  if (!ok) die(what);
}

// FNV-1a over everything observable, so three feeds can be compared with one number.
struct fingerprint {
  uint64_t hash = 1469598103934665603ull;
  void mix_bytes(std::string_view s) {
    for (char c : s) hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  }
  void mix(std::string_view s) {
    mix_bytes(s);
    mix_value(s.size());
  }
  void mix_value(uint64_t v) {
    for (int i = 0; i < 8; ++i) hash = (hash ^ ((v >> (8 * i)) & 0xFF)) * 1099511628211ull;
  }
};

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

size_t piece_bytes(feed mode, size_t cut, size_t size) {
  return mode == feed::bytewise ? 1
         : mode == feed::split  ? std::max<size_t>(1, cut % (size + 1))
                                : size + 1;
}

// ---- SSE: the scanner against a plain whole-string reference ----

struct sse_event {
  size_t end = 0;
  bool has_data = false;
};

// The events, error offset and partial flag a line-at-a-time reading of the whole stream gives.
struct sse_reference {
  std::vector<sse_event> events;
  size_t error_at = SIZE_MAX;  // consumed bytes when the oversized-line error fires
  bool partial = false;
};

sse_reference reference_scan(std::string_view s, size_t line_max) {
  sse_reference ref;
  size_t i = 0;
  size_t lines = 0;
  bool has_data = false;
  while (i < s.size()) {
    const size_t j = std::min(s.find_first_of("\r\n", i), s.size());
    if (j - i > line_max) {
      ref.error_at = i + line_max + 1;
      return ref;
    }
    if (j == s.size()) {
      ref.partial = true;  // an unterminated line
      return ref;
    }
    const std::string_view line = s.substr(i, j - i);
    i = j + (s[j] == '\r' && j + 1 < s.size() && s[j + 1] == '\n' ? 2 : 1);
    if (!line.empty()) {
      ++lines;
      has_data = has_data || line == "data" || line.starts_with("data:");
    } else if (lines != 0) {
      ref.events.push_back({i, has_data});
      lines = 0;
      has_data = false;
    }
  }
  ref.partial = lines != 0;
  return ref;
}

// The helpers' answers for one event text, computed the slow way.
void check_helpers(std::string_view text, bool has_data) {
  std::string_view first_data;
  std::string_view name;
  size_t data_fields = 0;
  size_t i = 0;
  while (i < text.size()) {
    const size_t j = std::min(text.find_first_of("\r\n", i), text.size());
    const std::string_view line = text.substr(i, j - i);
    i = j +
        (j < text.size() && text[j] == '\r' && j + 1 < text.size() && text[j + 1] == '\n' ? 2 : 1);
    if (line.empty() || line[0] == ':') continue;
    const size_t colon = line.find(':');
    std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
    if (value.starts_with(' ')) value.remove_prefix(1);
    const std::string_view field = line.substr(0, colon);
    if (field == "data" && data_fields++ == 0) first_data = value;
    if (field == "event") name = value;
  }
  check((data_fields != 0) == has_data, "event_has_data differs from the event's fields");
  check(sse_first_data(text) == first_data, "sse_first_data differs from the reference");
  check(inside(sse_first_data(text), text), "sse_first_data outside the event");
  check(sse_is_done(text) == (data_fields == 1 && first_data == "[DONE]"), "sse_is_done differs");
  check(sse_event_name(text) == name, "sse_event_name differs from the reference");
}

// Scans `s` in pieces (then EOF), checks every event against the reference, and returns the
// fingerprint of the boundaries.
uint64_t sse_pass(std::string_view s, size_t line_max, feed mode, size_t cut) {
  const sse_reference ref = reference_scan(s, line_max);
  const size_t piece = piece_bytes(mode, cut, s.size());
  sse_scanner sc(line_max);
  fingerprint fp;
  size_t pos = 0;
  size_t begin = 0;  // start of the current event
  size_t n = 0;
  sse_step st;
  const auto on_step = [&](const sse_step& step) {
    pos += step.consumed;
    if (!step.event_end) return;
    check(n < ref.events.size() && ref.events[n].end == pos, "event boundary differs");
    check(sc.event_bytes() == pos - begin, "event_bytes differs from the boundary");
    check(sc.event_has_data() == ref.events[n].has_data, "event_has_data differs");
    check_helpers(s.substr(begin, pos - begin), sc.event_has_data());
    fp.mix_value(pos);
    begin = pos;
    ++n;
  };
  while (pos < s.size() && st.error.status == 0) {
    const size_t piece_end = std::min(s.size(), (pos / piece + 1) * piece);
    st = sc.step(s.substr(pos, piece_end - pos));
    check(st.consumed <= piece_end - pos, "sse step consumed more than given");
    check(st.consumed > 0 || st.event_end || st.error.status != 0, "sse step made no progress");
    on_step(st);
  }
  if (st.error.status == 0) {
    st = sc.finish_eof();
    on_step(st);
  }
  if (st.error.status != 0) {
    check(st.error.status == 502 && pos == ref.error_at, "oversized line error differs");
  } else {
    check(ref.error_at == SIZE_MAX && n == ref.events.size(), "missed an event or an error");
    check(sc.partial_event() == ref.partial, "partial_event differs");
  }
  fp.mix_value(st.error.status);
  return fp.hash;
}

void check_sse(std::string_view s, size_t line_max, size_t cut) {
  const uint64_t whole = sse_pass(s, line_max, feed::whole, cut);
  if (sse_pass(s, line_max, feed::split, cut) != whole) die("sse: split feed differs");
  if (s.size() <= bytewise_input_max && sse_pass(s, line_max, feed::bytewise, cut) != whole) {
    die("sse: byte-by-byte feed differs");
  }
}

// ---- responses ----

head_result parse_head(response_parser& p, std::string_view in, response_head& h, request_kind req,
                       feed mode, size_t cut) {
  switch (mode) {
    case feed::whole:
      return p.parse(in, h, req);
    case feed::split: {
      const head_result r = p.parse(in.substr(0, cut % (in.size() + 1)), h, req);
      return r.status == parse_status::incomplete ? p.parse(in, h, req) : r;
    }
    case feed::bytewise:
      break;
  }
  head_result r;
  for (size_t k = 0; k <= in.size() && r.status == parse_status::incomplete; ++k) {
    r = p.parse(in.substr(0, k), h, req);
  }
  return r;
}

void check_head(const head_result& r, const response_head& h, std::string_view in,
                const response_limits& limits, request_kind req) {
  check(r.head_bytes >= 16 && r.head_bytes <= in.size(), "head_bytes out of range");
  const std::string_view head = in.substr(0, r.head_bytes);
  check(head.starts_with("HTTP/1.") && head.ends_with("\r\n\r\n"), "head framing");
  check(r.head_bytes <= limits.head_bytes_max, "head over head_bytes_max");
  check(h.header_count <= limits.headers_max && h.header_count <= headers_cap, "too many headers");
  check(h.status >= 100 && h.status <= 599 && h.status != 101, "status out of range");
  check(inside(h.reason, head), "reason outside the head");
  for (size_t i = 0; i < h.header_count; ++i) {
    check(inside(h.headers[i].name, head) && inside(h.headers[i].value, head),
          "header view outside the head");
    check(!h.headers[i].name.empty(), "empty header name");
  }
  const bool bodiless =
      h.interim() || h.status == 204 || h.status == 304 || req == request_kind::head_method;
  check(!bodiless || h.body == body_kind::none, "bodiless response with a body");
  check(h.body != body_kind::content_length ||
            (h.content_length > 0 && h.content_length <= limits.body_bytes_max),
        "bad declared body length");
  check(h.body == body_kind::content_length || h.content_length == 0, "stray content_length");
  check(h.body != body_kind::chunked || h.ver == version::http11, "chunked in HTTP/1.0");
  check(h.body != body_kind::until_close || !h.keep_alive, "until_close kept alive");
  const bool framed = h.find("content-length") != nullptr || h.find("transfer-encoding") != nullptr;
  check(framed || bodiless || h.body == body_kind::until_close, "unframed body not until_close");
}

void check_error(const parse_error& e) {
  check(e.status == 502 && e.code == "bad_gateway", "upstream error is not 502 bad_gateway");
  check(e.message.starts_with("upstream "), "upstream error message does not say so");
}

// Decodes the body at the start of `in`, the input ending in EOF. Returns the bytes consumed, or
// SIZE_MAX when the stream cannot continue.
size_t decode_body(const response_head& h, std::string_view in, uint64_t max, feed mode, size_t cut,
                   fingerprint& fp, std::string& payload) {
  body_decoder d;
  d.start(h.body, h.content_length, max, body_origin::upstream);
  const size_t piece = piece_bytes(mode, cut, in.size());
  size_t pos = 0;
  body_step s{0, {}, d.done(), {}};
  while (!s.done && s.error.status == 0) {
    if (pos == in.size()) {
      s = d.finish_eof();
      check(s.done || s.error.status != 0, "finish_eof left the body open");
      break;
    }
    const size_t piece_end = std::min(in.size(), (pos / piece + 1) * piece);
    s = d.step(in.substr(pos, piece_end - pos));
    check(s.consumed <= piece_end - pos, "step consumed more than given");
    check(inside(s.data, in.substr(pos, s.consumed)), "body data outside the consumed input");
    check(s.consumed > 0 || s.done || s.error.status != 0, "step made no progress");
    fp.mix_bytes(s.data);  // payload bytes only: how they were grouped into steps may vary
    if (payload.size() < sse_body_max) payload.append(s.data.substr(0, sse_body_max));
    pos += s.consumed;
  }
  check(d.decoded_bytes() <= max, "decoded more than body_bytes_max");
  check(h.body != body_kind::until_close || s.error.status != 0 || pos == in.size(),
        "until_close body ended before EOF");
  fp.mix_value(d.decoded_bytes());
  fp.mix_value(pos);
  fp.mix_value(s.done);
  fp.mix_value(s.error.status);
  fp.mix(s.error.message);
  if (s.error.status != 0) check_error(s.error);
  return s.done ? pos : SIZE_MAX;
}

struct config {
  response_limits limits;
  size_t sse_line_max = size_t{1} << 20;
  uint8_t head_mask = 0;  // bit n % 8: response n answers a HEAD request
  size_t cut = 0;
};

uint64_t run_stream(std::string_view in, const config& cfg, feed mode,
                    std::vector<std::string>* bodies) {
  fingerprint fp;
  response_parser p(cfg.limits);
  static response_head h;  // 4 KiB; keep it off the fuzzer's stack
  size_t pos = 0;
  size_t final_responses = 0;
  for (size_t n = 0; n < responses_max && pos < in.size(); ++n) {
    const std::string_view rest = in.substr(pos);
    const request_kind req = (cfg.head_mask >> (final_responses % 8)) & 1
                                 ? request_kind::head_method
                                 : request_kind::normal;
    p.reset();
    const head_result r = parse_head(p, rest, h, req, mode, cfg.cut);
    fp.mix_value(static_cast<uint64_t>(r.status));
    fp.mix_value(r.error.status);
    fp.mix(r.error.message);
    if (r.status == parse_status::error) check_error(r.error);
    if (r.status != parse_status::complete) break;
    check_head(r, h, rest, cfg.limits, req);
    check(p.parse(rest, h, req).head_bytes == r.head_bytes, "complete result not sticky");
    fp.mix_value(r.head_bytes);
    fp.mix_value(h.status);
    fp.mix(h.reason);
    fp.mix_value(h.header_count);
    fp.mix_value(static_cast<uint64_t>(h.body) << 8 | static_cast<uint64_t>(h.ver) << 1 |
                 h.keep_alive);
    fp.mix_value(h.content_length);
    pos += r.head_bytes;
    if (h.interim()) continue;  // the final response follows on the same request
    ++final_responses;
    std::string payload;
    const size_t body = decode_body(h, rest.substr(r.head_bytes), cfg.limits.body_bytes_max, mode,
                                    cfg.cut, fp, payload);
    if (bodies != nullptr && !payload.empty()) bodies->push_back(std::move(payload));
    if (body == SIZE_MAX) break;
    pos += body;
  }
  return fp.hash;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  config cfg;
  // The last byte picks the settings, so mutating it does not break the first status line.
  const uint8_t knobs = size == 0 ? 0 : data[size - 1];
  if ((knobs & 1) != 0) {  // small limits half of the time, to reach every limit
    cfg.limits.head_bytes_max = 256;
    cfg.limits.headers_max = 8;
    cfg.limits.body_bytes_max = 512;
    cfg.sse_line_max = 48;
  }
  if ((knobs & 0xF0) == 0xF0) {  // rarely (never for text), some responses answer HEAD
    cfg.head_mask = static_cast<uint8_t>((knobs >> 1) & 0x07);
  }
  cfg.cut = size == 0 ? 0 : (size_t{data[size / 2]} << 8 | data[size / 3]);

  std::vector<std::string> bodies;
  const uint64_t whole = run_stream(in, cfg, feed::whole, &bodies);
  if (run_stream(in, cfg, feed::split, nullptr) != whole) die("split feed differs from whole");
  if (size <= bytewise_input_max && run_stream(in, cfg, feed::bytewise, nullptr) != whole) {
    die("byte-by-byte feed differs from whole");
  }
  // SSE over each decoded body (how the gateway uses it) and over the raw input (more reach).
  for (const std::string& body : bodies) check_sse(body, cfg.sse_line_max, cfg.cut);
  check_sse(in, cfg.sse_line_max, cfg.cut);
  return 0;
}
