// tls configuration building: CA bundle loading names unparsable entries, verification flags map
// to one reason, insecure_skip_verify always warns, a missing CA file is one clear error.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include <ringgate/tls/tls.hpp>

namespace rg::tls {
namespace {

std::string system_bundle_text() {
  std::ifstream f(std::string(client_config::system_bundle));
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string write_temp(const std::string& text) {
  char path[] = "/tmp/rg-tls-test-XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  FILE* f = fdopen(fd, "w");
  fwrite(text.data(), 1, text.size(), f);
  fclose(f);
  return path;
}

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
