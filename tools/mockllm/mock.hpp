// mockllm's shared vocabulary: the CLI defaults, the per-request plan (defaults overridden by
// x-mock-* headers), the fields read from a request body, and the answer's pre-rendered pieces.
// Invariant: nothing here owns memory; views point into the request or the request's scratch.
#pragma once

#include <cstdint>
#include <string_view>

namespace rg::mockllm {

// Defaults from the command line; every one can be overridden per request by a header.
struct options {
  uint32_t chunks = 16;        // x-mock-chunks: content events in a stream
  uint32_t delay_ms = 0;       // x-mock-delay-ms: before each content event
  uint32_t first_byte_ms = 0;  // x-mock-first-byte-ms: before the response head
  uint32_t words = 24;         // x-mock-words: words in the answer's text
};

// Bounds on what a request may ask for (every loop in the mock is bounded).
inline constexpr uint64_t words_max = 1u << 22;
inline constexpr uint64_t chunks_max = 1u << 20;
inline constexpr uint64_t delay_ms_max = 600'000;
inline constexpr uint64_t oversized_bytes_max = 256ull << 20;

enum class fault : uint8_t {
  none,
  close_before_headers,  // close without sending a byte
  reset_after,           // K content events, then RST
  stall_after,           // K content events, then silence until the client goes away
  eof_after,             // K content events, then a proper end of the chunked body (no terminator)
  close_after,           // K content events, then FIN without ending the chunked body
  malformed_json,        // a body / an event that is not JSON
  oversized_line,        // one data line of `fault_arg` bytes
  close_after_response,  // a whole keep-alive answer, then the connection is closed
};

// Whether a fault ends the answer after `fault_arg` content events.
constexpr bool cuts_stream(fault f) noexcept {
  return f == fault::reset_after || f == fault::stall_after || f == fault::eof_after ||
         f == fault::close_after;
}

// What one request gets, decided from the CLI defaults and its x-mock-* headers.
struct plan {
  uint64_t words = 0;
  uint64_t chunks = 0;
  uint64_t delay_ms = 0;
  uint64_t first_byte_ms = 0;
  fault what = fault::none;
  uint64_t fault_arg = 0;
  bool delayed_head = false;  // x-mock-fault: delay-headers (counted as a fault)
  uint16_t status = 200;      // x-mock-status
  std::string_view retry_after;
  std::string_view retry_after_ms;
  std::string_view error_body;  // x-mock-error-body; empty = a protocol-shaped default
  bool error_body_set = false;
};

enum class wire : uint8_t { openai, anthropic };

// Fields read from a JSON request body.
struct request_fields {
  std::string_view model;  // the raw JSON string token, quotes included; empty when absent
  bool stream = false;
  bool include_usage = false;
  bool has_max_tokens = false;
  uint64_t max_tokens = 0;
  bool has_messages = false;
  std::string_view tool_name;  // raw JSON string token of the first tool's name; empty: no tools
  bool has_tools = false;
  bool has_input = false;  // embeddings
  uint64_t inputs = 0;     // embeddings: one embedding per input
  bool base64 = false;     // embeddings: encoding_format "base64"
};

// An answer as pre-rendered pieces around its generated text. A stream is `before` (the events
// ahead of the content), content events (content_prefix + words + content_suffix each), then
// `after` (the closing events and the terminator). A complete answer is before + text + after,
// with content_* unused.
struct script {
  uint16_t status = 200;
  std::string_view content_type = "application/json";
  std::string_view before;
  std::string_view content_prefix;
  std::string_view content_suffix;
  std::string_view after;
  std::string_view malformed;  // the body (complete) or event (stream) for fault::malformed_json
};

}  // namespace rg::mockllm
