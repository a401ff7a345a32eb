// Tests for rg::json usage and error extraction: OpenAI and Anthropic shapes, null/missing parts,
// SSE payloads copied into padded scratch.
#include <ringgate/json/response.hpp>

#include "padded_text.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace rg::json;
using rg::json::testing::padded_text;

std::optional<usage> openai(std::string_view text) {
  padded_text body(text);
  return extract_usage_openai(body.view());
}

std::optional<usage> anthropic(std::string_view text) {
  padded_text body(text);
  return extract_usage_anthropic(body.view());
}

void expect_usage(const std::optional<usage>& u, int64_t prompt, int64_t completion, int64_t total,
                  int64_t cached) {
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->prompt_tokens, prompt);
  EXPECT_EQ(u->completion_tokens, completion);
  EXPECT_EQ(u->total_tokens, total);
  EXPECT_EQ(u->cached_tokens, cached);
}

constexpr std::string_view final_chunk =
    R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o",)"
    R"("choices":[],"usage":{"prompt_tokens":120,"completion_tokens":34,"total_tokens":154,)"
    R"("prompt_tokens_details":{"cached_tokens":64,"audio_tokens":0},)"
    R"("completion_tokens_details":{"reasoning_tokens":0}}})";

TEST(UsageOpenai, FinalChunk) {
  expect_usage(openai(final_chunk), 120, 34, 154, 64);
}

TEST(UsageOpenai, FullResponseUsageFirstAndMissingDetails) {
  expect_usage(openai(R"({"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12},)"
                      R"("choices":[{"message":{"content":"usage"}}]})"),
               5, 7, 12, -1);
  expect_usage(openai(R"({"usage":{"prompt_tokens":5,"prompt_tokens_details":null}})"), 5, -1, -1,
               -1);
  expect_usage(openai(R"({"usage":{"prompt_tokens_details":{},"total_tokens":3}})"), -1, -1, 3, -1);
}

TEST(UsageOpenai, Embeddings) {
  expect_usage(openai(R"({"object":"list","data":[{"object":"embedding","index":0,)"
                      R"("embedding":[0.1,-0.2]}],"model":"e","usage":{"prompt_tokens":8,)"
                      R"("total_tokens":8}})"),
               8, -1, 8, -1);
}

TEST(UsageOpenai, NotPresent) {
  for (std::string_view text : {
           R"({"id":"1","choices":[{"delta":{"content":"hi"}}],"usage":null})",
           R"({"id":"1","choices":[{"delta":{"content":"hi"}}]})",
           R"({"choices":[{"delta":{"content":"the \"usage\": field"}}]})",
           R"({"choices":[{"usage":{"prompt_tokens":1}}]})",  // not top level
           R"({"usage":{}})",
           R"({"usage":{"prompt_tokens":null,"completion_tokens":"3","total_tokens":-1}})",
           R"({"usage":[1,2]})",
           R"({"usage":7})",
           R"({"usage" {"prompt_tokens":1}})",
           R"(["usage"])",
           "",
       }) {
    EXPECT_FALSE(openai(text).has_value()) << text;
  }
}

// The usage object near the end is read from the tail alone; whatever the tail cannot vouch for
// (a "usage" nested deeper, escaped, or far from the end) is read from the start, with the same
// answer.
TEST(UsageOpenai, TailAndFullReadsAgree) {
  const std::string usage5 =
      R"("usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12})";
  for (const std::string& text : std::vector<std::string>{
           "{\"id\":\"a\"," + usage5 + "}",
           "{\"id\":\"a\"," + usage5 + ",\"system_fingerprint\":\"fp\"}  \n",
           "{" + usage5 + R"(,"x":{"usage":{"prompt_tokens":9}}})",      // nested: last
           "{" + usage5 + R"(,"x":[{"usage":{"prompt_tokens":9}}]})",    // in an array
           "{" + usage5 + R"(,"c":"\"usage\":{\"prompt_tokens\":9}"})",  // inside a string
           "{" + usage5 + R"(,"x\"usage":{"prompt_tokens":9}})",         // escaped quote
           "{" + usage5 + R"(,"finish_reason":"usage"})",                // a value
           std::string(R"({"usage" : {"prompt_tokens":5,"completion_tokens":7,"total_tokens":12,)"
                       R"("note":"}]}"}})"),                               // brackets in strings
           "{" + usage5 + ",\"pad\":\"" + std::string(5000, 'x') + "\"}",  // beyond the window
           "{\"pad\":\"" + std::string(5000, 'x') + "\"," + usage5 + "}",  // long, usage last
       }) {
    expect_usage(openai(text), 5, 7, 12, -1);
  }
  EXPECT_FALSE(openai(R"([{"usage":{"prompt_tokens":1}}])").has_value());
  EXPECT_FALSE(openai(R"({"x":{"usage":{"prompt_tokens":1}}})").has_value());
  EXPECT_FALSE(openai(std::string(R"({"usage":{"prompt_tokens":1}})") + "x").has_value());
  EXPECT_FALSE(openai(R"({"usage":{"prompt_tokens":1})").has_value());  // cut off
}

