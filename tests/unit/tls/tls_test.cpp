// tls configuration building: CA bundle loading names unparsable entries, verification flags map
// to one reason, insecure_skip_verify always warns, a missing CA file is one clear error.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include <ringgate/tls/tls.hpp>

#include "fixture.hpp"

namespace rg::tls {
namespace {

std::string system_bundle_text() {
  std::ifstream f(std::string(client_config::system_bundle));
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

using test::write_temp;

TEST(tls_config, system_bundle_loads) {
  std::vector<std::string> warnings;
  auto c = client_config::build({}, warnings);
  ASSERT_TRUE(c) << c.error();
  EXPECT_GT((*c)->ca_count(), 10u);
  EXPECT_TRUE(warnings.empty());
}

TEST(tls_config, unparsable_bundle_entry_is_named_in_a_warning) {
  std::string text = system_bundle_text();
  ASSERT_FALSE(text.empty());
  text += "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";
  std::string path = write_temp(text);
  std::vector<std::string> warnings;
  auto c = client_config::build({path, false}, warnings);
  std::remove(path.c_str());
  ASSERT_TRUE(c) << c.error();
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find(path), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("certificate "), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("(line "), std::string::npos) << warnings[0];
}

TEST(tls_config, missing_or_empty_ca_file_is_an_error) {
  std::vector<std::string> warnings;
  auto c = client_config::build({"/nonexistent/ca.pem", false}, warnings);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("/nonexistent/ca.pem"), std::string::npos) << c.error();
  std::string path = write_temp("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  auto d = client_config::build({path, false}, warnings);
  std::remove(path.c_str());
  EXPECT_FALSE(d);
}

TEST(tls_config, insecure_skip_verify_warns_at_every_load) {
  for (int i = 0; i < 2; ++i) {
    std::vector<std::string> warnings;
    auto c = client_config::build({"", true}, warnings);
    ASSERT_TRUE(c);
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("insecure_skip_verify"), std::string::npos);
  }
}

// mbedTLS 2.28's defaults accept TLS 1.1, renegotiation on request and P-521 first: all set here.
TEST(tls_config, client_and_server_require_tls_1_2_and_refuse_renegotiation) {
  std::vector<std::string> warnings;
  auto c = client_config::build({}, warnings);
  ASSERT_TRUE(c) << c.error();
  test::test_pki pki;
  auto s = server_config::build({pki.cert_file, pki.key_file, 0});
  ASSERT_TRUE(s) << s.error();
  for (const mbedtls_ssl_config* conf : {(*c)->conf(), (*s)->conf()}) {
    EXPECT_EQ(conf->min_major_ver, MBEDTLS_SSL_MAJOR_VERSION_3);
    EXPECT_EQ(conf->min_minor_ver, MBEDTLS_SSL_MINOR_VERSION_3);  // TLS 1.2
    EXPECT_EQ(conf->max_minor_ver, MBEDTLS_SSL_MINOR_VERSION_3);
    EXPECT_EQ(conf->disable_renegotiation, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
    // ECDHE on X25519 first: mbedTLS's default order starts with the slowest, secp521r1.
    EXPECT_EQ(conf->curve_list[0], MBEDTLS_ECP_DP_CURVE25519);
  }
  EXPECT_EQ((*c)->conf()->authmode, MBEDTLS_SSL_VERIFY_REQUIRED);
}

TEST(tls_config, bad_server_certificate_or_key_is_one_line_naming_the_file) {
  test::test_pki pki, other;
  std::string garbage =
      write_temp("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n");
  struct bad {
    std::string cert, key, expect;
  } cases[] = {
      {"/nonexistent/srv.crt", pki.key_file,
       "tls_cert: cannot read /nonexistent/srv.crt: No such file or directory"},
      {pki.cert_file, "/nonexistent/srv.key",
       "tls_key: cannot read /nonexistent/srv.key: No such file or directory"},
      {garbage, pki.key_file, "tls_cert " + garbage},
      {pki.cert_file, garbage, "tls_key " + garbage},
      {pki.cert_file, other.key_file, "does not match"},
  };
  for (const auto& b : cases) {
    auto s = server_config::build({b.cert, b.key, 0});
    ASSERT_FALSE(s) << b.cert << " " << b.key;
    EXPECT_NE(s.error().find(b.expect), std::string::npos) << s.error();
    EXPECT_EQ(s.error().find('\n'), std::string::npos) << s.error();
  }
  std::remove(garbage.c_str());
}

TEST(tls_verify, flags_map_to_one_reason) {
  EXPECT_EQ(classify_verify_flags(MBEDTLS_X509_BADCERT_CN_MISMATCH, false),
            failure::hostname_mismatch);
  EXPECT_EQ(classify_verify_flags(MBEDTLS_X509_BADCERT_EXPIRED, false), failure::expired);
  EXPECT_EQ(classify_verify_flags(MBEDTLS_X509_BADCERT_FUTURE, false), failure::not_yet_valid);
  EXPECT_EQ(classify_verify_flags(MBEDTLS_X509_BADCERT_NOT_TRUSTED | MBEDTLS_X509_BADCERT_CN_MISMATCH,
                                  false),
            failure::untrusted);
  EXPECT_EQ(classify_verify_flags(MBEDTLS_X509_BADCERT_NOT_TRUSTED, true), failure::self_signed);
  EXPECT_EQ(describe(failure::hostname_mismatch), "certificate hostname mismatch");
  EXPECT_EQ(label(failure::timeout), "timeout");
}

}  // namespace
}  // namespace rg::tls
