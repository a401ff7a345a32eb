// OpenAI's wire format: chat.completion, chat.completion.chunk events ending in [DONE] (with the
// usage chunk only when stream_options.include_usage asks), embeddings and the models list.
// Scripts are rendered into the request's scratch; the model is echoed as its raw JSON token.
#include <bit>
#include <charconv>
#include <ctime>

#include "answer.hpp"

namespace rg::mockllm {
namespace {

// One shared prefix of every chunk event of a stream.
void chunk_prefix(scratch& sc, uint64_t id, uint64_t created, std::string_view model) {
  sc.add(R"(data: {"id":"chatcmpl-mock-)").num(id);
  sc.add(R"(","object":"chat.completion.chunk","created":)").num(created);
  sc.add(R"(,"model":)").add(model).add(R"(,"system_fingerprint":"fp_mock","choices":[)");
}

void usage(scratch& sc, uint64_t prompt, uint64_t completion) {
  sc.add(R"({"prompt_tokens":)").num(prompt).add(R"(,"completion_tokens":)").num(completion);
  sc.add(R"(,"total_tokens":)").num(prompt + completion).add("}");
}

script stream_script(request_ctx& c, const request_fields& f, uint64_t words,
                     std::string_view finish) {
  scratch& sc = c.sc;
  uint64_t created = uint64_t(std::time(nullptr));
  std::string_view usage_null = f.include_usage ? R"(,"usage":null)" : "";
  script s;
  s.content_type = "text/event-stream";
  chunk_prefix(sc, c.id, created, f.model);
  sc.add(R"({"index":0,"delta":{"role":"assistant","content":"","refusal":null},)");
  sc.add(R"("logprobs":null,"finish_reason":null}])").add(usage_null).add("}\n\n");
  s.before = sc.take();
  chunk_prefix(sc, c.id, created, f.model);
  sc.add(R"({"index":0,"delta":{"content":")");
  s.content_prefix = sc.take();
  sc.add(R"("},"logprobs":null,"finish_reason":null}])").add(usage_null).add("}\n\n");
  s.content_suffix = sc.take();
  chunk_prefix(sc, c.id, created, f.model);
  sc.add(R"({"index":0,"delta":{},"logprobs":null,"finish_reason":")").add(finish);
  sc.add(R"("}])").add(usage_null).add("}\n\n");
  if (f.include_usage) {
    chunk_prefix(sc, c.id, created, f.model);
    sc.add(R"(],"usage":)");
    usage(sc, c.prompt_tokens, words);
    sc.add("}\n\n");
  }
  sc.add("data: [DONE]\n\n");
  s.after = sc.take();
  s.malformed = "data: {not json\n\n";
  return s;
}

