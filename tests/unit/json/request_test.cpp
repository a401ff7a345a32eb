// Tests for rg::json::inspect_request: field extraction, one row per field rule, and full-document
// validation (every malformed variant must be invalid_json, even inside values we skip).
#include <ringgate/json/request.hpp>

#include "padded_text.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <random>

#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace rg::json;
using rg::json::testing::padded_text;

std::expected<request_info, request_error> inspect(const padded_text& body,
                                                   std::span<char> scratch = {}) {
  return inspect_request(body.view(), scratch);
}

std::string_view at(const padded_text& body, span s) {
  return body.view().substr(s.begin, s.size());
}

request_error error_of(std::string_view text) {
  padded_text body(text);
  auto r = inspect(body);
  EXPECT_FALSE(r.has_value()) << text;
  return r.has_value() ? request_error::invalid_json : r.error();
}

constexpr std::string_view chat =
    R"({"model":"gpt-4o","messages":[{"role":"system","content":"Be brief."},)"
    R"({"role":"user","content":"Hi"}],"temperature":0.2})";

TEST(InspectRequest, ModelFirst) {
  padded_text body(chat);
  auto r = inspect(body);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->model, "gpt-4o");
  EXPECT_EQ(at(body, r->model_span), "\"gpt-4o\"");
  EXPECT_EQ(r->object_begin, 0u);
  EXPECT_FALSE(r->stream);
  EXPECT_FALSE(r->has_stream_options);
  EXPECT_EQ(r->max_tokens, -1);
  // The model view points into the body itself (no copy).
  EXPECT_EQ(r->model.data(), body.view().data() + r->model_span.begin + 1);
}

TEST(InspectRequest, ModelMiddleAndLastWithWhitespace) {
  for (std::string_view text : {
           "  \n{ \"messages\" : [] ,\r\n \"model\" :\t\"m-1\" , \"n\" : 1 }  \n",
           "{\"messages\":[],\"n\":1,\"model\":\"m-1\"}",
           "\t{\"model\"\n:\n\"m-1\"\n}",
       }) {
    padded_text body(text);
    auto r = inspect(body);
    ASSERT_TRUE(r.has_value()) << text;
    EXPECT_EQ(r->model, "m-1");
    EXPECT_EQ(at(body, r->model_span), "\"m-1\"");
    EXPECT_EQ(body.view()[r->object_begin], '{');
  }
}

TEST(InspectRequest, NestedModelAndStreamKeysAreNotTopLevel) {
  padded_text body(R"({"model":"a","metadata":{"model":"b","stream":"yes"},)"
                   R"("messages":[{"role":"user","content":"x","model":1,"model":2}],)"
                   R"("tools":[{"function":{"parameters":{"model":{"type":"string"}}}}]})");
  auto r = inspect(body);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->model, "a");
  EXPECT_FALSE(r->stream);
}

TEST(InspectRequest, Stream) {
  padded_text on(R"({"model":"m","stream":true})");
  padded_text off(R"({"stream":false,"model":"m"})");
  ASSERT_TRUE(inspect(on).has_value());
  EXPECT_TRUE(inspect(on)->stream);
  ASSERT_TRUE(inspect(off).has_value());
  EXPECT_FALSE(inspect(off)->stream);
}

TEST(InspectRequest, StreamMustBeBoolean) {
  for (std::string_view text : {
           R"({"model":"m","stream":"true"})",
           R"({"model":"m","stream":1})",
           R"({"model":"m","stream":0})",
           R"({"model":"m","stream":null})",
           R"({"model":"m","stream":[true]})",
           R"({"model":"m","stream":{}})",
       }) {
    EXPECT_EQ(error_of(text), request_error::stream_not_boolean) << text;
  }
}

