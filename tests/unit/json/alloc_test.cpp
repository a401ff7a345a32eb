// DESIGN §4 rule 1 for the json module: once a thread's parser is reserved, inspecting, splicing,
// extracting usage and writing JSON allocate nothing (global operator new is counted).
#include <ringgate/json/request.hpp>
#include <ringgate/json/response.hpp>
#include <ringgate/json/writer.hpp>

#include "padded_text.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <new>
#include <string>

namespace {
thread_local bool counting = false;
thread_local size_t allocations = 0;
}  // namespace

// Every non-aligned form is replaced so that allocation and release always pair up (simdjson uses
// the nothrow forms; sanitizers check the pairing).
namespace {
void* counted_malloc(size_t size) noexcept {
  if (counting) ++allocations;
  return std::malloc(size ? size : 1);
}
void* counted_new(size_t size) {
  if (void* p = counted_malloc(size)) return p;
  throw std::bad_alloc();
}
}  // namespace

void* operator new(size_t size) {
  return counted_new(size);
}
void* operator new[](size_t size) {
  return counted_new(size);
}
void* operator new(size_t size, const std::nothrow_t&) noexcept {
  return counted_malloc(size);
}
void* operator new[](size_t size, const std::nothrow_t&) noexcept {
  return counted_malloc(size);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}

namespace {

using namespace rg::json;
using rg::json::testing::padded_text;

TEST(Allocations, NoneOnTheRequestPathAfterReserve) {
  std::string text = R"({"model":"m","stream":true,"messages":[{"role":"user","content":")";
  text += std::string(50000, 'x') + R"("}],"max_tokens":5})";
  padded_text big(text);
  padded_text small(R"({"model":"a","stream":true,"stream_options":{"include_usage":false}})");
  padded_text chunk(R"({"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}})");
  ASSERT_TRUE(reserve_thread_parser(64 * 1024));

  counting = true;
  auto info = inspect_request(big.view());
  auto small_info = inspect_request(small.view());
  splice s = rewrite_request(small.view(), *small_info,
                             {.quoted_model = "\"b\"", .usage = usage_policy::ensure_included});
  auto u = extract_usage_openai(chunk.view());
  char scratch[256];
  auto u2 = extract_usage_openai(chunk.view(), scratch);
  char buf[128];
  json_writer w(buf);
  w.begin_object().key("error").string("no \"such\" model").end_object();
  counting = false;

  EXPECT_EQ(allocations, 0u);
  EXPECT_TRUE(info.has_value());
  EXPECT_EQ(s.count, 5u);
  EXPECT_TRUE(u.has_value() && u2.has_value());
  EXPECT_TRUE(w.complete());

  // The counter does see the parser growing (so the zero above means something).
  counting = true;
  EXPECT_TRUE(reserve_thread_parser(1024 * 1024));
  counting = false;
  EXPECT_GT(allocations, 0u);
}

}  // namespace
