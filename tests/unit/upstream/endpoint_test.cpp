// upstream::endpoint: base_url parsing, resolution on the control thread (literals, "localhost",
// a name that does not resolve), the seqlock-published address seen whole by concurrent readers,
// and the per-topic log rate limit shared by the shards.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include <ringgate/net/socket.hpp>
#include <ringgate/upstream/endpoint.hpp>

using namespace rg;
using upstream::endpoint;
using upstream::log_topic;
using upstream::parse_base_url;

namespace {

endpoint make(std::string_view url) {
  auto o = parse_base_url(url);
  EXPECT_TRUE(o) << url << ": " << (o ? "" : o.error());
  return endpoint(o ? std::move(*o) : upstream::endpoint_options{});
}

}  // namespace

TEST(parse_base_url, splits_scheme_host_port_and_path) {
  auto o = parse_base_url("http://127.0.0.1:8081/v1/");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->host, "127.0.0.1");
  EXPECT_EQ(o->port, 8081);
  EXPECT_FALSE(o->tls);
  EXPECT_EQ(o->base_path, "/v1");
  EXPECT_EQ(o->host_header, "127.0.0.1:8081");
  auto s = parse_base_url("https://api.example.com/v1");
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->tls);
  EXPECT_EQ(s->port, 443);
  EXPECT_EQ(s->host_header, "api.example.com");
  auto v6 = parse_base_url("http://[::1]:9/");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->host_header, "[::1]:9");
  EXPECT_EQ(v6->base_path, "");
  for (auto bad :
       {"ftp://h", "http://", "http://h:0", "http://h:99999", "http://[::1", "http://h:x"}) {
    EXPECT_FALSE(parse_base_url(bad)) << bad;
  }
}

TEST(parse_base_url, refuses_credentials_queries_and_control_bytes_without_echoing_them) {
  for (auto bad : {"https://user:s3cret@api.example.com/v1", "https://s3cret@api.example.com",
                   "https://api.example.com/v1?key=s3cret", "https://api.example.com/v1#s3cret",
                   "https://api.example.com/v 1", "https://api.example.com/v1\r\n"}) {
    auto o = parse_base_url(bad);
    ASSERT_FALSE(o) << bad;
    EXPECT_EQ(o.error().find("s3cret"), std::string::npos) << o.error();
    EXPECT_EQ(o.error().find("example"), std::string::npos) << o.error();
  }
}

TEST(endpoint, unresolved_until_resolve) {
  endpoint ep = make("http://127.0.0.1:8081/v1");
  net::address a;
  EXPECT_FALSE(ep.address(a));
  ASSERT_TRUE(ep.resolve());
  ASSERT_TRUE(ep.address(a));
  EXPECT_EQ(net::format_address(a.sa()), "127.0.0.1:8081");
}

TEST(endpoint, resolves_localhost_to_loopback_with_the_port) {
  endpoint ep = make("http://localhost:8099/v1");
  auto ok = ep.resolve();
  ASSERT_TRUE(ok) << ok.error();
  net::address a;
  ASSERT_TRUE(ep.address(a));
  EXPECT_EQ(a.port(), 8099);
  std::string text = net::format_address(a.sa());
  EXPECT_TRUE(text == "127.0.0.1:8099" || text == "[::1]:8099") << text;
}

TEST(endpoint, a_name_that_does_not_resolve_is_an_error_naming_the_host) {
  // .invalid never resolves (RFC 6761).
  endpoint ep = make("http://no-such-host.invalid/v1");
  auto r = ep.resolve();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("cannot resolve host \"no-such-host.invalid\""), std::string::npos)
      << r.error();
  net::address a;
  EXPECT_FALSE(ep.address(a));
}

TEST(endpoint, a_failed_refresh_keeps_the_address) {
  // The periodic refresh calls resolve() again; a failure must not unpublish what shards use.
  endpoint ep = make("http://127.0.0.1:8081/v1");
  ASSERT_TRUE(ep.resolve());
  ASSERT_TRUE(ep.resolve());  // a refresh republishes
  net::address a;
  ASSERT_TRUE(ep.address(a));
  EXPECT_EQ(net::format_address(a.sa()), "127.0.0.1:8081");
}

TEST(endpoint, readers_never_see_a_torn_address) {
  endpoint ep = make("http://127.0.0.1:4242/v1");
  ASSERT_TRUE(ep.resolve());
  std::atomic<bool> stop{false};
  std::thread control([&] {
    while (!stop.load(std::memory_order_relaxed)) (void)ep.resolve();
  });
  uint64_t bad = 0;
  for (int i = 0; i < 200000; ++i) {
    net::address a;
    if (!ep.address(a) || a.port() != 4242 || a.storage.ss_family != AF_INET) ++bad;
  }
  stop = true;
  control.join();
  EXPECT_EQ(bad, 0u);
}

TEST(endpoint, log_claims_are_rate_limited_per_topic) {
  endpoint ep = make("http://127.0.0.1:1/v1");
  constexpr uint64_t interval = 10'000'000'000;
  uint64_t suppressed = 99;
  EXPECT_TRUE(ep.claim_log(log_topic::tls_failure, 1, interval, suppressed));
  EXPECT_EQ(suppressed, 0u);
  EXPECT_FALSE(ep.claim_log(log_topic::tls_failure, 2, interval, suppressed));
  EXPECT_FALSE(ep.claim_log(log_topic::tls_failure, 3, interval, suppressed));
  // Another topic has its own interval.
  EXPECT_TRUE(ep.claim_log(log_topic::pool_exhausted, 3, interval, suppressed));
  EXPECT_TRUE(ep.claim_log(log_topic::tls_failure, 1 + interval, interval, suppressed));
  EXPECT_EQ(suppressed, 2u);  // the two refused since the last claim
}

TEST(address_text, matches_format_address_and_refuses_other_families) {
  for (auto [host, port] :
       {std::pair{"0.0.0.0", 0}, std::pair{"255.255.255.255", 65535},
        std::pair{"ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", 65535}, std::pair{"::1", 8}}) {
    auto a = net::make_address(host, uint16_t(port));
    ASSERT_TRUE(a) << host;
    char text[net::address_text_max];
    const size_t n = net::format_address_to(a->sa(), text);
    EXPECT_EQ(std::string(text, n), net::format_address(a->sa())) << host;
    EXPECT_GT(n, 0u);
  }
  net::address none;  // AF_UNSPEC
  char text[net::address_text_max];
  EXPECT_EQ(net::format_address_to(none.sa(), text), 0u);
  EXPECT_EQ(net::format_address(none.sa()), "unknown");
}