TEST(InspectRequest, StreamOptions) {
  struct row {
    std::string_view text;
    bool include_usage;
    std::string_view options;        // expected stream_options_span text
    std::string_view include_value;  // expected include_usage_span text
  };
  for (const row& row : std::vector<row>{
           {R"({"model":"m","stream":true,"stream_options":{"include_usage":true}})", true,
            R"({"include_usage":true})", "true"},
           {R"({"model":"m","stream_options":{ "include_usage" : false } ,"stream":true})", false,
            R"({ "include_usage" : false })", "false"},
           {R"({"model":"m","stream_options":{"x":[1,{"include_usage":true}]}})", false,
            R"({"x":[1,{"include_usage":true}]})", ""},
           {R"({"model":"m","stream_options":{"include_usage":null}})", false,
            R"({"include_usage":null})", "null"},
           {R"({"model":"m","stream_options":{}})", false, "{}", ""},
           {"{\"model\":\"m\",\"stream_options\":null\n}", false, "null", ""},
       }) {
    padded_text body(row.text);
    auto r = inspect(body);
    ASSERT_TRUE(r.has_value()) << row.text;
    EXPECT_TRUE(r->has_stream_options) << row.text;
    EXPECT_EQ(r->include_usage, row.include_usage) << row.text;
    EXPECT_EQ(at(body, r->stream_options_span), row.options) << row.text;
    EXPECT_EQ(at(body, r->include_usage_span), row.include_value) << row.text;
  }
}

TEST(InspectRequest, StreamOptionsErrors) {
  EXPECT_EQ(error_of(R"({"model":"m","stream_options":true})"),
            request_error::stream_options_not_object);
  EXPECT_EQ(error_of(R"({"model":"m","stream_options":[]})"),
            request_error::stream_options_not_object);
  EXPECT_EQ(error_of(R"({"model":"m","stream_options":{"include_usage":"true"}})"),
            request_error::include_usage_not_boolean);
  EXPECT_EQ(error_of(R"({"model":"m","stream_options":{"include_usage":1}})"),
            request_error::include_usage_not_boolean);
  // Parsers disagree on which duplicate wins: a client could hide usage from accounting.
  EXPECT_EQ(
      error_of(R"({"model":"m","stream_options":{"include_usage":true,"include_usage":false}})"),
      request_error::duplicate_key);
}

TEST(InspectRequest, MaxTokens) {
  struct row {
    std::string_view text;
    int64_t max_tokens;
  };
  for (const row& row : std::vector<row>{
           {R"({"model":"m"})", -1},
           {R"({"model":"m","max_tokens":100})", 100},
           {R"({"model":"m","max_tokens":0})", 0},
           {R"({"model":"m","max_completion_tokens":4096})", 4096},
           {R"({"model":"m","max_tokens":10,"max_completion_tokens":20})", 20},
           {R"({"max_completion_tokens":20,"model":"m","max_tokens":30})", 30},
           {R"({"model":"m","max_tokens":null})", -1},
           {R"({"model":"m","max_tokens":9223372036854775807})", 9223372036854775807},
       }) {
    padded_text body(row.text);
    auto r = inspect(body);
    ASSERT_TRUE(r.has_value()) << row.text;
    EXPECT_EQ(r->max_tokens, row.max_tokens) << row.text;
  }
  for (std::string_view text : {
           R"({"model":"m","max_tokens":1.5})",
           R"({"model":"m","max_tokens":100.0})",
           R"({"model":"m","max_tokens":1e3})",
           R"({"model":"m","max_tokens":-1})",
           R"({"model":"m","max_tokens":-0})",
           R"({"model":"m","max_tokens":9223372036854775808})",
           R"({"model":"m","max_tokens":"100"})",
           R"({"model":"m","max_completion_tokens":true})",
       }) {
    EXPECT_EQ(error_of(text), request_error::max_tokens_invalid) << text;
  }
}

TEST(InspectRequest, PromptChars) {
  struct row {
    std::string_view text;
    uint64_t chars;
  };
  for (const row& row : std::vector<row>{
           // "user" (4) + "Hello" (5)
           {R"({"model":"m","messages":[{"role":"user","content":"Hello"}]})", 9},
           // escapes count unescaped: "a\nb" is 3 bytes, "\u00e9" is 2
           {R"({"model":"m","messages":[{"content":"a\nb\u00e9"}]})", 5},
           // image data is not text: "user" + "text" + "hi" + "image_url"
           {R"({"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"},)"
            R"({"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}]})",
            4 + 4 + 2 + 9},
           {R"({"model":"m","input":"embed me"})", 8},
           {R"({"model":"m","input":["ab","cd"]})", 4},
           {R"({"model":"m","input":[1,2,3]})", 0},
           {R"({"model":"m","prompt":"abc","suffix":"not counted"})", 3},
           {R"({"model":"m","system":"sys","messages":[]})", 3},
           {R"({"model":"m","user":"not counted","metadata":{"k":"v"}})", 0},
       }) {
    padded_text body(row.text);
    auto r = inspect(body);
    ASSERT_TRUE(r.has_value()) << row.text;
    EXPECT_EQ(r->prompt_chars, row.chars) << row.text;
  }
}

