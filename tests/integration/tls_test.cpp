// TLS end to end: a test PKI generated with openssl at test time; ringgate in front of mockllm
// speaking HTTPS with one mock per certificate case. Every rejection must answer 502 with the
// reason and leave the mock without a single request (the provider key never left ringgate),
// and is counted by reason in /metrics and logged at most once per endpoint per interval.
// Inbound TLS is exercised with curl --cacert and openssl s_client (version and suite policy).
// The mocks' /mock/stats is read with curl -k.
#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "harness.hpp"
#include "sse_util.hpp"
#include "tls_fixture.hpp"

namespace rg::itest {
namespace {

constexpr std::string_view chat_body =
    R"({"model":"%M","messages":[{"role":"user","content":"hello"}]})";

std::string body_for(std::string_view model, bool stream = false) {
  std::string b(chat_body);
  b.replace(b.find("%M"), 2, model);
  if (stream) b.insert(1, R"("stream":true,)");
  return b;
}

// The certificate cases; each gets its own mock.
struct tls_case {
  const char* name;  // also the provider and model name
  const char* cert;
  const char* reason;  // "" for the valid one
  const char* label;   // the metric's reason label
  bool tls11 = false;
};
constexpr const char* version_refused =
    "upstream TLS: protocol version or cipher suites refused (TLS 1.2 with AEAD is the minimum) "
    "for localhost";
const tls_case cases[] = {
    {"good", "good", "", ""},
    {"wronghost", "wronghost", "upstream TLS: certificate hostname mismatch for localhost",
     "hostname_mismatch"},
    {"expired", "expired", "upstream TLS: certificate expired for localhost", "expired"},
    {"notyet", "notyet", "upstream TLS: certificate not yet valid for localhost", "not_yet_valid"},
    {"untrusted", "untrusted", "upstream TLS: certificate not trusted (unknown CA) for localhost",
     "untrusted"},
    {"selfsigned", "selfsigned", "upstream TLS: self-signed certificate not trusted for localhost",
     "self_signed"},
    {"tls11", "good", version_refused, "protocol_version", true},
};
constexpr size_t case_count = std::size(cases);

class tls_test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    s_pki = std::make_unique<pki>();
    if (!s_pki->make()) {
      s_error = "test PKI: " + s_pki->error();
      return;
    }
    const char* bin = std::getenv("MOCKLLM_BIN");
    std::string providers;
    for (size_t i = 0; i < case_count; ++i) {
      const tls_case& c = cases[i];
      server_options mock;
      mock.binary = bin ? bin : "";
      mock.shards = 1;
      mock.args = {"--tls-cert", s_pki->p(std::string(c.cert) + ".crt"), "--tls-key",
                   s_pki->p(std::string(c.cert) + ".key")};
      if (c.tls11) mock.args.insert(mock.args.end(), {"--tls-max-version", "1.1"});
      s_mocks[i] = server::start(mock);
      if (!s_mocks[i]) {
        s_error = std::string("mockllm (") + c.name + ") failed to start";
        return;
      }
      providers += provider_toml(c.name, s_mocks[i]->port(), ca_file());
    }
    // Gateway-only providers: two more names for the expired mock (the log throttle and its
    // marker), a self-signed mock accepted with insecure_skip_verify, and the TLS 1.1 hello.
    server_options mock;
    mock.binary = bin ? bin : "";
    mock.shards = 1;
    mock.args = {"--tls-cert", s_pki->p("selfsigned.crt"), "--tls-key", s_pki->p("selfsigned.key")};
    s_insecure_mock = server::start(mock);
    s_tls11_hello = std::make_unique<tls11_hello_server>();
    if (!s_insecure_mock || !s_tls11_hello->start()) {
      s_error = "the insecure mock or the TLS 1.1 hello server failed to start";
      return;
    }
    std::string gw_only = provider_toml("throttled", s_mocks[2]->port(), ca_file()) +
                          provider_toml("throttle_marker", s_mocks[2]->port(), ca_file()) +
                          provider_toml("insecure", s_insecure_mock->port(),
                                        "insecure_skip_verify = true") +
                          provider_toml("tls11suite", s_tls11_hello->port(), ca_file());
    server_options gw;
    gw.shards = 1;  // one pool per provider: reconnects and resumption are observable
    providers = "[auth]\nrequired = false\n\n" + providers;  // about TLS, not keys
    gw.config_toml = providers + gw_only;
    s_gw = server::start(gw);
    if (!s_gw) {
      s_error = "ringgate failed to start";
      return;
    }
    server_options in;
    in.shards = 1;
    in.config_toml = providers + "[server]\ntls_cert = \"" + s_pki->p("good.crt") +
                     "\"\ntls_key = \"" + s_pki->p("good.key") + "\"\n";
    s_inbound = server::start(in);
    if (!s_inbound) s_error = "ringgate with inbound TLS failed to start";
  }
  static void TearDownTestSuite() {
    for (auto* s : {&s_gw, &s_inbound, &s_insecure_mock}) {
      if (*s) {
        EXPECT_EQ((*s)->stop(10s), 0) << (*s)->proc().err_text();
      }
      s->reset();
    }
    for (auto& m : s_mocks) {
      if (m) {
        EXPECT_EQ(m->stop(10s), 0) << m->proc().err_text();
      }
      m.reset();
    }
    s_tls11_hello.reset();
    s_pki.reset();
  }
  static std::string ca_file() { return "ca_file = \"" + s_pki->p("ca.crt") + "\""; }

