// Tests for rg::json splicing: every rewritten body is re-parsed (simdjson DOM, full validation)
// and must keep every other field byte-for-byte equivalent.
#include <ringgate/json/request.hpp>

#include "padded_text.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <map>
#include <string>
#include <string_view>

namespace {

using namespace rg::json;
using rg::json::testing::padded_text;

std::string join(const splice& s) {
  std::string out;
  for (size_t i = 0; i < s.count; ++i) out += s.pieces[i];
  EXPECT_EQ(out.size(), s.total_bytes());
  return out;
}

// Top-level members as minified JSON, keyed by name; empty map if the text does not parse.
std::map<std::string, std::string> members(std::string_view text) {
  std::map<std::string, std::string> out;
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  simdjson::padded_string padded(text);
  if (parser.parse(padded).get(object)) return out;
  for (auto [key, value] : object) out[std::string(key)] = simdjson::minify(value);
  return out;
}

request_info inspected(const padded_text& body) {
  static char model_scratch[model_bytes_max];
  auto r = inspect_request(body.view(), model_scratch);
  EXPECT_TRUE(r.has_value()) << body.view();
  return r.value_or(request_info{});
}

// Rewrites, re-parses, and checks that only model and stream_options changed.
void expect_rewrite(std::string_view text, const rewrite_options& options,
                    std::string_view expected_model, std::string_view expected_options) {
  padded_text body(text);
  request_info info = inspected(body);
  std::string out = join(rewrite_request(body.view(), info, options));
  auto before = members(text);
  auto after = members(out);
  ASSERT_FALSE(after.empty()) << out;
  EXPECT_EQ(after["model"], expected_model) << out;
  if (!expected_options.empty()) {
    EXPECT_EQ(after["stream_options"], expected_options) << out;
  }
  for (auto& [key, value] : before) {
    if (key == "model" || key == "stream_options") continue;
    EXPECT_EQ(after[key], value) << key << " in " << out;
  }
  for (auto& [key, value] : after) {
    if (key != "stream_options") {
      EXPECT_TRUE(before.count(key)) << key << " in " << out;
    }
  }
  // The result is itself an acceptable request with the new values.
  padded_text again(out);
  auto r = inspect_request(again.view());
  ASSERT_TRUE(r.has_value()) << out;
  if (options.usage == usage_policy::ensure_included && info.stream) {
    EXPECT_TRUE(r->include_usage) << out;
  }
}

TEST(Splice, RewriteModelKeepsEverythingElse) {
  for (std::string_view text : {
           R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"n":1})",
           R"({"messages":[],"model":"gpt-4o","temperature":0.5})",
           R"({"messages":[{"model":"inner"}],"user":"u","model":"gpt-4o"})",
           " \n{ \"model\" : \"gpt\\u002d4o\" ,\n \"x\" : [ 1 , 2 ] }\n ",
       }) {
    expect_rewrite(text, {.quoted_model = R"("provider-model-with-a-long-name")"},
                   R"("provider-model-with-a-long-name")", "");
    expect_rewrite(text, {.quoted_model = R"("m")"}, R"("m")", "");
  }
}

TEST(Splice, RewriteModelPieces) {
  padded_text body(R"({"model":"a","n":1})");
  request_info info = inspected(body);
  splice s = rewrite_model(body.view(), info, R"("bb")");
  ASSERT_EQ(s.count, 3u);
  EXPECT_EQ(s.pieces[0], R"({"model":)");
  EXPECT_EQ(s.pieces[1], R"("bb")");
  EXPECT_EQ(s.pieces[2], R"(,"n":1})");
  // Pieces point into the body, not into copies.
  EXPECT_EQ(s.pieces[0].data(), body.view().data());
  EXPECT_EQ(s.total_bytes(), body.view().size() + 1);
}