// Usage objects near the end of the answer are read without simdjson when they have the
// everyday shape; each must give what simdjson's read gives (forced here by putting the object
// beyond the tail window), including the shapes the fast reader hands back to simdjson.
TEST(UsageOpenai, FastTailReaderAgreesWithSimdjson) {
  const std::string pad = ",\"pad\":\"" + std::string(5000, 'x') + "\"";
  for (
      std::string_view object : {
          R"({"prompt_tokens":5,"completion_tokens":7,"total_tokens":12})",
          R"({ "prompt_tokens" : 5 , "completion_tokens":7 ,"total_tokens": 12 })",
          R"({"prompt_tokens":120,"completion_tokens":34,"total_tokens":154,)"
          R"("prompt_tokens_details":{"cached_tokens":64,"audio_tokens":0},)"
          R"("completion_tokens_details":{"reasoning_tokens":0}})",
          R"({"prompt_tokens":5,"prompt_tokens_details":null})",
          R"({"prompt_tokens_details":{},"total_tokens":3})",
          R"({"prompt_tokens":5,"prompt_tokens":6})",  // the last one counts
          R"({"prompt_tokens_details":{"cached_tokens":1,"cached_tokens":2},"prompt_tokens":3})",
          R"({"prompt_tokens_details":{"cached_tokens":1},"prompt_tokens_details":{"cached_tokens":2}})",
          R"({"prompt_tokens":-3,"completion_tokens":-0,"total_tokens":null})",
          R"({"prompt_tokens":007,"completion_tokens":1})",  // invalid number: simdjson decides
          R"({"prompt_tokens":1.5,"completion_tokens":2})",
          R"({"prompt_tokens":1e3,"completion_tokens":2})",
          R"({"prompt_tokens":"3","completion_tokens":2})",
          R"({"prompt_tokens":true,"completion_tokens":2})",
          R"({"prompt_tokens":123456789012345678901,"completion_tokens":2})",
          R"({"prompt_tokens":999999999999999999,"completion_tokens":2})",
          R"({"prompt\u005ftokens":4,"completion_tokens":2})",
          R"({"prompt_tokens":4,"x":{"y":{"z":1}},"completion_tokens":2})",
          R"({"prompt_tokens":4,"x":[1,2],"completion_tokens":2})",
          R"({"prompt_tokens":4,"completion_tokens":2,})",
          R"({"prompt_tokens":4 "completion_tokens":2})",
          R"({"prompt_tokens":4,"completion_tokens":nul})",
          R"({"prompt_tokens":4,"completion_tokens":-})",
          R"({})",
      }) {
    const std::string tail = R"({"id":"a","usage":)" + std::string(object) + "}";
    const std::string full = R"({"usage":)" + std::string(object) + pad + "}";
    const std::optional<usage> fast = openai(tail), slow = openai(full);
    ASSERT_EQ(fast.has_value(), slow.has_value()) << object;
    if (!fast) continue;
    EXPECT_EQ(fast->prompt_tokens, slow->prompt_tokens) << object;
    EXPECT_EQ(fast->completion_tokens, slow->completion_tokens) << object;
    EXPECT_EQ(fast->total_tokens, slow->total_tokens) << object;
    EXPECT_EQ(fast->cached_tokens, slow->cached_tokens) << object;
  }
}