  void SetUp() override { ASSERT_TRUE(s_error.empty()) << s_error; }

  static std::optional<http_response> via_gateway(const std::string& request) {
    client c;
    if (!c.connect(s_gw->port()) || !c.send(request)) return std::nullopt;
    return c.read_response(10s);
  }
  static std::unique_ptr<json_doc> mock_stats(size_t i) {
    std::vector<std::string> a = {tool("curl"), "-sS", "-k", "--max-time", "5",
                                  "https://localhost:" + std::to_string(s_mocks[i]->port()) +
                                      "/mock/stats"};
    if (cases[i].tls11) a.insert(a.begin() + 1, {"--tlsv1.1", "--ciphers", "DEFAULT@SECLEVEL=0"});
    auto r = run_to_exit(a, 10s);
    if (r.exit_code != 0) {
      ADD_FAILURE() << "curl /mock/stats: " << r.err;
      return nullptr;
    }
    return parse_json(r.out);
  }
  static uint64_t stat(size_t i, std::initializer_list<const char*> path) {
    auto s = mock_stats(i);
    if (!s) return UINT64_MAX;
    simdjson::dom::element e = s->root;
    for (const char* k : path) {
      if (e[k].get(e)) return UINT64_MAX;
    }
    uint64_t v = 0;
    return e.get(v) ? UINT64_MAX : v;
  }

  static inline std::unique_ptr<pki> s_pki;
  static inline std::unique_ptr<server> s_mocks[case_count];
  static inline std::unique_ptr<server> s_gw;
  static inline std::unique_ptr<server> s_inbound;
  static inline std::unique_ptr<server> s_insecure_mock;
  static inline std::unique_ptr<tls11_hello_server> s_tls11_hello;
  static inline std::string s_error;
};

TEST_F(tls_test, valid_certificate_answers_200_and_sends_sni) {
  auto r = via_gateway(post_request("/v1/chat/completions", body_for("good")));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  auto s = mock_stats(0);
  ASSERT_TRUE(s);
  std::string_view sni;
  EXPECT_FALSE(s->root["last_request"]["tls"]["sni"].get(sni));
  EXPECT_EQ(sni, "localhost");
}

TEST_F(tls_test, every_rejection_is_502_with_its_reason_and_no_request_reaches_the_mock) {
  for (size_t i = 1; i < case_count; ++i) {
    SCOPED_TRACE(cases[i].name);
    auto r = via_gateway(post_request("/v1/chat/completions", body_for(cases[i].name)));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 502);
    EXPECT_NE(r->body.find(cases[i].reason), std::string::npos) << r->body;
    EXPECT_EQ(r->body.find("sk-never-leaked"), std::string::npos);
    EXPECT_EQ(stat(i, {"requests_total"}), 0u) << "request bytes reached an unverified peer";
    EXPECT_GE(stat(i, {"tls", "failures"}), 1u);
  }
  // The failure is logged, throttled per endpoint, with the reason.
  EXPECT_NE(s_gw->proc().err_text().find("hostname_mismatch"), std::string::npos);
  // ... and counted by reason, and as an upstream error of its own kind.
  std::string m = metrics(*s_gw);
  for (size_t i = 1; i < case_count; ++i) {
    std::string p = cases[i].name;
    EXPECT_GE(sample(m, "ringgate_upstream_tls_failures_total{provider=\"" + p + "\",reason=\"" +
                            cases[i].label + "\"}"),
              1)
        << p << "\n" << m;
    EXPECT_GE(sample(m, "ringgate_upstream_errors_total{provider=\"" + p +
                            "\",kind=\"upstream_tls_error\"}"),
              1)
        << p;
    EXPECT_EQ(sample(m, "ringgate_upstream_tls_handshakes_total{provider=\"" + p + "\"}"), -1);
  }
}

