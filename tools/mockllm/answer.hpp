// Answering one request: the drivers that send a complete or a streamed answer from its script,
// pacing and fault injection, and the protocol renderers that build the scripts.
// Invariant: on any send failure or injected break of the framing the exchange is force-closed,
// so the session never reuses a connection whose byte stream is not a whole response.
#pragma once

#include <cstdint>
#include <string_view>

#include <ringgate/httpd/exchange.hpp>
#include <ringgate/runtime/task.hpp>

#include "mock.hpp"
#include "stats.hpp"
#include "writer.hpp"

namespace rg::mockllm {

// One request in progress.
struct request_ctx {
  httpd::exchange& ex;
  const plan& p;
  stats& st;
  uint32_t shard;
  body_writer& w;
  scratch& sc;  // where the script's pieces are rendered
  uint64_t id;  // unique across shards, for chatcmpl-mock-<id> and friends
  uint64_t prompt_tokens;
};

// Scratch and writer share one pooled block per request.
inline constexpr size_t block_bytes = 16 * 1024;
inline constexpr size_t scratch_bytes = 4 * 1024;

// ---- drivers (answer.cpp) ----
// A complete answer: script.before + text + script.after with a content-length.
runtime::task<void> answer_complete(request_ctx& c, const script& s, filler text);
// A stream: before, `chunks` content events splitting `words` words, after.
runtime::task<void> answer_stream(request_ctx& c, const script& s, uint64_t words);
// A whole small body with a content-length (errors, models).
runtime::task<void> answer_body(request_ctx& c, uint16_t status, std::string_view body,
                                std::string_view extra_headers = {});

// ---- pacing and faults (faults.cpp) ----
// Waits `ms` while watching the connection: true when the client went away meanwhile.
runtime::task<bool> client_gone_within(httpd::exchange& ex, uint64_t ms);
// Before the head: the first-byte delay and close-before-headers. False when the answer is over.
runtime::task<bool> before_head(request_ctx& c);
// After K content events: reset, stall, close, or end the body early, as the plan says.
runtime::task<void> cut_answer(request_ctx& c);
// x-mock-status: the status with the given or a protocol-shaped error body.
runtime::task<void> answer_status(request_ctx& c, wire w);
// A protocol-shaped error for a bad request.
runtime::task<void> answer_error(request_ctx& c, wire w, uint16_t status, std::string_view message);

// ---- protocols (openai.cpp, anthropic.cpp) ----
runtime::task<void> openai_chat(request_ctx& c, const request_fields& f);
runtime::task<void> openai_embeddings(request_ctx& c, const request_fields& f);
runtime::task<void> openai_models(request_ctx& c);
runtime::task<void> anthropic_messages(request_ctx& c, const request_fields& f);

// Words in the answer: the plan's, cut to max_tokens when the request sets fewer.
inline uint64_t answer_words(const plan& p, const request_fields& f) noexcept {
  return f.has_max_tokens && f.max_tokens < p.words ? f.max_tokens : p.words;
}

}  // namespace rg::mockllm