TEST(UsageOpenai, PaddedScratchForSsePayloads) {
  std::string receive_buffer = "data: " + std::string(final_chunk) + "\n\n";
  std::string_view payload = std::string_view(receive_buffer).substr(6, final_chunk.size());
  char scratch[1024];
  expect_usage(extract_usage_openai(payload, scratch), 120, 34, 154, 64);
  std::vector<char> small(payload.size() + json_padding - 1);
  EXPECT_FALSE(extract_usage_openai(payload, small).has_value());
  EXPECT_FALSE(extract_usage_openai(R"({"choices":[]})", scratch).has_value());
}

TEST(UsageAnthropic, MessageStartDeltaAndMerge) {
  auto start = anthropic(
      R"({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant",)"
      R"("content":[],"model":"claude","stop_reason":null,"usage":{"input_tokens":25,)"
      R"("cache_creation_input_tokens":10,"cache_read_input_tokens":100,"output_tokens":1}}})");
  expect_usage(start, 135, 1, -1, 100);
  auto delta = anthropic(
      R"({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},)"
      R"("usage":{"output_tokens":15}})");
  expect_usage(delta, -1, 15, -1, -1);
  usage total = merge(*start, *delta);
  EXPECT_EQ(total.prompt_tokens, 135);
  EXPECT_EQ(total.completion_tokens, 15);
  EXPECT_EQ(total.cached_tokens, 100);
  EXPECT_EQ(total.total(), 150);
}

TEST(UsageAnthropic, FullResponseAndAbsence) {
  expect_usage(anthropic(R"({"id":"msg_1","type":"message","content":[{"type":"text",)"
                         R"("text":"hi"}],"usage":{"input_tokens":12,"output_tokens":6}})"),
               12, 6, -1, -1);
  EXPECT_FALSE(anthropic(R"({"type":"content_block_delta","index":0,)"
                         R"("delta":{"type":"text_delta","text":"usage"}})")
                   .has_value());
  EXPECT_FALSE(anthropic(R"({"type":"message_start","message":{"usage":null}})").has_value());
  EXPECT_FALSE(anthropic(R"({"type":"ping"})").has_value());
  char scratch[256];
  expect_usage(extract_usage_anthropic(R"({"usage":{"output_tokens":3}})", scratch), -1, 3, -1, -1);
}

TEST(UsageStruct, TotalAndMerge) {
  EXPECT_FALSE(usage{}.present());
  EXPECT_EQ(usage{}.total(), -1);
  EXPECT_EQ((usage{.prompt_tokens = 2, .completion_tokens = 3}).total(), 5);
  EXPECT_EQ((usage{.prompt_tokens = 2, .completion_tokens = 3, .total_tokens = 9}).total(), 9);
  usage m = merge({.prompt_tokens = 1, .completion_tokens = 2}, {.completion_tokens = 5});
  EXPECT_EQ(m.prompt_tokens, 1);
  EXPECT_EQ(m.completion_tokens, 5);
}

TEST(ErrorMessage, OpenaiAndAnthropicShapes) {
  padded_text openai_error(
      R"({"error":{"message":"Rate limit reached for \"gpt-4o\"\nretry","type":"requests",)"
      R"("param":null,"code":"rate_limit_exceeded"}})");
  auto m = openai_error_message(openai_error.view());
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(*m, R"(Rate limit reached for \"gpt-4o\"\nretry)");  // still escaped
  char out[64];
  EXPECT_EQ(unescape(*m, out), "Rate limit reached for \"gpt-4o\"\nretry");

  padded_text anthropic_error(
      R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})");
  EXPECT_EQ(openai_error_message(anthropic_error.view()), "Overloaded");
  char scratch[256];
  EXPECT_EQ(openai_error_message(R"({"error":{"message":""}})", scratch), "");
}

TEST(ErrorMessage, NotAnError) {
  for (std::string_view text : {
           R"({"id":"1","choices":[{"message":{"content":"error"}}]})",
           R"({"error":"plain string"})",
           R"({"error":null})",
           R"({"error":{"message":null}})",
           R"({"error":{"message":42}})",
           R"({"error":{"code":"x"}})",
           R"({"error":{"message":"bad \q escape"}})",
           R"(["error"])",
           "not json",
       }) {
    padded_text body(text);
    EXPECT_FALSE(openai_error_message(body.view()).has_value()) << text;
  }
}

