// Micro-benchmarks of the upstream side of the http module: response head parsing, chunked SSE body
// decoding and SSE event scanning, on the shapes a streamed OpenAI chat completion has.
//
// What it measures
//   parse_openai_head    reset + parse of a 343-byte chat-completions stream response head
//                        (10 fields: Date, Content-Type, Transfer-Encoding, openai-*,
//                        x-request-id, …) arriving in one read: time per head and bytes/s.
//   decode_chunked_sse   decoding a chunked body of 64 SSE events, one event per chunk as OpenAI
//                        sends them (~250-byte events, 16 KiB body): payload leaves as views.
//   scan_sse             sse_scanner over the decoded 64-event stream, whole: time per event.
//   scan_sse_first_data  the same plus sse_first_data() and sse_is_done() on every event (what the
//                        relay does to find usage and [DONE]).
//   relay_pipeline       decode + scan together, the body arriving in 4 KiB reads: per event.
//
// Last result: 2-core VM (2.6 GHz, Debian 12, g++ 12.2, buildtype=debugoptimized i.e. -O2), with
// other builds running (load 9-14, wall time 2-3x CPU), so CPU time is quoted, as the range of
// medians over three runs:
//   meson compile -C build-http bench_http_response
//   ./build-http/bench/micro/bench_http_response --benchmark_repetitions=9
//       --benchmark_report_aggregates_only=true   (one command line)
//   parse_openai_head      ~300-340 ns/head   ~1.0 GB/s (the request side's chat head: ~380 ns)
//   decode_chunked_sse     ~32-45 ns/event    ~5-7 GB/s (~2-3 us per 64-event body)
//   scan_sse               ~34-50 ns/event    ~5-7 GB/s (SWAR line search: ~56 ns; SSE2 kept)
//   scan_sse_first_data    ~75-90 ns/event    (two helper passes over the event's first line)
//   relay_pipeline         ~63-92 ns/event    (decode + scan, 4 KiB reads)
#include <ringgate/http/response_parser.hpp>
#include <ringgate/http/sse.hpp>

#include <benchmark/benchmark.h>

#include <string>
#include <string_view>

namespace {

using namespace rg::http;

constexpr size_t events_per_stream = 64;

const std::string openai_head =
    "HTTP/1.1 200 OK\r\n"
    "Date: Sat, 22 Nov 2025 02:00:00 GMT\r\n"
    "Content-Type: text/event-stream; charset=utf-8\r\n"
    "Transfer-Encoding: chunked\r\n"
    "Connection: keep-alive\r\n"
    "openai-organization: user-abc123\r\n"
    "openai-processing-ms: 123\r\n"
    "openai-version: 2020-10-01\r\n"
    "x-request-id: req_7f3c2a1e9b8d4c6fa5e43d2c1b0a9f8e\r\n"
    "cf-cache-status: DYNAMIC\r\n"
    "Server: cloudflare\r\n"
    "\r\n";

std::string openai_event(size_t i) {
  return "data: {\"id\":\"chatcmpl-AbC123dEf456\",\"object\":\"chat.completion.chunk\","
         "\"created\":1732240000,\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":"
         "\"fp_0ba0d124f1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" token" +
         std::to_string(i) + "\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n";
}

// The decoded SSE stream: 63 content events and the [DONE] terminator.
const std::string& sse_stream() {
  static const std::string s = [] {
    std::string out;
    for (size_t i = 0; i + 1 < events_per_stream; ++i) out += openai_event(i);
    return out + "data: [DONE]\n\n";
  }();
  return s;
}

// The same events as a chunked body, one chunk per event.
const std::string& chunked_stream() {
  static const std::string s = [] {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    const std::string& sse = sse_stream();
    for (size_t at = 0; at < sse.size();) {
      const size_t end = sse.find("\n\n", at) + 2;
      std::string size;
      for (size_t v = end - at; v != 0; v >>= 4) size.insert(size.begin(), hex[v & 0xF]);
      out += size + "\r\n" + sse.substr(at, end - at) + "\r\n";
      at = end;
    }
    return out + "0\r\n\r\n";
  }();
  return s;
}

void per_event(benchmark::State& state) {
  state.counters["per_event"] =
      benchmark::Counter(static_cast<double>(state.iterations() * events_per_stream),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void parse_openai_head(benchmark::State& state) {
  response_parser parser({});
  response_head head;
  for (auto _ : state) {
    parser.reset();
    head_result r = parser.parse(openai_head, head, request_kind::normal);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(head.header_count);
    if (r.status != parse_status::complete) state.SkipWithError("head did not parse");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * openai_head.size()));
  state.counters["head_bytes"] = static_cast<double>(openai_head.size());
}
BENCHMARK(parse_openai_head);

void decode_chunked_sse(benchmark::State& state) {
  const std::string& body = chunked_stream();
  body_decoder decoder;
  for (auto _ : state) {
    decoder.start(body_kind::chunked, 0, 1 << 20, body_origin::upstream);
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
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
  per_event(state);
}
BENCHMARK(decode_chunked_sse);

void scan_sse(benchmark::State& state) {
  const std::string_view stream = sse_stream();
  sse_scanner scanner;
  for (auto _ : state) {
    scanner.reset();
    std::string_view in = stream;
    size_t events = 0;
    while (!in.empty()) {
      const sse_step s = scanner.step(in);
      in.remove_prefix(s.consumed);
      events += s.event_end;
    }
    benchmark::DoNotOptimize(events);
    if (events != events_per_stream) state.SkipWithError("wrong event count");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
  per_event(state);
}
BENCHMARK(scan_sse);

void scan_sse_first_data(benchmark::State& state) {
  const std::string_view stream = sse_stream();
  sse_scanner scanner;
  for (auto _ : state) {
    scanner.reset();
    std::string_view in = stream;
    size_t data_bytes = 0;
    bool done = false;
    while (!in.empty()) {
      const sse_step s = scanner.step(in);
      if (s.event_end) {
        const std::string_view event = in.substr(0, s.consumed);
        done = sse_is_done(event);
        if (!done) data_bytes += sse_first_data(event).size();
      }
      in.remove_prefix(s.consumed);
    }
    benchmark::DoNotOptimize(data_bytes);
    if (!done) state.SkipWithError("no [DONE]");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
  per_event(state);
}
BENCHMARK(scan_sse_first_data);

void relay_pipeline(benchmark::State& state) {
  constexpr size_t read_bytes = 4096;
  const std::string_view body = chunked_stream();
  body_decoder decoder;
  sse_scanner scanner;
  for (auto _ : state) {
    decoder.start(body_kind::chunked, 0, 1 << 20, body_origin::upstream);
    scanner.reset();
    size_t events = 0;
    for (size_t at = 0; at < body.size() && !decoder.done(); at += read_bytes) {
      std::string_view in = body.substr(at, read_bytes);
      while (!in.empty() && !decoder.done()) {
        const body_step s = decoder.step(in);
        for (std::string_view data = s.data; !data.empty();) {
          const sse_step e = scanner.step(data);
          data.remove_prefix(e.consumed);
          events += e.event_end;
        }
        in.remove_prefix(s.consumed);
      }
    }
    benchmark::DoNotOptimize(events);
    if (events != events_per_stream) state.SkipWithError("wrong event count");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
  per_event(state);
}
BENCHMARK(relay_pipeline);

}  // namespace

BENCHMARK_MAIN();
