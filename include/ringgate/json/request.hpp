// Request inspection and byte-span rewriting for same-protocol proxying (DESIGN §4 rule 3): read
// the few fields routing and accounting need, then splice new bytes in without re-serialising.
#pragma once

#include <ringgate/json/padded.hpp>

#include <cstddef>
#include <cstdint>
#include <expected>
#include <span>
#include <string_view>

namespace rg::json {

// Half-open byte range [begin, end) into the inspected body.
struct span {
  uint32_t begin = 0, end = 0;
  bool empty() const { return begin == end; }
  uint32_t size() const { return end - begin; }
};

// The longest model name accepted (after unescaping); longer → request_error::model_too_long.
inline constexpr size_t model_bytes_max = 256;
// Containers nested deeper than this → request_error::too_deep (bounds the validator's stack).
inline constexpr uint32_t request_depth_max = 128;

struct request_info {
  // The model, unescaped. Points into the body when the JSON string has no escapes (the usual
  // case), else into the caller's model_scratch. Valid while both live.
  std::string_view model;
  span model_span;      // the model's JSON string token, quotes included
  bool stream = false;  // absent → false
  bool has_stream_options = false;
  bool include_usage = false;  // stream_options.include_usage (null or absent → false)
  span stream_options_span;    // value of "stream_options" ({...} or null) when present
  span include_usage_span;     // value of stream_options.include_usage when present
  uint32_t object_begin = 0;   // offset of the top-level '{'
  // max_tokens / max_completion_tokens (Anthropic: max_tokens); the larger if both are given
  // (conservative for budget reservations); -1 if absent or null.
  int64_t max_tokens = -1;
  // Unescaped bytes of every string value under the top-level prompt-bearing keys (messages,
  // input, prompt, system, instructions, tools, functions), excluding values of keys url, data,
  // file_data and image_url (base64 media says nothing about text tokens). Includes small
  // strings such as roles and "type":"text"; token-id arrays count zero. For estimates only.
  uint64_t prompt_chars = 0;
  // How many string values prompt_chars counted (each message has at least one, its role): a
  // bound on the per-message tokens a chat template adds, for worst-case estimates.
  uint64_t prompt_strings = 0;
};

enum class request_error : uint8_t {
  invalid_json,  // not one RFC 8259 JSON text (see inspect_request)
  not_an_object,
  too_deep,
  body_too_large,  // > 4 GiB: offsets are 32-bit
  missing_model,
  model_not_string,
  model_empty,
  model_too_long,
  model_has_escapes,  // model uses escapes and no (or too small a) model_scratch was given
  duplicate_model,
  duplicate_key,  // stream, stream_options, max_tokens, max_completion_tokens or include_usage
  stream_not_boolean,
  stream_options_not_object,
  include_usage_not_boolean,
  max_tokens_invalid,  // not a non-negative integer (or null)
};

// Client-facing text for a 400 body, e.g. "'model' must be a string".
std::string_view message(request_error e) noexcept;

// Inspects a request body. body.data() must have json_padding readable bytes after body.size().
//
// Validation is complete, not lazy: the whole body must be one RFC 8259 JSON text whose root is an
// object — UTF-8, structure (commas, colons, brackets), string escapes (including surrogate
// pairing), number grammar and literals are all checked, in skipped values too, and nothing but
// whitespace may follow the root. Forwarding only what we fully understood keeps the gateway and
// the upstream from reading different requests. Top-level keys are compared unescaped, so
// "mod\u0065l" is "model"; a repeated model/stream/stream_options/max_tokens/
// max_completion_tokens (or include_usage inside stream_options) is rejected, since parsers
// disagree on which duplicate wins. Keys elsewhere may repeat (not interpreted here).
//
// When the JSON is invalid the answer is invalid_json (or too_deep) whatever else is wrong;
// otherwise the first field-level problem in document order, then missing_model.
//
// model_scratch receives the unescaped model only when its JSON string contains escapes; pass
// model_bytes_max bytes to accept such models, or nothing to reject them (model_has_escapes).
std::expected<request_info, request_error> inspect_request(std::string_view body,
                                                           std::span<char> model_scratch = {});

// The rewritten body as pieces to send in order (iovecs); each points into the body, into static
// storage, or into the caller's strings, so all of those must outlive the splice.
struct splice {
  static constexpr size_t pieces_max = 8;
  std::string_view pieces[pieces_max];
  size_t count = 0;
  size_t total_bytes() const;  // the new Content-Length
};

enum class usage_policy : uint8_t {
  keep,             // leave stream_options alone
  ensure_included,  // streaming requests: make stream_options.include_usage true
};

struct rewrite_options {
  std::string_view
      quoted_model;  // new model as a JSON string token, e.g. "\"gpt-4o\""; empty: keep
  usage_policy usage = usage_policy::keep;
};

// Applies the model rewrite and the usage injection in one splice (edits never overlap: the model
// is a top-level string token, the usage edit is at the top-level '{' or inside stream_options).
// `info` must come from inspect_request(body). The usage edit happens only when info.stream and not
// info.include_usage:
//   no stream_options        → insert "stream_options":{"include_usage":true}, after the '{'
//                              (no comma for an empty object)
//   stream_options: null     → replaced by {"include_usage":true}
//   include_usage false/null → its value replaced by true
//   object without it        → "include_usage":true, inserted after its '{' (keeps the others)
// No scratch memory is needed: every inserted piece is a static string.
splice rewrite_request(std::string_view body, const request_info& info,
                       const rewrite_options& options);
splice rewrite_model(std::string_view body, const request_info& info,
                     std::string_view quoted_new_model);
splice ensure_include_usage(std::string_view body, const request_info& info);

// True when rewrite_request with usage_policy::ensure_included would change stream_options.
bool needs_include_usage(const request_info& info);

}  // namespace rg::json
