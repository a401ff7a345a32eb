// Tests for the http response side: reason phrases, response_writer (overflow and header
// injection), chunk headers, OpenAI error bodies (JSON escaping) and error types.
#include <ringgate/http/response.hpp>

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <string_view>

namespace {

using namespace rg::http;

TEST(reason_phrase, common_codes) {
  const std::pair<uint16_t, std::string_view> cases[] = {
      {100, "Continue"},
      {200, "OK"},
      {201, "Created"},
      {204, "No Content"},
      {400, "Bad Request"},
      {401, "Unauthorized"},
      {403, "Forbidden"},
      {404, "Not Found"},
      {405, "Method Not Allowed"},
      {408, "Request Timeout"},
      {409, "Conflict"},
      {413, "Content Too Large"},
      {414, "URI Too Long"},
      {415, "Unsupported Media Type"},
      {417, "Expectation Failed"},
      {422, "Unprocessable Content"},
      {429, "Too Many Requests"},
      {431, "Request Header Fields Too Large"},
      {500, "Internal Server Error"},
      {501, "Not Implemented"},
      {502, "Bad Gateway"},
      {503, "Service Unavailable"},
      {504, "Gateway Timeout"},
      {505, "HTTP Version Not Supported"},
  };
  for (const auto& [status, reason] : cases) EXPECT_EQ(reason_phrase(status), reason) << status;
  EXPECT_EQ(reason_phrase(599), "");
}

TEST(response_writer, writes_a_head) {
  std::array<char, 256> buf;
  response_writer w(buf);
  w.status_line(200)
      .header("Content-Type", "application/json")
      .header("Content-Length", uint64_t{1234})
      .header("X-Zero", uint64_t{0})
      .end_head()
      .raw("{}");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w.view(),
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1234\r\n"
            "X-Zero: 0\r\n\r\n{}");
  EXPECT_EQ(w.size(), w.view().size());
  w.clear();
  EXPECT_EQ(w.size(), 0u);
  w.status_line(599).header("X-Max", uint64_t{18446744073709551615u});
  EXPECT_EQ(w.view(), "HTTP/1.1 599 \r\nX-Max: 18446744073709551615\r\n");
}

TEST(response_writer, overflow_is_reported_not_truncated) {
  std::array<char, 24> buf;
  response_writer w(buf);
  w.status_line(404);  // "HTTP/1.1 404 Not Found\r\n" is exactly 24 bytes
  EXPECT_TRUE(w.ok());
  EXPECT_EQ(w.size(), 24u);
  w.clear();
  w.status_line(200).header("X-Long", "0123456789");
  EXPECT_FALSE(w.ok());
  EXPECT_EQ(w.view(), "HTTP/1.1 200 OK\r\n");  // the header that did not fit is not half-written
  w.raw("x");
  EXPECT_FALSE(w.ok());  // stays false
  EXPECT_EQ(w.size(), 17u);
  w.clear();
  EXPECT_TRUE(w.ok());
}

TEST(response_writer, refuses_header_injection) {
  std::array<char, 256> buf;
  const std::pair<std::string_view, std::string_view> bad[] = {
      {"X", "a\r\nSet-Cookie: x"},
      {"X", "a\nb"},
      {"X", std::string_view("a\0b", 3)},
      {"X Y", "v"},
      {"", "v"},
      {"X:", "v"},
      {"X\r\n", "v"},
  };
  for (const auto& [name, value] : bad) {
    response_writer w(buf);
    w.status_line(200).checked_header(name, value);
    EXPECT_FALSE(w.ok()) << name << ": " << value;
    EXPECT_EQ(w.view(), "HTTP/1.1 200 OK\r\n");
  }
  {  // a name fixed at compile time still has its value checked
    response_writer w(buf);
    w.status_line(200).header("X", "a\r\nSet-Cookie: x");
    EXPECT_FALSE(w.ok());
    EXPECT_EQ(w.view(), "HTTP/1.1 200 OK\r\n");
  }
  response_writer w(buf);
  EXPECT_FALSE(w.status_line(99).ok());
  w.clear();
  EXPECT_FALSE(w.status_line(1000).ok());
}