TEST(Unescape, Rules) {
  char out[16];
  EXPECT_EQ(unescape(R"(a\u00e9\/\t)", out), "a\xc3\xa9/\t");
  EXPECT_FALSE(unescape(R"(\ud800)", out).has_value());
  EXPECT_FALSE(unescape(R"(\)", out).has_value());
  char tiny[2];
  EXPECT_FALSE(unescape("abc", tiny).has_value());
  EXPECT_EQ(unescape("", tiny), "");
}

TEST(CopyPadded, Sizes) {
  char scratch[json_padding + 3];
  auto copy = copy_padded("abc", scratch);
  ASSERT_TRUE(copy.has_value());
  EXPECT_EQ(*copy, "abc");
  EXPECT_EQ(copy->data(), scratch);
  EXPECT_FALSE(copy_padded("abcd", scratch).has_value());
  EXPECT_FALSE(copy_padded("", std::span<char>(scratch, json_padding - 1)).has_value());
  EXPECT_TRUE(reserve_thread_parser(1 << 16));
}

// ---- openai_chunk_has_output: the stream's time to first token waits for it ----

TEST(ChunkHasOutput, OpenAiChunks) {
  const std::string role = R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,)"
                           R"("model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant",)"
                           R"("content":""},"logprobs":null,"finish_reason":null}],"usage":null})";
  EXPECT_FALSE(openai_chunk_has_output(role));
  EXPECT_FALSE(openai_chunk_has_output("data: " + role + "\n\n"));
  EXPECT_TRUE(openai_chunk_has_output(
      R"(data: {"choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]})"));
  EXPECT_TRUE(openai_chunk_has_output(R"({"delta":{"content": 	"x"}})"));  // blanks
  // A tool call: opening chunk without output, then its arguments.
  EXPECT_FALSE(openai_chunk_has_output(
      R"({"choices":[{"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,)"
      R"("id":"call_1","type":"function","function":{"name":"f","arguments":""}}]}}]})"));
  EXPECT_TRUE(openai_chunk_has_output(
      R"({"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\""}}]}}]})"));
  // Finish and usage chunks, [DONE], a key's text inside a string value (its quotes escaped).
  EXPECT_FALSE(openai_chunk_has_output(
      R"({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null})"));
  EXPECT_FALSE(openai_chunk_has_output("data: [DONE]\n\n"));
  EXPECT_FALSE(openai_chunk_has_output(R"({"delta":{"content":"","refusal":"\"content\":\"x"}})"));
  EXPECT_TRUE(
      openai_chunk_has_output(R"({"delta":{"content":"","x":1},"delta2":{"content":"y"}})"));
}

// The one-pass scan against two searches, one per key, that test each occurrence (the relay's
// former check): texts built from fragments, cut at every length, so keys and values meet the
// text's end and the scan's 16-byte steps everywhere.
bool has_output_by_two_searches(std::string_view text) {
  for (std::string_view key :
       {std::string_view("\"content\":"), std::string_view("\"arguments\":")}) {
    for (size_t at = text.find(key); at != std::string_view::npos; at = text.find(key, at + 1)) {
      std::string_view v = text.substr(at + key.size());
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      if (v.size() > 1 && v[0] == '"' && v[1] != '"') return true;
    }
  }
  return false;
}

TEST(ChunkHasOutput, AgreesWithTwoSearchesOnEveryPrefix) {
  const std::vector<std::string_view> parts = {R"("content":"")",
                                               R"("content":null)",
                                               R"("content":"a")",
                                               R"("content": "")",
                                               R"("arguments":"")",
                                               R"("arguments":"{")",
                                               R"("choices":[)",
                                               R"("created":1,)",
                                               R"("a)",
                                               R"("c)",
                                               "\"",
                                               "xxxxxxx",
                                               R"("contents":"z")",
                                               R"("argument":"z")",
                                               " ",
                                               ","};
  uint32_t seed = 12345;
  for (int round = 0; round < 400; ++round) {
    std::string text;
    for (int k = 0; k < 12; ++k) {
      seed = seed * 1103515245u + 12345u;
      text += parts[(seed >> 16) % parts.size()];
    }
    for (size_t len = 0; len <= text.size(); ++len) {
      const std::string_view t(text.data(), len);
      ASSERT_EQ(openai_chunk_has_output(t), has_output_by_two_searches(t)) << t;
    }
  }
}

}  // namespace