TEST_F(tls_test, failure_warning_is_logged_once_per_endpoint_per_interval) {
  for (int i = 0; i < 3; ++i) {
    auto r = via_gateway(post_request("/v1/chat/completions", body_for("throttled")));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 502);
  }
  // The marker's line follows the throttled ones in the same shard's log order: once it is out,
  // every line the three failures could have produced is out too.
  auto marker = via_gateway(post_request("/v1/chat/completions", body_for("throttle_marker")));
  ASSERT_TRUE(marker);
  ASSERT_TRUE(s_gw->proc().wait_stderr("handshake failed.*provider=throttle_marker", 5s));
  std::string err = s_gw->proc().err_text();
  std::vector<std::string> lines;
  for (size_t at = 0, end; (end = err.find('\n', at)) != std::string::npos; at = end + 1) {
    std::string line = err.substr(at, end - at);
    if (line.find("upstream TLS handshake failed") != std::string::npos &&
        line.find("provider=throttled ") != std::string::npos) {
      lines.push_back(line);
    }
  }
  ASSERT_EQ(lines.size(), 1u) << err;
  EXPECT_NE(lines[0].find("reason=expired"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("suppressed_since_last=0"), std::string::npos) << lines[0];
  // Every failure is still counted.
  EXPECT_EQ(sample(metrics(*s_gw), "ringgate_upstream_tls_failures_total{provider=\"throttled\","
                                   "reason=\"expired\"}"),
            3);
}

TEST_F(tls_test, insecure_skip_verify_accepts_a_self_signed_mock_and_warns_at_startup) {
  auto r = via_gateway(post_request("/v1/chat/completions", body_for("insecure")));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  std::string err = s_gw->proc().err_text();
  size_t warn = err.find("tls.insecure_skip_verify is on");
  ASSERT_NE(warn, std::string::npos) << err;
  size_t line = err.rfind('\n', warn) + 1;
  std::string text = err.substr(line, err.find('\n', warn) - line);
  EXPECT_NE(text.find("WARN"), std::string::npos) << text;
  EXPECT_NE(text.find("provider=insecure"), std::string::npos) << text;
  EXPECT_LT(warn, err.find("listening on")) << "the warning belongs to the configuration load";
}

TEST_F(tls_test, tls11_hello_with_a_shared_suite_is_refused_by_the_version_minimum) {
  auto r = via_gateway(post_request("/v1/chat/completions", body_for("tls11suite")));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502);
  EXPECT_NE(r->body.find(version_refused), std::string::npos) << r->body;
  // After the hello only a (fatal protocol_version) alert came back: no request, no key.
  auto deadline = steady::now() + 5s;
  while (s_tls11_hello->after_hello().empty() && steady::now() < deadline) {
    std::this_thread::sleep_for(10ms);  // the fake server records once ringgate closed
  }
  EXPECT_EQ(s_tls11_hello->after_hello(), "21");
  EXPECT_GE(sample(metrics(*s_gw), "ringgate_upstream_tls_failures_total{provider=\"tls11suite\","
                                   "reason=\"protocol_version\"}"),
            1);
}

