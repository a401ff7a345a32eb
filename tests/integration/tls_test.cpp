// TLS end to end: a test PKI generated with openssl at test time; ringgate in front of mockllm
// speaking HTTPS with one mock per certificate case. Every rejection must answer 502 with the
// reason and leave the mock without a single request (the provider key never left ringgate).
// Inbound TLS is exercised with curl --cacert. The mocks' /mock/stats is read with curl -k.
#include <gtest/gtest.h>

#include <string>
#include <thread>

#include <unistd.h>

#include "harness.hpp"
#include "sse_util.hpp"

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

// run_to_exit spawns without a PATH search: resolve tools here.
std::string tool(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  for (size_t at = 0; at <= dirs.size();) {
    size_t end = dirs.find(':', at);
    if (end == std::string::npos) end = dirs.size();
    std::string cand = dirs.substr(at, end - at) + "/" + name;
    if (::access(cand.c_str(), X_OK) == 0) return cand;
    at = end + 1;
  }
  return name;
}

// A CA, a second (untrusted) CA, and one leaf per case, in a temp directory.
class pki {
 public:
  bool make() {
    _dir.write("index.txt", "");
    _dir.write("serial", "1000\n");
    _dir.write("ca.cnf", "[ca]\ndefault_ca = d\n[d]\ndatabase = " + p("index.txt") +
                             "\nnew_certs_dir = " + _dir.path() + "\nserial = " + p("serial") +
                             "\ndefault_md = sha256\npolicy = pol\nunique_subject = no\n"
                             "[pol]\ncommonName = supplied\n");
    return self_signed("ca", "ringgate test CA", "") &&
           self_signed("ca2", "another CA", "") &&
           self_signed("selfsigned", "localhost", "subjectAltName=DNS:localhost") &&
           leaf("good", "ca", "localhost", "", "") &&
           leaf("wronghost", "ca", "other.example.test", "", "") &&
           leaf("expired", "ca", "localhost", "20200101000000Z", "20200201000000Z") &&
           leaf("notyet", "ca", "localhost", "20990101000000Z", "20991231000000Z") &&
           leaf("untrusted", "ca2", "localhost", "", "");
  }
  std::string p(std::string_view name) const { return _dir.path() + "/" + std::string(name); }
  const std::string& error() const { return _error; }

 private:
  bool run(const std::vector<std::string>& argv) {
    auto r = run_to_exit(argv, 30s);
    if (r.exit_code == 0) return true;
    _error = argv[1] + ": " + r.err;
    return false;
  }
  bool self_signed(const std::string& name, const std::string& cn, const std::string& ext) {
    std::vector<std::string> a = {tool("openssl"), "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                  "ec_paramgen_curve:P-256", "-nodes", "-keyout", p(name + ".key"),
                                  "-out", p(name + ".crt"), "-days", "30", "-subj", "/CN=" + cn};
    if (!ext.empty()) {
      a.push_back("-addext");
      a.push_back(ext);
    }
    return run(a);
  }
  bool leaf(const std::string& name, const std::string& ca, const std::string& host,
            const std::string& start, const std::string& end) {
    _dir.write(name + ".ext", "subjectAltName=DNS:" + host + "\n");
    if (!run({tool("openssl"), "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
              "-nodes", "-keyout", p(name + ".key"), "-out", p(name + ".csr"), "-subj",
              "/CN=" + host})) {
      return false;
    }
    std::vector<std::string> a = {tool("openssl"), "ca", "-batch", "-notext", "-config", p("ca.cnf"),
                                  "-cert", p(ca + ".crt"), "-keyfile", p(ca + ".key"), "-in",
                                  p(name + ".csr"), "-out", p(name + ".crt"), "-extfile",
                                  p(name + ".ext")};
    if (start.empty()) {
      a.insert(a.end(), {"-days", "5"});
    } else {
      a.insert(a.end(), {"-startdate", start, "-enddate", end});
    }
    return run(a);
  }

  temp_dir _dir;
  std::string _error;
};

// The certificate cases; each gets its own mock.
struct tls_case {
  const char* name;  // also the provider and model name
  const char* cert;
  const char* reason;  // "" for the valid one
  bool tls11 = false;
};
const tls_case cases[] = {
    {"good", "good", ""},
    {"wronghost", "wronghost", "upstream TLS: certificate hostname mismatch for localhost"},
    {"expired", "expired", "upstream TLS: certificate expired for localhost"},
    {"notyet", "notyet", "upstream TLS: certificate not yet valid for localhost"},
    {"untrusted", "untrusted", "upstream TLS: certificate not trusted (unknown CA) for localhost"},
    {"selfsigned", "selfsigned", "upstream TLS: self-signed certificate not trusted for localhost"},
    {"tls11", "good", "upstream TLS: protocol version or cipher suites refused (TLS 1.2 with AEAD is the "
     "minimum) for localhost",
     true},
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
      providers += "[[providers]]\nname = \"" + std::string(c.name) +
                   "\"\nkind = \"openai\"\nbase_url = \"https://localhost:" +
                   std::to_string(s_mocks[i]->port()) +
                   "/v1\"\napi_key = \"sk-never-leaked\"\nforward_headers = [\"x-mock-*\"]\n"
                   "tls = { ca_file = \"" + s_pki->p("ca.crt") + "\" }\n\n[[models]]\nname = \"" +
                   c.name + "\"\ntargets = [{ provider = \"" + c.name +
                   "\", model = \"mock-small\" }]\n\n";
    }
    server_options gw;
    gw.shards = 1;  // one pool per provider: reconnects and resumption are observable
    gw.config_toml = providers;
    s_gw = server::start(gw);
    if (!s_gw) {
      s_error = "ringgate failed to start";
      return;
    }
    server_options in;
    in.shards = 1;
    in.config_toml = "[server]\ntls_cert = \"" + s_pki->p("good.crt") + "\"\ntls_key = \"" +
                     s_pki->p("good.key") + "\"\n\n" + providers;
    s_inbound = server::start(in);
    if (!s_inbound) s_error = "ringgate with inbound TLS failed to start";
  }
  static void TearDownTestSuite() {
    for (auto* s : {&s_gw, &s_inbound}) {
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
    s_pki.reset();
  }
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

}  // namespace
}  // namespace rg::itest
