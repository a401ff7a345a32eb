// The access line is built from literal fragments for speed; here it is checked byte for byte
// against the same line written field by field with json_writer (how it was written before), over
// strings that need escaping, invalid UTF-8, clipped fields, IPv4/IPv6/unknown peers and the
// optional fields, and then parsed as JSON.
#include "access.hpp"

#include <arpa/inet.h>

#include <gtest/gtest.h>

#include <ringgate/json/writer.hpp>
#include <ringgate/runtime/log.hpp>

#include <simdjson.h>

#include <cstring>
#include <string>
#include <vector>

namespace rg::gateway {
namespace {

constexpr int64_t unix_us = 1'796'136'325'123'456;

std::string clip(std::string_view s) {
  return std::string(s.substr(0, 160));
}

// The reference: json_writer field by field, milliseconds as the shortest double.
std::string reference_line(const http::request_head& head, std::string_view peer,
                           const exchange_note& n, uint16_t status, uint64_t duration_ns) {
  char buf[4096];
  json::json_writer w{std::span<char>(buf)};
  char ts[log::ts_chars];
  log::format_utc_us(unix_us, ts);
  auto str_or_null = [&](std::string_view key, std::string_view v) {
    w.key(key);
    v.empty() ? w.null() : w.string(clip(v));
  };
  auto millis = [](uint64_t ns) { return double(ns / 1000) / 1000.0; };
  w.begin_object();
  w.key("time").string(std::string_view(ts, sizeof ts));
  str_or_null("request_id", n.request_id_view());
  str_or_null("client", peer);
  w.key("method").string(clip(head.method_text));
  w.key("path").string(clip(head.path()));
  w.key("status").unsigned_integer(status);
  str_or_null("model", n.model);
  str_or_null("provider", n.provider);
  str_or_null("upstream_model", n.upstream_model);
  w.key("stream").boolean(n.stream);
  w.key("tokens_in");
  n.usage_known ? w.integer(n.tokens_in) : w.null();
  w.key("tokens_out");
  n.usage_known ? w.integer(n.tokens_out) : w.null();
  double cost = cost_usd(n);
  w.key("cost_usd");
  cost >= 0 ? w.number(cost) : w.null();
  w.key("duration_ms").number(millis(duration_ns));
  w.key("upstream_ttfb_ms");
  n.upstream_ttfb_ns ? w.number(millis(n.upstream_ttfb_ns)) : w.null();
  w.key("retries").unsigned_integer(n.retries);
  str_or_null("error", n.error);
  str_or_null("key", n.key);
  if (n.usage_estimated) w.key("usage_estimated").boolean(true);
  w.end_object();
  EXPECT_TRUE(w.complete());
  return std::string(w.view());
}

// Formats into the room a shard's batch gives (the unchecked path) and checks that the checked
// path (taken when the room cannot be shown to suffice) writes the same bytes into exactly as
// much room, and refuses one byte less.
std::string line(const http::request_head& head, const net::address& peer, const exchange_note& n,
                 uint16_t status, uint64_t duration_ns) {
  char text[net::address_text_max];
  const std::string_view client(text, peer.len ? net::format_address_to(peer.sa(), text) : 0);
  char buf[access_room];
  size_t len =
      format_access_line(head, client, n, status, duration_ns, unix_us, std::span<char>(buf));
  EXPECT_GT(len, 0u);
  EXPECT_LE(len, access_line_max);
  std::string out(buf, len);
  std::vector<char> exact(len);
  EXPECT_EQ(format_access_line(head, client, n, status, duration_ns, unix_us, exact), len);
  EXPECT_EQ(std::string(exact.data(), len), out);
  std::vector<char> short_by_one(len - 1);
  EXPECT_EQ(format_access_line(head, client, n, status, duration_ns, unix_us, short_by_one), 0u);
  simdjson::dom::parser parser;
  EXPECT_EQ(parser.parse(out).error(), simdjson::SUCCESS) << out;
  return out;
}

net::address ipv4(const char* ip, uint16_t port) {
  net::address a;
  auto* in = reinterpret_cast<sockaddr_in*>(&a.storage);
  in->sin_family = AF_INET;
  in->sin_port = htons(port);
  inet_pton(AF_INET, ip, &in->sin_addr);
  a.len = sizeof(sockaddr_in);
  return a;
}

net::address ipv6(const char* ip, uint16_t port) {
  net::address a;
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(port);
  inet_pton(AF_INET6, ip, &in6->sin6_addr);
  a.len = sizeof(sockaddr_in6);
  return a;
}

http::request_head head_of(std::string_view method, std::string_view target) {
  http::request_head h;
  h.method_text = method;
  h.target = target;
  return h;
}

TEST(AccessLine, MatchesTheFieldByFieldLine) {
  exchange_note n;
  std::memcpy(n.request_id, "0123456789abcdef0123456789abcdef", 32);
  n.request_id_len = 32;
  n.model = "mock-small";
  n.provider = "mock";
  n.upstream_model = "mock-small";
  n.usage_known = true;
  n.tokens_in = 77;
  n.tokens_out = 205;
  n.upstream_ttfb_ns = 7'001'999;
  auto head = head_of("POST", "/v1/chat/completions?x=1");
  EXPECT_EQ(line(head, ipv4("127.0.0.1", 44966), n, 200, 53'450'000),
            reference_line(head, "127.0.0.1:44966", n, 200, 53'450'000));

  n.stream = true;
  n.retries = 3;
  n.error = "upstream_timeout";
  n.key = "team-a";
  n.cost_nano = 1'234'567;
  n.usage_estimated = true;
  for (uint64_t d : {0ull, 999ull, 1'000ull, 1'000'000ull, 1'010'000ull, 123'456'789'000ull}) {
    EXPECT_EQ(line(head, ipv4("10.200.3.44", 1), n, 504, d),
              reference_line(head, "10.200.3.44:1", n, 504, d));
  }
  EXPECT_EQ(line(head, ipv6("2001:db8::1", 65535), n, 200, 5),
            reference_line(head, "[2001:db8::1]:65535", n, 200, 5));
  EXPECT_EQ(line(head, net::address{}, n, 200, 5), reference_line(head, "", n, 200, 5));
}

TEST(AccessLine, EscapesClientTextLikeJsonWriter) {
  exchange_note n;
  const std::string long_model(300, 'm');
  for (std::string model : {std::string("a\"b\\c"), std::string("tab\there\nnl\x01"),
                            std::string("caf\xc3\xa9 \xe2\x82\xac"), std::string("bad\xff\xc3"),
                            long_model, std::string(159, 'x') + "\xc3\xa9"}) {
    n.model = model;
    auto head = head_of("P\"OST", "/v1/\x7f\"path");
    EXPECT_EQ(line(head, ipv4("1.2.3.4", 80), n, 400, 1),
              reference_line(head, "1.2.3.4:80", n, 400, 1))
        << model;
  }
}

std::string quote(std::string_view s) {
  char buf[2048];
  json::json_writer w{std::span<char>(buf)};
  w.string(s);
  return std::string(w.view());
}

// Configured names come with their JSON tokens (built at start-up), a known method and an
// endpoint's path are written without an escape check: the line is the same as when every
// field is escaped on the spot, including names that need escaping or clipping.
TEST(AccessLine, PrebuiltTokensAndKnownPathsWriteTheSameBytes) {
  const std::string long_name(200, 'n');
  for (std::string name :
       {std::string("mock-small"), std::string("we\"ird\\name\x01"), long_name}) {
    const std::string token = quote(name);
    exchange_note n;
    n.model = name;
    n.model_json = token;
    n.provider = name;
    n.provider_json = token;
    n.upstream_model = name;
    n.upstream_model_json = token;
    n.ep = endpoint::chat;
    auto head = head_of("POST", "/v1/chat/completions?stream=1");
    head.meth = http::method::post;
    EXPECT_EQ(line(head, ipv4("127.0.0.1", 1), n, 200, 1'234'567),
              reference_line(head, "127.0.0.1:1", n, 200, 1'234'567))
        << name;
  }
  for (auto ep : {endpoint::embeddings, endpoint::models, endpoint::health, endpoint::ready}) {
    exchange_note n;
    n.ep = ep;
    auto head = head_of("GET", endpoint_paths[size_t(ep)]);
    head.meth = http::method::get;
    EXPECT_EQ(line(head, net::address{}, n, 200, 10), reference_line(head, "", n, 200, 10));
  }
}

TEST(AccessLine, LargeDurationsStayPlainDecimals) {
  exchange_note n;
  auto head = head_of("GET", "/health");
  std::string l = line(head, net::address{}, n, 200, 1'000'000'000'000);  // 1,000 s
  EXPECT_NE(l.find("\"duration_ms\":1000000,"), std::string::npos) << l;
}

}  // namespace
}  // namespace rg::gateway
