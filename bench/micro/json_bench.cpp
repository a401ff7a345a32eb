// Micro-benchmarks of the json module's hot paths: request inspection (full validation), the model
// splice, usage extraction from a final SSE chunk, and writing an error body.
//
// What it measures
//   inspect_chat               inspect_request on a 407-byte streaming chat request (model,
//                              stream, stream_options, max_tokens, two messages, metadata).
//   inspect_prompt_50k         inspect_request on a 51.5 KB request: 20 messages of ~2.5 KB
//                              prose with \" and \n escapes on every line.
//   lazy_find_model_*          baseline, not our API: simdjson On-Demand iterate + find "model",
//                              everything else skipped unvalidated. The gap to inspect_* is the
//                              price of validating the whole body.
//   rewrite_model              rewrite_request (model + include_usage) on the chat request, info
//                              already inspected: the splice alone.
//   extract_usage_final_chunk  extract_usage_openai on a 378-byte final chat.completion.chunk,
//                              padded in place / _copy: copied into scratch first (SSE path).
//   extract_usage_delta_chunk  the same on an ordinary 261-byte content chunk ("usage":null).
//   write_error_body           json_writer: a ~150-byte OpenAI error body with escapes.
//
// Last result: shared 2-core VM (2.6 GHz, Debian 12, g++ 12.2, buildtype=debugoptimized i.e. -O2,
// simdjson 3.0.1: stage 1 dispatched to icelake at run time, On-Demand's inline code is the
// portable 'fallback' kernel as we build without -march). Other engineers' builds were running
// (load average 10-14), so wall time was 1.5-2.5x CPU time; CPU-time medians are quoted, with
// instruction counts from callgrind (load-independent) where measured:
//   meson compile -C build-json bench_json
//   ./build-json/bench/micro/bench_json --benchmark_repetitions=7
//       --benchmark_report_aggregates_only=true   (one command line; medians below)
//   inspect_chat                    ~450 ns/request  (~0.9 GB/s; 5.4k instructions)
//   inspect_prompt_50k              ~17 us/request   (~2.9 GB/s; 158k instructions, 3.1/byte)
//   lazy_find_model_chat            ~75 ns           (baseline)
//   lazy_find_model_prompt_50k      ~5 us            (baseline, ~10 GB/s)
//   rewrite_model                   ~22 ns
//   extract_usage_final_chunk       ~310 ns          (4.4k instructions)
//   extract_usage_final_chunk_copy  ~390 ns
//   extract_usage_delta_chunk       ~260 ns
//   write_error_body                ~390 ns          (3.9k instructions)
#include <ringgate/json/padded.hpp>
#include <ringgate/json/request.hpp>
#include <ringgate/json/response.hpp>
#include <ringgate/json/writer.hpp>

#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <string>
#include <string_view>

namespace {

using namespace rg::json;

// Text with json_padding bytes of slack behind it, as the gateway's body buffers have.
class padded_text {
 public:
  explicit padded_text(std::string text) : _storage(std::move(text)) {
    _size = _storage.size();
    _storage.append(json_padding, '\0');
  }
  std::string_view view() const { return {_storage.data(), _size}; }

 private:
  std::string _storage;
  size_t _size = 0;
};

const padded_text chat_request(
    R"({"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful )"
    R"(assistant. Answer concisely and cite sources."},{"role":"user","content":"What is the )"
    R"(capital of France? Please also tell me one interesting fact about it."}],)"
    R"("temperature":0.7,"max_tokens":256,"stream":true,"stream_options":{"include_usage":)"
    R"(false},"user":"user-1234","metadata":{"team":"search","trace":"7f3c2a1e-9b8d-4c6f"}})");

std::string make_prompt_request() {
  const std::string line =
      R"(The gateway forwards requests to \"upstream\" providers and accounts for tokens.\n)";
  std::string text = R"({"model":"gpt-4o","stream":true,"messages":[)";
  for (int m = 0; m < 20; ++m) {
    std::string content;
    while (content.size() < 2500) content += line;
    text += (m == 0 ? "" : ",");
    text += R"({"role":")" + std::string(m % 2 ? "assistant" : "user") + R"(","content":")" +
            content + "\"}";
  }
  return text + R"(],"max_tokens":1024})";
}
const padded_text prompt_request(make_prompt_request());