TEST(InspectRequest, ModelRules) {
  EXPECT_EQ(error_of("{}"), request_error::missing_model);
  EXPECT_EQ(error_of(R"({"messages":[{"model":"x"}]})"), request_error::missing_model);
  EXPECT_EQ(error_of(R"({"model":1})"), request_error::model_not_string);
  EXPECT_EQ(error_of(R"({"model":null})"), request_error::model_not_string);
  EXPECT_EQ(error_of(R"({"model":["gpt-4o"]})"), request_error::model_not_string);
  EXPECT_EQ(error_of(R"({"model":{"name":"gpt-4o"}})"), request_error::model_not_string);
  EXPECT_EQ(error_of(R"({"model":true})"), request_error::model_not_string);
  EXPECT_EQ(error_of(R"({"model":""})"), request_error::model_empty);
  std::string longest = R"({"model":")" + std::string(model_bytes_max, 'm') + "\"}";
  padded_text ok(longest);
  ASSERT_TRUE(inspect(ok).has_value());
  EXPECT_EQ(inspect(ok)->model.size(), model_bytes_max);
  std::string too_long = R"({"model":")" + std::string(model_bytes_max + 1, 'm') + "\"}";
  EXPECT_EQ(error_of(too_long), request_error::model_too_long);
}

TEST(InspectRequest, DuplicateModel) {
  EXPECT_EQ(error_of(R"({"model":"a","model":"b"})"), request_error::duplicate_model);
  EXPECT_EQ(error_of(R"({"model":"a","messages":[],"model":"a"})"), request_error::duplicate_model);
  EXPECT_EQ(error_of(R"({"model":"a","model":1})"), request_error::duplicate_model);
  // Keys compare unescaped: "mod\u0065l" is "model".
  EXPECT_EQ(error_of(R"({"model":"a","mod\u0065l":"b"})"), request_error::duplicate_model);
}

TEST(InspectRequest, DuplicateInterpretedKeys) {
  for (std::string_view text : {
           R"({"model":"m","stream":false,"stream":true})",
           R"({"model":"m","stream_options":null,"stream_options":{"include_usage":false}})",
           R"({"model":"m","max_tokens":1,"max_tokens":100000})",
           R"({"model":"m","max_completion_tokens":1,"max_completion_tokens":2})",
           R"({"model":"m","stream":true,"str\u0065am":false})",
       }) {
    EXPECT_EQ(error_of(text), request_error::duplicate_key) << text;
  }
  // Uninterpreted keys may repeat.
  padded_text body(R"({"model":"m","temperature":1,"temperature":2})");
  EXPECT_TRUE(inspect(body).has_value());
}

TEST(InspectRequest, EscapedKeyIsRecognised) {
  padded_text body(R"({"mod\u0065l":"m","\u0073tream":true})");
  auto r = inspect(body);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->model, "m");
  EXPECT_TRUE(r->stream);
}

TEST(InspectRequest, ModelEscapes) {
  padded_text body(R"({"model":"gpt\u002d4o\/mini \"x\" \u00e9\ud83d\ude00"})");
  EXPECT_EQ(error_of(body.view()), request_error::model_has_escapes);
  char tiny[8];
  EXPECT_EQ(inspect(body, tiny).error(), request_error::model_has_escapes);
  char scratch[model_bytes_max];
  auto r = inspect(body, scratch);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->model, "gpt-4o/mini \"x\" \xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_EQ(r->model.data(), scratch);
  EXPECT_EQ(at(body, r->model_span), R"("gpt\u002d4o\/mini \"x\" \u00e9\ud83d\ude00")");
  // The scratch is used only when needed.
  padded_text plain(R"({"model":"plain"})");
  EXPECT_NE(inspect(plain, scratch)->model.data(), scratch);
}

TEST(InspectRequest, NotAnObject) {
  for (std::string_view text : {"[]", "[{\"model\":\"m\"}]", "\"model\"", "1", "null", "true"}) {
    EXPECT_EQ(error_of(text), request_error::not_an_object) << text;
  }
}