TEST(chunk_header, hex_sizes) {
  char out[18];
  const std::pair<uint64_t, std::string_view> cases[] = {
      {0, "0\r\n"},
      {1, "1\r\n"},
      {15, "f\r\n"},
      {16, "10\r\n"},
      {4096, "1000\r\n"},
      {0xdeadbeef, "deadbeef\r\n"},
      {UINT64_MAX, "ffffffffffffffff\r\n"},
  };
  for (const auto& [n, text] : cases) {
    const size_t len = chunk_header(n, out);
    EXPECT_EQ(std::string_view(out, len), text);
  }
  EXPECT_EQ(last_chunk, "0\r\n\r\n");
  EXPECT_EQ(chunk_trailer, "\r\n");
}

std::string error_body(std::string_view message, std::string_view type = "invalid_request_error",
                       std::string_view code = "invalid_request") {
  std::array<char, 512> buf;
  const size_t n = openai_error_body(buf, message, type, code);
  return std::string(buf.data(), n);
}

TEST(openai_error_body, shape) {
  EXPECT_EQ(error_body("bad thing"),
            R"({"error":{"message":"bad thing","type":"invalid_request_error",)"
            R"("code":"invalid_request"}})");
  EXPECT_EQ(error_body("x", "server_error", ""),
            R"({"error":{"message":"x","type":"server_error","code":null}})");
}

TEST(openai_error_body, escaping) {
  const auto message_of = [](std::string_view m) {
    const std::string body = error_body(m);
    const size_t start = body.find(R"("message":")") + 11;
    const size_t end = body.find(R"(","type")");
    return body.substr(start, end - start);
  };
  EXPECT_EQ(message_of(R"(say "hi")"), R"(say \"hi\")");
  EXPECT_EQ(message_of(R"(a\b)"), R"(a\\b)");
  EXPECT_EQ(message_of("l1\nl2\r\t"), R"(l1\u000al2\u000d\u0009)");
  EXPECT_EQ(message_of(std::string_view("\0\x1f", 2)), R"(\u0000\u001f)");
  EXPECT_EQ(message_of("\x7f/"), "\x7f/");
  EXPECT_EQ(message_of("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");  // valid UTF-8 passes through
  EXPECT_EQ(message_of("a\xff"
                       "b"),
            R"(a\ufffdb)");
  EXPECT_EQ(message_of("\xc3"), R"(\ufffd)");                                // truncated sequence
  EXPECT_EQ(message_of("\xc0\xaf"), R"(\ufffd\ufffd)");                      // overlong
  EXPECT_EQ(message_of("\xed\xa0\x80"), R"(\ufffd\ufffd\ufffd)");            // surrogate
  EXPECT_EQ(message_of("\xf4\x90\x80\x80"), R"(\ufffd\ufffd\ufffd\ufffd)");  // > U+10FFFF
}

TEST(openai_error_body, does_not_fit) {
  std::array<char, 40> small;
  EXPECT_EQ(
      openai_error_body(small, "a message that is long enough", "invalid_request_error", "code"),
      0u);
  const std::string fits = error_body("m", "t", "c");
  std::array<char, 64> exact;
  EXPECT_EQ(openai_error_body(std::span<char>(exact.data(), fits.size()), "m", "t", "c"),
            fits.size());
  EXPECT_EQ(openai_error_body(std::span<char>(exact.data(), fits.size() - 1), "m", "t", "c"), 0u);
}

TEST(error_type_for_status, mirrors_openai) {
  EXPECT_EQ(error_type_for_status(400), "invalid_request_error");
  EXPECT_EQ(error_type_for_status(413), "invalid_request_error");
  EXPECT_EQ(error_type_for_status(414), "invalid_request_error");
  EXPECT_EQ(error_type_for_status(422), "invalid_request_error");
  EXPECT_EQ(error_type_for_status(431), "invalid_request_error");
  EXPECT_EQ(error_type_for_status(401), "authentication_error");
  EXPECT_EQ(error_type_for_status(403), "permission_error");
  EXPECT_EQ(error_type_for_status(404), "not_found_error");
  EXPECT_EQ(error_type_for_status(408), "timeout_error");
  EXPECT_EQ(error_type_for_status(429), "rate_limit_error");
  EXPECT_EQ(error_type_for_status(500), "server_error");
  EXPECT_EQ(error_type_for_status(502), "server_error");
  EXPECT_EQ(error_type_for_status(503), "server_error");
  EXPECT_EQ(error_type_for_status(200), "api_error");
}

}  // namespace