TEST(Splice, IdentityWhenNothingToDo) {
  padded_text body(R"({"model":"a","stream":true,"stream_options":{"include_usage":true}})");
  request_info info = inspected(body);
  for (splice s :
       {rewrite_request(body.view(), info, {}), ensure_include_usage(body.view(), info)}) {
    ASSERT_EQ(s.count, 1u);
    EXPECT_EQ(s.pieces[0], body.view());
  }
  padded_text not_streaming(R"({"model":"a","stream":false})");
  splice s = ensure_include_usage(not_streaming.view(), inspected(not_streaming));
  EXPECT_EQ(join(s), not_streaming.view());
  EXPECT_FALSE(needs_include_usage(inspected(not_streaming)));
}

TEST(Splice, IncludeUsageInjection) {
  constexpr std::string_view usage_true = R"({"include_usage":true})";
  struct row {
    std::string_view text;
    std::string_view expected_options;
  };
  for (
      const row& row : {
          row{R"({"model":"m","stream":true})", usage_true},
          row{" {\n  \"stream\" : true ,\n  \"model\" : \"m\"\n}\n", usage_true},
          row{R"({"model":"m","stream":true,"stream_options":null})", usage_true},
          row{R"({"model":"m","stream":true,"stream_options" : null })", usage_true},
          row{R"({"model":"m","stream":true,"stream_options":{}})", usage_true},
          row{R"({"model":"m","stream":true,"stream_options":{ }})", usage_true},
          row{R"({"model":"m","stream":true,"stream_options":{"include_usage":false}})",
              usage_true},
          row{R"({"model":"m","stream":true,"stream_options":{ "include_usage" : false }})",
              usage_true},
          row{R"({"model":"m","stream":true,"stream_options":{"include_usage":null}})", usage_true},
          row{R"({"stream_options":{"other":[1,{"include_usage":false}]},)"
              R"("stream":true,"model":"m"})",
              R"({"include_usage":true,"other":[1,{"include_usage":false}]})"},
          row{R"({"model":"m","stream":true,"stream_options":{"a":1,"include_usage":false,"b":2}})",
              R"({"a":1,"include_usage":true,"b":2})"},
      }) {
    expect_rewrite(row.text, {.usage = usage_policy::ensure_included}, R"("m")",
                   row.expected_options);
  }
}

TEST(Splice, IncludeUsageIntoAnEmptyObject) {
  // inspect_request never accepts {} (model is required), but the splice must still be valid.
  for (std::string_view text : {"{}", " { \n } "}) {
    padded_text body(text);
    request_info info;
    info.stream = true;
    info.object_begin = static_cast<uint32_t>(text.find('{'));
    std::string out = join(ensure_include_usage(body.view(), info));
    auto after = members(out);
    ASSERT_EQ(after.size(), 1u) << out;
    EXPECT_EQ(after["stream_options"], R"({"include_usage":true})");
  }
}

TEST(Splice, ModelAndUsageTogether) {
  for (std::string_view text : {
           R"({"model":"client","stream":true,"messages":[]})",
           R"({"stream":true,"stream_options":{"include_usage":false},"model":"client"})",
           R"({"model":"client","stream_options":{"x":1},"stream":true})",
           R"({"model":"client","stream":true,"stream_options":null})",
           R"({"stream_options":{},"model":"client","stream":true})",
       }) {
    padded_text body(text);
    request_info info = inspected(body);
    splice s =
        rewrite_request(body.view(), info,
                        {.quoted_model = R"("upstream")", .usage = usage_policy::ensure_included});
    EXPECT_LE(s.count, 5u);
    expect_rewrite(text, {.quoted_model = R"("upstream")", .usage = usage_policy::ensure_included},
                   R"("upstream")", "");
    padded_text out(join(s));
    auto r = inspect_request(out.view());
    ASSERT_TRUE(r.has_value()) << out.view();
    EXPECT_EQ(r->model, "upstream");
    EXPECT_TRUE(r->stream);
    EXPECT_TRUE(r->include_usage);
  }
}

}  // namespace
