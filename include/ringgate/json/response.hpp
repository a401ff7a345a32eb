// Usage and error extraction from upstream responses, for accounting and error mapping. Lazy:
// only the path to the wanted field is read, so the rest of the body is not validated.
#pragma once

#include <ringgate/json/padded.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace rg::json {

// Token counts in OpenAI's sense: prompt_tokens includes cached_tokens. -1 = not reported.
struct usage {
  int64_t prompt_tokens = -1, completion_tokens = -1, total_tokens = -1, cached_tokens = -1;
  bool present() const {
    return prompt_tokens >= 0 || completion_tokens >= 0 || total_tokens >= 0 || cached_tokens >= 0;
  }
  // total_tokens when reported, else prompt + completion when both are known, else -1.
  int64_t total() const;
};

// `later`'s reported fields override `earlier`'s (streams report usage in several events, the
// later count being cumulative).
usage merge(const usage& earlier, const usage& later);

// Every function below takes JSON with json_padding readable bytes behind it. The overloads with
// `scratch` first copy a payload that lacks padding (an SSE data line inside a receive buffer)
// into scratch, which needs payload.size() + json_padding bytes; when it is smaller they answer
// nullopt, like a payload without the field. Views they return then point into scratch.

// From a chat.completions / embeddings response or one chat.completion.chunk payload: top-level
// "usage" {prompt_tokens, completion_tokens, total_tokens, prompt_tokens_details.cached_tokens}.
// nullopt when usage is absent, null, not an object, reports nothing, or the JSON is broken
// before it. A payload without the bytes "usage" is answered without parsing.
std::optional<usage> extract_usage_openai(std::string_view json);
std::optional<usage> extract_usage_openai(std::string_view payload, std::span<char> scratch);

// Whether an OpenAI chat.completion.chunk (its event text or data) carries generated output: a
// "content" or tool-call "arguments" member whose value is a non-empty string. The role-only
// first chunk ("content":"") and a tool call's opening chunk ("content":null, "arguments":"")
// do not. The text is scanned, not parsed (no padding needed): a key inside a string value has
// its quotes escaped, so it is not taken for a member. One pass for both keys.
bool openai_chunk_has_output(std::string_view text) noexcept;

// Anthropic: top-level "usage" (a messages response, message_delta) or "message"."usage"
// (message_start). Normalised to OpenAI's meaning: prompt_tokens = input_tokens +
// cache_read_input_tokens + cache_creation_input_tokens (those present), cached_tokens =
// cache_read_input_tokens, completion_tokens = output_tokens; total_tokens is never set (merge
// message_start with the last message_delta, then use usage::total()).
std::optional<usage> extract_usage_anthropic(std::string_view json);
std::optional<usage> extract_usage_anthropic(std::string_view payload, std::span<char> scratch);

// If the body is an error in OpenAI's shape {"error":{"message":"...",...}} (Anthropic's
// {"type":"error","error":{...,"message":"..."}} matches too), its message as it appears in the
// JSON: still escaped, so it can be copied verbatim into another JSON string (see
// json_writer::escaped_string) or decoded with unescape().
std::optional<std::string_view> openai_error_message(std::string_view json);
std::optional<std::string_view> openai_error_message(std::string_view payload,
                                                     std::span<char> scratch);

// Decodes the contents of a JSON string (no quotes) into out. nullopt on a bad escape or when out
// is too small (the result is never longer than the input).
std::optional<std::string_view> unescape(std::string_view escaped, std::span<char> out);

}  // namespace rg::json
