// libFuzzer driver for the http request parser and body decoder: runs the input as a stream of
// pipelined requests and aborts if any split of the same bytes changes a verdict or a view.
#include <ringgate/http/request.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace {

using namespace rg::http;

constexpr size_t requests_max = 64;
constexpr size_t bytewise_input_max = 8192;  // byte-at-a-time feeding is O(n) calls; keep it quick

enum class feed : uint8_t { whole, split, bytewise };

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "fuzz_request: %s\n", what);
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

head_result parse_head(request_parser& p, std::string_view in, request_head& h, feed mode,
                       size_t cut) {
  switch (mode) {
    case feed::whole:
      return p.parse(in, h);
    case feed::split: {
      const head_result r = p.parse(in.substr(0, cut % (in.size() + 1)), h);
      return r.status == parse_status::incomplete ? p.parse(in, h) : r;
    }
    case feed::bytewise:
      break;
  }
  head_result r;
  for (size_t k = 0; k <= in.size() && r.status == parse_status::incomplete; ++k) {
    r = p.parse(in.substr(0, k), h);
  }
  return r;
}

void check_head(const head_result& r, const request_head& h, std::string_view in,
                const request_limits& limits) {
  check(r.head_bytes >= 4 && r.head_bytes <= in.size(), "head_bytes out of range");
  const std::string_view head = in.substr(0, r.head_bytes);
  check(head.substr(head.size() - 4) == "\r\n\r\n", "head does not end with CRLFCRLF");
  check(r.head_bytes <= limits.head_bytes_max, "head over head_bytes_max");
  check(h.header_count <= limits.headers_max && h.header_count <= headers_cap, "too many headers");
  check(inside(h.method_text, head) && inside(h.target, head) && inside(h.host, head),
        "view outside the head");
  check(!h.method_text.empty() && !h.target.empty(), "empty method or target");
  for (size_t i = 0; i < h.header_count; ++i) {
    check(inside(h.headers[i].name, head) && inside(h.headers[i].value, head),
          "header view outside the head");
    check(!h.headers[i].name.empty(), "empty header name");
  }
  const bool framed = h.find("content-length") != nullptr || h.find("transfer-encoding") != nullptr;
  check(framed || h.body == body_kind::none, "body without framing header");
  check(h.body != body_kind::content_length || h.content_length <= limits.body_bytes_max,
        "declared body over the limit accepted");
  check(h.body != body_kind::chunked || h.ver == version::http11, "chunked in HTTP/1.0");
}

void check_error(const parse_error& e) {
  const uint16_t s = e.status;
  check(s == 400 || s == 413 || s == 414 || s == 417 || s == 431 || s == 501 || s == 505,
        "unexpected error status");
  check(!e.message.empty() && !e.code.empty(), "error without message or code");
}

// Decodes the body at the start of `in`, feeding it whole, in two pieces, or byte by byte.
// Returns the bytes consumed, or SIZE_MAX when the stream cannot continue.
size_t decode_body(const request_head& h, std::string_view in, uint64_t max, feed mode, size_t cut,
                   fingerprint& fp) {
  body_decoder d;
  d.start(h.body, h.content_length, max);
  const size_t piece_bytes = mode == feed::bytewise ? 1
                             : mode == feed::split  ? std::max<size_t>(1, cut % (in.size() + 1))
                                                    : in.size() + 1;
  size_t pos = 0;
  body_step s;
  s.done = d.done();
  while (!s.done && s.error.status == 0 && pos < in.size()) {
    const size_t piece_end = std::min(in.size(), (pos / piece_bytes + 1) * piece_bytes);
    s = d.step(in.substr(pos, piece_end - pos));
    check(s.consumed <= piece_end - pos, "step consumed more than given");
    check(inside(s.data, in.substr(pos, s.consumed)), "body data outside the consumed input");
    check(s.consumed > 0 || s.done || s.error.status != 0, "step made no progress");
    fp.mix_bytes(s.data);  // payload bytes only: how they were grouped into steps may vary
    pos += s.consumed;
  }
  check(d.decoded_bytes() <= max, "decoded more than body_bytes_max");
  fp.mix_value(d.decoded_bytes());
  fp.mix_value(pos);
  fp.mix_value(s.done);
  fp.mix_value(s.error.status);
  fp.mix(s.error.message);
  if (s.error.status != 0) check(s.error.status == 400 || s.error.status == 413, "body status");
  return s.done ? pos : SIZE_MAX;
}

uint64_t run_stream(std::string_view in, const request_limits& limits, feed mode, size_t cut) {
  fingerprint fp;
  request_parser p(limits);
  static request_head h;  // 4 KiB; keep it off the fuzzer's stack
  size_t pos = 0;
  for (size_t n = 0; n < requests_max && pos < in.size(); ++n) {
    const std::string_view rest = in.substr(pos);
    p.reset();
    const head_result r = parse_head(p, rest, h, mode, cut);
    fp.mix_value(static_cast<uint64_t>(r.status));
    fp.mix_value(r.error.status);
    fp.mix(r.error.message);
    if (r.status == parse_status::error) check_error(r.error);
    if (r.status != parse_status::complete) break;
    check_head(r, h, rest, limits);
    check(p.parse(rest, h).head_bytes == r.head_bytes, "complete result not sticky");
    fp.mix_value(r.head_bytes);
    fp.mix(h.method_text);
    fp.mix(h.target);
    fp.mix(h.host);
    fp.mix_value(h.header_count);
    fp.mix_value(static_cast<uint64_t>(h.body) << 8 | h.keep_alive << 1 | h.expect_continue);
    fp.mix_value(h.content_length);
    const size_t body =
        decode_body(h, rest.substr(r.head_bytes), limits.body_bytes_max, mode, cut, fp);
    if (body == SIZE_MAX) break;
    pos += r.head_bytes + body;
  }
  return fp.hash;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  request_limits limits;
  if (size > 0 && (data[0] & 1) != 0) {  // small limits half of the time, to reach 413/414/431
    limits.request_line_bytes_max = 64;
    limits.head_bytes_max = 256;
    limits.headers_max = 8;
    limits.body_bytes_max = 512;
  }
  const size_t cut = size == 0 ? 0 : (size_t{data[size - 1]} << 8 | data[size / 2]);
  const uint64_t whole = run_stream(in, limits, feed::whole, cut);
  if (run_stream(in, limits, feed::split, cut) != whole) die("split feed differs from whole");
  if (size <= bytewise_input_max && run_stream(in, limits, feed::bytewise, cut) != whole) {
    die("byte-by-byte feed differs from whole");
  }
  return 0;
}