TEST_F(tls_test, reconnect_resumes_the_session) {
  // The mock closes after this answer, so the next request needs a new connection.
  auto a = via_gateway(post_request("/v1/chat/completions", body_for("good"),
                                    "x-mock-fault: close-after-response\r\n"));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->status, 200);
  std::this_thread::sleep_for(100ms);  // let the pool notice the close
  auto b = via_gateway(post_request("/v1/chat/completions", body_for("good")));
  ASSERT_TRUE(b);
  EXPECT_EQ(b->status, 200);
  auto s = mock_stats(0);
  ASSERT_TRUE(s);
  bool resumed = false;
  EXPECT_FALSE(s->root["last_request"]["tls"]["resumed"].get(resumed));
  EXPECT_TRUE(resumed) << "the pooled reconnect did a full handshake";
  EXPECT_GE(stat(0, {"tls", "resumed"}), 1u);
  std::string m = metrics(*s_gw);
  EXPECT_GE(sample(m, "ringgate_upstream_tls_handshakes_total{provider=\"good\"}"), 2) << m;
  EXPECT_GE(sample(m, "ringgate_upstream_tls_resumed_total{provider=\"good\"}"), 1) << m;
}

TEST_F(tls_test, streaming_over_tls) {
  auto r = via_gateway(post_request("/v1/chat/completions", body_for("good", true),
                                    "x-mock-chunks: 40\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  auto events = sse_events(r->body);
  EXPECT_EQ(count_content_chunks(events), 40u);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().data, "[DONE]");
}

TEST_F(tls_test, client_disconnect_mid_stream_closes_the_upstream) {
  client c;
  ASSERT_TRUE(c.connect(s_gw->port()));
  ASSERT_TRUE(c.send(post_request("/v1/chat/completions", body_for("good", true),
                                  "x-mock-chunks: 50\r\nx-mock-delay-ms: 100\r\n")));
  auto deadline = steady::now() + 5s;
  while (c.buffered().find("data: ") == std::string::npos && steady::now() < deadline) {
    c.wait_closed(50ms);
  }
  ASSERT_NE(c.buffered().find("data: "), std::string::npos);
  EXPECT_EQ(stat(0, {"in_flight"}), 1u);
  c.close();
  auto gone_by = steady::now() + 2s;
  while (stat(0, {"in_flight"}) != 0 && steady::now() < gone_by) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(stat(0, {"in_flight"}), 0u) << "the upstream stream must end when the client leaves";
}

TEST_F(tls_test, inbound_tls_with_curl_cacert) {
  std::string url = "https://localhost:" + std::to_string(s_inbound->port());
  auto r = run_to_exit({tool("curl"), "-sS", "--max-time", "10", "--cacert", s_pki->p("ca.crt"),
                        url + "/v1/chat/completions", "-H", "content-type: application/json",
                        "-d", body_for("good")},
                       15s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("chat.completion"), std::string::npos) << r.out;
  // Streaming over both legs.
  r = run_to_exit({tool("curl"), "-sS", "-N", "--max-time", "10", "--cacert", s_pki->p("ca.crt"),
                   url + "/v1/chat/completions", "-d", body_for("good", true)},
                  15s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("data: [DONE]"), std::string::npos) << r.out;
  // A client that does not trust the certificate's CA refuses it.
  r = run_to_exit({tool("curl"), "-sS", "--max-time", "10", "--cacert", s_pki->p("ca2.crt"),
                   url + "/health"},
                  15s);
  EXPECT_NE(r.exit_code, 0);
  // Plain HTTP to a TLS listener is not served.
  r = run_to_exit({tool("curl"), "-sS", "--max-time", "5", "http://127.0.0.1:" +
                   std::to_string(s_inbound->port()) + "/health"}, 10s);
  EXPECT_NE(r.exit_code, 0);
}

// The inbound listener's policy seen from OpenSSL clients. The refusals are checked in
// ringgate's own counters too, so a failure on the client's side (its own minimum) cannot pass.
TEST_F(tls_test, inbound_refuses_tls11_and_cbc_and_negotiates_tls12_aead) {
  const std::string port = std::to_string(s_inbound->port());
  const std::string url = "https://localhost:" + port + "/health";
  const std::string refused = "ringgate_inbound_tls_failures_total{reason=\"protocol_version\"}";
  const std::string handshakes = "ringgate_inbound_tls_handshakes_total";
  double refused_before = sample(metrics(*s_inbound), refused);
  ASSERT_GE(refused_before, 0) << metrics(*s_inbound);
  auto r = run_to_exit({tool("curl"), "-sS", "--max-time", "10", "--cacert", s_pki->p("ca.crt"),
                        "--tlsv1.1", "--tls-max", "1.1", "--ciphers", "DEFAULT@SECLEVEL=0", url},
                       15s);
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_EQ(await_sample(*s_inbound, refused, refused_before + 1), refused_before + 1)
      << "ringgate itself must refuse TLS 1.1";
  r = run_to_exit({tool("curl"), "-sS", "--max-time", "10", "--cacert", s_pki->p("ca.crt"),
                   "--tlsv1.2", "--tls-max", "1.2", "--ciphers",
                   "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA",
                   url},
                  15s);
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_EQ(await_sample(*s_inbound, refused, refused_before + 2), refused_before + 2)
      << "ringgate itself must refuse CBC suites";
  // A modern client gets TLS 1.2 with the server's first choice, an ECDHE AEAD suite.
  double done_before = sample(metrics(*s_inbound), handshakes);
  r = run_to_exit({tool("openssl"), "s_client", "-connect", "127.0.0.1:" + port, "-servername",
                   "localhost", "-CAfile", s_pki->p("ca.crt"), "-verify_return_error"},
                  15s);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Protocol  : TLSv1.2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Cipher    : ECDHE-ECDSA-AES256-GCM-SHA384"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Server Temp Key: X25519"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Verify return code: 0 (ok)"), std::string::npos) << r.out;
  // ChaCha20-Poly1305 is offered too.
  r = run_to_exit({tool("openssl"), "s_client", "-connect", "127.0.0.1:" + port, "-servername",
                   "localhost", "-CAfile", s_pki->p("ca.crt"), "-tls1_2", "-cipher",
                   "ECDHE-ECDSA-CHACHA20-POLY1305"},
                  15s);
  EXPECT_NE(r.out.find("Cipher    : ECDHE-ECDSA-CHACHA20-POLY1305"), std::string::npos) << r.out;
  EXPECT_EQ(await_sample(*s_inbound, handshakes, done_before + 2), done_before + 2);
}

// Startup mistakes in TLS files: exit 1 with one line naming the file and the cause.
TEST_F(tls_test, bad_tls_files_fail_startup_with_one_line) {
  temp_dir dir;
  std::string garbage =
      dir.write("garbage.pem", "-----BEGIN CERTIFICATE-----\nbm90\n-----END CERTIFICATE-----\n");
  auto inbound = [&](const std::string& cert, const std::string& key) {
    return "[server]\ntls_cert = \"" + cert + "\"\ntls_key = \"" + key + "\"\n";
  };
  const std::string enoent = ": No such file or directory";
  const std::pair<std::string, std::string> bad[] = {
      {inbound("/nonexistent/srv.crt", s_pki->p("good.key")),
       "ringgate: server TLS: tls_cert: cannot read /nonexistent/srv.crt" + enoent},
      {inbound(s_pki->p("good.crt"), "/nonexistent/srv.key"),
       "ringgate: server TLS: tls_key: cannot read /nonexistent/srv.key" + enoent},
      {inbound(garbage, s_pki->p("good.key")), "ringgate: server TLS: tls_cert " + garbage + ": "},
      {inbound(s_pki->p("good.crt"), garbage), "ringgate: server TLS: tls_key " + garbage + ": "},
      {inbound(s_pki->p("good.crt"), s_pki->p("expired.key")),
       "ringgate: server TLS: tls_key " + s_pki->p("expired.key") +
           " does not match the certificate in " + s_pki->p("good.crt")},
      {provider_toml("noca", 443, "ca_file = \"/nonexistent/ca.pem\""),
       "ringgate: providers.noca.tls: cannot read /nonexistent/ca.pem: No such file or directory"},
  };
  for (const auto& [toml, line] : bad) {
    SCOPED_TRACE(line);
    std::string file = dir.write("bad.toml", toml);
    auto r = run_to_exit({ringgate_bin(), "--config", file, "--listen", "127.0.0.1:0",
                          "--admin-listen", "off", "--log-format", "text"},
                         15s);
    ASSERT_TRUE(r.exit_code);
    EXPECT_EQ(*r.exit_code, 1);
    size_t at = r.err.find(line);
    ASSERT_NE(at, std::string::npos) << r.err;
    EXPECT_EQ(r.err.find('\n', at), r.err.size() - 1) << "the cause is the last line: " << r.err;
    EXPECT_EQ(r.err.find("listening on"), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace rg::itest