TEST(InspectRequest, InvalidJson) {
  for (std::string_view text : {
           "",
           " ",
           "\n\t",
           // truncated
           R"({"model":"m")",
           R"({"model":"m",)",
           R"({"model":"m)",
           R"({"model":)",
           R"({"model":"m","messages":[{"role":"user"})",
           // trailing garbage
           R"({"model":"m"} x)",
           R"({"model":"m"}})",
           R"({"model":"m"},)",
           R"({"model":"m"}{})",
           R"({"model":"m"}])",
           R"({"model":"m"} "m")",
           R"({"model":"m"} 1)",
           // structure, including inside values we do not interpret
           R"({model:"m"})",
           R"({"model":"m",n:1})",
           R"({"model":"m","x":{a:1}})",
           R"({"model" "m"})",
           R"({"model":"m" "n":1})",
           R"({"model":"m",})",
           R"({"model":"m","x":[1 2]})",
           R"({"model":"m","x":[1,]})",
           R"({"model":"m","x":[,1]})",
           R"({"model":"m","x":{"a":1 "b":2}})",
           R"({"model":"m","x":{"a":1,}})",
           R"({"model":"m","x":{"a"}})",
           R"({"model":"m","x":[}})",
           R"({"model":"m","x":{]})",
           R"({"model":"m","x":[1]]})",
           R"({"model":"m",,"x":1})",
           R"({"model":"m":"x"})",
           R"({'model':'m'})",
           R"({"model":"m","x":'a'})",
           R"({"model":"m"/*c*/})",
           R"({"model":"m","x":1 // c
})",
           // bad escapes in skipped strings and keys
           R"({"model":"m","x":"\x"})",
           R"({"model":"m","x":"\u12"})",
           R"({"model":"m","x":"\u12G4"})",
           R"({"model":"m","x":"\ud800"})",
           R"({"model":"m","x":"\ud800\u0041"})",
           R"({"model":"m","x":"\udc00"})",
           R"({"model":"m","x":["a\"b\q"]})",
           R"({"model":"m","\q":1})",
           R"({"model":"m","x":{"\u00":1}})",
           R"({"model":"m\q"})",
           // raw control characters and bad UTF-8 inside strings
           "{\"model\":\"m\",\"x\":\"a\nb\"}",
           "{\"model\":\"m\",\"x\":\"a\x01\"}",
           "{\"model\":\"m\",\"x\":\"\xff\"}",
           "{\"model\":\"m\",\"x\":\"\xc0\xaf\"}",
           "{\"model\":\"m\",\"x\":\"\xed\xa0\x80\"}",
           // numbers and literals
           R"({"model":"m","x":01})",
           R"({"model":"m","x":1.})",
           R"({"model":"m","x":.5})",
           R"({"model":"m","x":-})",
           R"({"model":"m","x":+1})",
           R"({"model":"m","x":1e})",
           R"({"model":"m","x":1e+})",
           R"({"model":"m","x":0x10})",
           R"({"model":"m","x":1.2.3})",
           R"({"model":"m","x":NaN})",
           R"({"model":"m","x":Infinity})",
           R"({"model":"m","x":-0.})",
           R"({"model":"m","x":tru})",
           R"({"model":"m","x":truee})",
           R"({"model":"m","x":nul})",
           R"({"model":"m","x":True})",
           R"({"model":"m","x":[nulll]})",
           R"({"model":"m","x":fals})",
           R"({"model":"m","stream":tru})",
           R"({"model":"m","max_tokens":1x})",
           R"({"model":"m","stream_options":nul})",
           R"({"model":"m","x":"a"b})",
       }) {
    EXPECT_EQ(error_of(text), request_error::invalid_json) << text;
  }
}

TEST(InspectRequest, EveryPrefixOfAValidRequestIsInvalid) {
  std::string text(chat);
  for (size_t n = 0; n < text.size(); ++n) {
    request_error e = error_of(text.substr(0, n));
    EXPECT_TRUE(e == request_error::invalid_json) << n << ": " << text.substr(0, n);
  }
}

TEST(InspectRequest, InvalidJsonWinsOverFieldErrors) {
  EXPECT_EQ(error_of(R"({"model":1,"x":[1 2]})"), request_error::invalid_json);
  EXPECT_EQ(error_of(R"({"stream":"yes","x":"\q"})"), request_error::invalid_json);
  EXPECT_EQ(error_of(R"({"x":1})"), request_error::missing_model);
  // Otherwise the first field error in document order.
  EXPECT_EQ(error_of(R"({"stream":1,"model":2})"), request_error::stream_not_boolean);
}