const padded_text final_chunk(
    R"({"id":"chatcmpl-AbCdEf0123456789","object":"chat.completion.chunk","created":1730000000,)"
    R"("model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_0ba0d124f1","choices":[],)"
    R"("usage":{"prompt_tokens":1234,"completion_tokens":567,"total_tokens":1801,)"
    R"("prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},)"
    R"("completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0}}})");

const padded_text delta_chunk(
    R"({"id":"chatcmpl-AbCdEf0123456789","object":"chat.completion.chunk","created":1730000000,)"
    R"("model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_0ba0d124f1","choices":[{)"
    R"("index":0,"delta":{"content":" Paris"},"logprobs":null,"finish_reason":null}],)"
    R"("usage":null})");

void inspect(benchmark::State& state, const padded_text& body) {
  reserve_thread_parser(body.view().size());
  for (auto _ : state) {
    auto r = inspect_request(body.view());
    benchmark::DoNotOptimize(r);
    if (!r) state.SkipWithError("request did not inspect");
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(body.view().size()));
}

void inspect_chat(benchmark::State& state) {
  inspect(state, chat_request);
}
void inspect_prompt_50k(benchmark::State& state) {
  inspect(state, prompt_request);
}

void lazy_find_model(benchmark::State& state, const padded_text& body) {
  simdjson::ondemand::parser parser;
  std::string_view text = body.view();
  for (auto _ : state) {
    simdjson::ondemand::document doc;
    std::string_view model;
    if (parser.iterate(text.data(), text.size(), text.size() + json_padding).get(doc) ||
        doc["model"].get_string().get(model)) {
      state.SkipWithError("no model");
    }
    benchmark::DoNotOptimize(model);
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(text.size()));
}

void lazy_find_model_chat(benchmark::State& state) {
  lazy_find_model(state, chat_request);
}
void lazy_find_model_prompt_50k(benchmark::State& state) {
  lazy_find_model(state, prompt_request);
}

void rewrite_model(benchmark::State& state) {
  request_info info = inspect_request(chat_request.view()).value();
  const rewrite_options options{.quoted_model = R"("gpt-4o-mini-2024-07-18")",
                                .usage = usage_policy::ensure_included};
  for (auto _ : state) {
    splice s = rewrite_request(chat_request.view(), info, options);
    benchmark::DoNotOptimize(s);
  }
}

void extract_usage_final_chunk(benchmark::State& state) {
  for (auto _ : state) {
    auto u = extract_usage_openai(final_chunk.view());
    benchmark::DoNotOptimize(u);
    if (!u) state.SkipWithError("no usage");
  }
}

void extract_usage_final_chunk_copy(benchmark::State& state) {
  char scratch[1024];
  for (auto _ : state) {
    auto u = extract_usage_openai(final_chunk.view(), scratch);
    benchmark::DoNotOptimize(u);
    if (!u) state.SkipWithError("no usage");
  }
}

void extract_usage_delta_chunk(benchmark::State& state) {
  for (auto _ : state) {
    auto u = extract_usage_openai(delta_chunk.view());
    benchmark::DoNotOptimize(u);
  }
}

void write_error_body(benchmark::State& state) {
  char buf[512];
  for (auto _ : state) {
    json_writer w(buf);
    w.begin_object()
        .key("error")
        .begin_object()
        .key("message")
        .string("The model \"gpt-5\" does not exist\nor you do not have access to it.")
        .key("type")
        .string("invalid_request_error")
        .key("param")
        .string("model")
        .key("code")
        .string("model_not_found")
        .end_object()
        .end_object();
    benchmark::DoNotOptimize(w.view());
    if (!w.complete()) state.SkipWithError("overflow");
  }
}

BENCHMARK(inspect_chat);
BENCHMARK(inspect_prompt_50k);
BENCHMARK(lazy_find_model_chat);
BENCHMARK(lazy_find_model_prompt_50k);
BENCHMARK(rewrite_model);
BENCHMARK(extract_usage_final_chunk);
BENCHMARK(extract_usage_final_chunk_copy);
BENCHMARK(extract_usage_delta_chunk);
BENCHMARK(write_error_body);

}  // namespace

BENCHMARK_MAIN();
