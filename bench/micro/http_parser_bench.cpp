// Micro-benchmarks of the http module's hot paths: request head parsing and chunked body decoding.
//
// What it measures
//   parse_chat_head           reset + parse of a 416-byte OpenAI chat-completions request head
//                             (11 header fields: Host, Bearer auth, Content-Type/-Length, UA,
//                             Accept, x-request-id, X-Stainless-*, …) arriving in one read:
//                             time per request and bytes/s.
//   parse_chat_head_segments  the same head arriving in N-byte reads, parse() called after each
//                             (the resumable path: total work must stay linear).
//   chunked_decode            decoding a 64 KiB chunked body cut into chunks of N bytes. Payload
//                             leaves as views (never copied), so this is framing cost per chunk.
//
// Last result: 2-core VM (2.6 GHz, Debian 12, g++ 12.2, buildtype=debugoptimized i.e. -O2), with
// other builds running (load ~5), so CPU time is quoted (wall time was ~1.5x):
//   meson compile -C build-http bench_http_parser
//   ./build-http/bench/micro/bench_http_parser --benchmark_repetitions=7
//       --benchmark_report_aggregates_only=true   (one command line; medians below)
//   parse_chat_head               ~350 ns/request  ~1.1 GB/s   (~6k instructions, callgrind)
//   parse_chat_head_segments/64   ~450 ns/request  ~0.9 GB/s
//   parse_chat_head_segments/1    ~3.3 us/request  (416 parse() calls)
//   chunked_decode/64             ~1.6 GB/s  (~37 ns per chunk)
//   chunked_decode/1024           ~23 GB/s;  /16384  ~240 GB/s (views only)
#include <ringgate/http/request.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <string>
#include <string_view>

namespace {

using namespace rg::http;

const std::string chat_head =
    "POST /v1/chat/completions HTTP/1.1\r\n"
    "Host: gateway.internal:8080\r\n"
    "Authorization: Bearer sk-proj-4f8a9c2e7b1d6053a9e8f7c6b5a4d3e2\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 1534\r\n"
    "User-Agent: OpenAI/Python 1.54.3\r\n"
    "Accept: application/json\r\n"
    "Accept-Encoding: gzip, deflate\r\n"
    "x-request-id: 7f3c2a1e-9b8d-4c6f-a5e4-3d2c1b0a9f8e\r\n"
    "X-Stainless-Lang: python\r\n"
    "X-Stainless-Package-Version: 1.54.3\r\n"
    "Connection: keep-alive\r\n"
    "\r\n";

void parse_chat_head(benchmark::State& state) {
  request_parser parser({});
  request_head head;
  for (auto _ : state) {
    parser.reset();
    head_result r = parser.parse(chat_head, head);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(head.header_count);
    if (r.status != parse_status::complete) state.SkipWithError("head did not parse");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * chat_head.size()));
  state.counters["head_bytes"] = static_cast<double>(chat_head.size());
}
BENCHMARK(parse_chat_head);

void parse_chat_head_segments(benchmark::State& state) {
  const size_t segment = static_cast<size_t>(state.range(0));
  const std::string_view all = chat_head;
  request_parser parser({});
  request_head head;
  for (auto _ : state) {
    parser.reset();
    head_result r;
    for (size_t end = segment; r.status == parse_status::incomplete; end += segment) {
      r = parser.parse(all.substr(0, end), head);
    }
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * chat_head.size()));
}
BENCHMARK(parse_chat_head_segments)->Arg(64)->Arg(1);

std::string chunked_body(size_t payload_bytes, size_t chunk_bytes) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (size_t done = 0; done < payload_bytes; done += chunk_bytes) {
    const size_t n = std::min(chunk_bytes, payload_bytes - done);
    std::string size;
    for (size_t v = n; v != 0; v >>= 4) size.insert(size.begin(), hex[v & 0xF]);
    out += size + "\r\n" + std::string(n, 'x') + "\r\n";
  }
  return out + "0\r\n\r\n";
}

void chunked_decode(benchmark::State& state) {
  constexpr size_t payload_bytes = 64 * 1024;
  const std::string body = chunked_body(payload_bytes, static_cast<size_t>(state.range(0)));
  body_decoder decoder;
  for (auto _ : state) {
    decoder.start(body_kind::chunked, 0, payload_bytes);
    std::string_view in = body;
    uint64_t sum = 0;
    while (!in.empty()) {
      const body_step s = decoder.step(in);
      sum += s.data.size();
      in.remove_prefix(s.consumed);
      if (s.done || s.error.status != 0) break;
    }
    benchmark::DoNotOptimize(sum);
    if (!decoder.done()) state.SkipWithError("body did not decode");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * payload_bytes));
}
BENCHMARK(chunked_decode)->Arg(64)->Arg(1024)->Arg(16384);

}  // namespace

BENCHMARK_MAIN();