TEST(InspectRequest, ValidEdgeCases) {
  for (std::string_view text : {
           R"({"model":"m","seed":123456789012345678901234567890})",
           R"({"model":"m","x":[1e400,-0,0.5e-3,-1.5E+10,0,1E1,2e-0]})",
           R"({"model":"m","x":"\u0000\"\\\/\b\f\n\r\t\uD83D\uDE00\u00e9"})",
           R"({"model":"m","x":["",{},[],{"":""},null,true,false]})",
           "{\"model\":\"m\",\"x\":\"caf\xc3\xa9 \xf0\x9f\x98\x80 \x7f\"}",
           "{\"model\":\"m\",\"\xe6\x97\xa5\xe6\x9c\xac\":1}",
           R"({"model":"m","x":{"a":{"b":{"c":[[[[{"d":null}]]]]}}}})",
       }) {
    padded_text body(text);
    auto r = inspect(body);
    EXPECT_TRUE(r.has_value()) << text;
  }
}

std::string nested(size_t depth) {
  return R"({"model":"m","x":)" + std::string(depth, '[') + std::string(depth, ']') + "}";
}

TEST(InspectRequest, DepthLimit) {
  // The root object is depth 1.
  padded_text deepest(nested(request_depth_max - 1));
  EXPECT_TRUE(inspect(deepest).has_value());
  EXPECT_EQ(error_of(nested(request_depth_max)), request_error::too_deep);
  EXPECT_EQ(error_of(nested(200000)), request_error::too_deep);  // no stack overflow
}

TEST(InspectRequest, LargePrompt) {
  std::string text = R"({"model":"m","messages":[{"role":"user","content":")";
  std::string content;
  while (content.size() < 50000) content += "The quick brown fox jumps over the lazy dog.\\n";
  text += content + R"("}],"stream":true})";
  padded_text body(text);
  auto r = inspect(body);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->stream);
  // Each "\\n" in the source is one byte; "user" adds 4.
  size_t escapes = content.size() / 46;
  EXPECT_EQ(r->prompt_chars, content.size() - escapes + 4);
}

// simdjson's DOM parser validates everything; after any single-byte mutation of a valid request,
// inspect_request must call the JSON invalid exactly when the DOM parser does.
TEST(InspectRequest, AgreesWithSimdjsonDomOnMutations) {
  const std::string_view seeds[] = {
      chat,
      R"({"model":"m","stream":true,"stream_options":{"include_usage":false},"max_tokens":64,)"
      R"("messages":[{"role":"user","content":[{"type":"text","text":"a\"b\u00e9"}]}],)"
      R"("tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object",)"
      R"("properties":{"x":{"type":["number","null"],"minimum":-1.5e3}}}}}],"n":null,"t":false})",
  };
  constexpr std::string_view alphabet = "{}[]:,\"\\/ \tntrufalse0123456789.eE-+xu\x01\xc3\xa9";
  std::mt19937 rng(42);
  simdjson::dom::parser dom;
  int compared = 0;
  for (int i = 0; i < 30000; ++i) {
    std::string text(seeds[i % 2]);
    size_t at = rng() % text.size();
    char c = alphabet[rng() % alphabet.size()];
    switch (rng() % 3) {
      case 0:
        text[at] = c;
        break;
      case 1:
        text.erase(at, 1);
        break;
      default:
        text.insert(at, 1, c);
    }
    simdjson::padded_string padded(text);
    simdjson::dom::element root;
    simdjson::error_code dom_error = dom.parse(padded).get(root);
    if (dom_error == simdjson::NUMBER_ERROR) continue;  // range, not syntax: not comparable
    padded_text body(text);
    auto r = inspect_request(body.view());
    if (!r && r.error() == request_error::not_an_object) continue;
    bool ours_invalid = !r && r.error() == request_error::invalid_json;
    EXPECT_EQ(ours_invalid, dom_error != simdjson::SUCCESS)
        << text << " dom: " << simdjson::error_message(dom_error);
    ++compared;
  }
  EXPECT_GT(compared, 25000);
}

TEST(InspectRequest, EveryErrorHasAMessage) {
  for (int e = 0; e <= static_cast<int>(request_error::max_tokens_invalid); ++e) {
    std::string_view m = message(static_cast<request_error>(e));
    EXPECT_FALSE(m.empty());
    EXPECT_NE(m, "invalid request") << e;
  }
  EXPECT_EQ(message(request_error::model_not_string), "'model' must be a string");
}

}  // namespace