script complete_script(request_ctx& c, const request_fields& f, uint64_t words,
                       std::string_view finish) {
  scratch& sc = c.sc;
  script s;
  sc.add(R"({"id":"chatcmpl-mock-)").num(c.id);
  sc.add(R"(","object":"chat.completion","created":)").num(uint64_t(std::time(nullptr)));
  sc.add(R"(,"model":)").add(f.model);
  sc.add(R"(,"choices":[{"index":0,"message":{"role":"assistant","content":")");
  s.before = sc.take();
  sc.add(R"(","refusal":null},"logprobs":null,"finish_reason":")").add(finish);
  sc.add(R"("}],"usage":)");
  usage(sc, c.prompt_tokens, words);
  sc.add(R"(,"system_fingerprint":"fp_mock"})");
  s.after = sc.take();
  sc.add(R"({"id":"chatcmpl-mock-)")
      .num(c.id)
      .add(R"(","object":"chat.completion","choices":[{not json)");
  s.malformed = sc.take();
  return s;
}

// Embedding `index`: 8 deterministic floats, as a JSON array or (arg 1) base64 of float32 LE.
size_t embedding_item(uint64_t index, uint64_t base64, char* out, size_t cap) noexcept {
  char item[item_bytes_max];
  scratch sc(item, sizeof(item));
  float values[8];
  for (size_t j = 0; j < 8; ++j) {
    values[j] = float(int(j) - 4) / 8.0f + float((index + j) % 16) / 256.0f;
  }
  sc.add(index ? R"(,{"object":"embedding","index":)" : R"({"object":"embedding","index":)");
  sc.num(index).add(R"(,"embedding":)");
  if (base64) {
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char bytes[33] = {};
    for (size_t j = 0; j < 8; ++j) {
      uint32_t bits = std::bit_cast<uint32_t>(values[j]);
      for (size_t b = 0; b < 4; ++b) bytes[j * 4 + b] = uint8_t(bits >> (8 * b));
    }
    char enc[44];
    for (size_t i = 0, o = 0; i < 32; i += 3, o += 4) {
      uint32_t v = uint32_t(bytes[i]) << 16 | uint32_t(bytes[i + 1]) << 8 | bytes[i + 2];
      enc[o] = alphabet[v >> 18];
      enc[o + 1] = alphabet[(v >> 12) & 63];
      enc[o + 2] = alphabet[(v >> 6) & 63];
      enc[o + 3] = alphabet[v & 63];
    }
    enc[43] = '=';  // 32 bytes: the last group holds 2 bytes
    sc.add("\"").add(std::string_view(enc, sizeof(enc))).add("\"");
  } else {
    sc.add("[");
    for (size_t j = 0; j < 8; ++j) {
      char num[32];
      auto r = std::to_chars(num, num + sizeof(num), values[j]);
      sc.add(j ? "," : "").add(std::string_view(num, size_t(r.ptr - num)));
    }
    sc.add("]");
  }
  sc.add("}");
  std::string_view v = sc.take();
  if (!sc.ok() || v.size() > cap) return 0;
  std::memcpy(out, v.data(), v.size());
  return v.size();
}

}  // namespace

runtime::task<void> openai_chat(request_ctx& c, const request_fields& f) {
  if (f.model.empty()) {
    co_await answer_error(c, wire::openai, 400, "you must provide a model parameter");
    co_return;
  }
  if (!f.has_messages) {
    co_await answer_error(c, wire::openai, 400, "'messages' is a required property");
    co_return;
  }
  uint64_t words = answer_words(c.p, f);
  std::string_view finish = words < c.p.words ? "length" : "stop";
  script s = f.stream ? stream_script(c, f, words, finish) : complete_script(c, f, words, finish);
  if (!c.sc.ok()) {
    co_await answer_error(c, wire::openai, 500, "mock scratch overflow");
  } else if (f.stream) {
    co_await answer_stream(c, s, words);
  } else {
    co_await answer_complete(c, s, filler::words(0, words));
  }
}

runtime::task<void> openai_embeddings(request_ctx& c, const request_fields& f) {
  constexpr uint64_t inputs_max = 4096;
  if (f.model.empty()) {
    co_await answer_error(c, wire::openai, 400, "you must provide a model parameter");
    co_return;
  }
  if (!f.has_input || f.inputs > inputs_max) {
    co_await answer_error(c, wire::openai, 400, "'input' must hold 1 to 4096 inputs");
    co_return;
  }
  scratch& sc = c.sc;
  script s;
  s.before = sc.add(R"({"object":"list","data":[)").take();
  sc.add(R"(],"model":)").add(f.model).add(R"(,"usage":{"prompt_tokens":)").num(c.prompt_tokens);
  s.after = sc.add(R"(,"total_tokens":)").num(c.prompt_tokens).add("}}").take();
  s.malformed = sc.add(R"({"object":"list","data":[{not json)").take();
  co_await answer_complete(c, s, filler::items(&embedding_item, f.base64 ? 1 : 0, f.inputs));
}

runtime::task<void> openai_models(request_ctx& c) {
  script s;
  s.before = R"({"object":"list","data":[)"
             R"({"id":"mock-small","object":"model","created":1700000000,"owned_by":"mockllm"},)"
             R"({"id":"mock-large","object":"model","created":1700000000,"owned_by":"mockllm"},)"
             R"({"id":"mock-embed","object":"model","created":1700000000,"owned_by":"mockllm"}]})";
  s.malformed = R"({"object":"list","data":[{not json)";
  co_await answer_complete(c, s, filler::repeat(0));
}

}  // namespace rg::mockllm
