// Test fixtures for the tls unit tests: a self-signed localhost certificate made in process with
// mbedTLS (written to temp files, removed on destruction), the shared configurations built from
// it, and an in-memory wire that drives two transforms against each other through cipher_io
// windows, exactly as net::stream does, but with byte strings instead of sockets.
#pragma once

#include <gtest/gtest.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/x509_crt.h>

#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <ringgate/tls/tls.hpp>

namespace rg::tls::test {

// A test-only random source (the library's own is private to it).
struct test_rng {
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  test_rng() {
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, nullptr, 0);
  }
  ~test_rng() {
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
  }
  static int fill(void* self, unsigned char* out, size_t n) {
    return mbedtls_ctr_drbg_random(&static_cast<test_rng*>(self)->drbg, out, n);
  }
};

inline std::string write_temp(const std::string& text, const char* stem = "rg-tls-test") {
  std::string path = std::string("/tmp/") + stem + "-XXXXXX";
  int fd = mkstemp(path.data());
  EXPECT_GE(fd, 0);
  FILE* f = fdopen(fd, "w");
  fwrite(text.data(), 1, text.size(), f);
  fclose(f);
  return path;
}

// A self-signed P-256 certificate for CN=localhost (CA:true, so it is its own trust anchor).
class test_pki {
 public:
  test_pki() {
    test_rng rng;
    mbedtls_pk_context key;
    mbedtls_pk_init(&key);
    mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
    mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key), test_rng::fill, &rng);
    mbedtls_x509write_cert crt;
    mbedtls_x509write_crt_init(&crt);
    mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&crt, &key);
    mbedtls_x509write_crt_set_issuer_key(&crt, &key);
    mbedtls_x509write_crt_set_subject_name(&crt, "CN=localhost");
    mbedtls_x509write_crt_set_issuer_name(&crt, "CN=localhost");
    mbedtls_mpi serial;
    mbedtls_mpi_init(&serial);
    mbedtls_mpi_lset(&serial, 4242);
    mbedtls_x509write_crt_set_serial(&crt, &serial);
    mbedtls_x509write_crt_set_validity(&crt, "20200101000000", "20991231235959");
    mbedtls_x509write_crt_set_basic_constraints(&crt, 1, -1);
    std::vector<unsigned char> pem(4096);
    int ret = mbedtls_x509write_crt_pem(&crt, pem.data(), pem.size(), test_rng::fill, &rng);
    EXPECT_EQ(ret, 0) << "x509write_crt_pem";
    cert_pem = reinterpret_cast<const char*>(pem.data());
    ret = mbedtls_pk_write_key_pem(&key, pem.data(), pem.size());
    EXPECT_EQ(ret, 0) << "pk_write_key_pem";
    key_pem = reinterpret_cast<const char*>(pem.data());
    mbedtls_mpi_free(&serial);
    mbedtls_x509write_crt_free(&crt);
    mbedtls_pk_free(&key);
    cert_file = write_temp(cert_pem, "rg-tls-cert");
    key_file = write_temp(key_pem, "rg-tls-key");
  }
  ~test_pki() {
    std::remove(cert_file.c_str());
    std::remove(key_file.c_str());
  }
  test_pki(const test_pki&) = delete;
  test_pki& operator=(const test_pki&) = delete;

  std::unique_ptr<client_config> client() const {
    std::vector<std::string> warnings;
    auto c = client_config::build({cert_file, false}, warnings);
    EXPECT_TRUE(c) << c.error();
    return c ? std::move(*c) : nullptr;
  }
  std::unique_ptr<server_config> server() const {
    auto s = server_config::build({cert_file, key_file, 0});
    EXPECT_TRUE(s) << s.error();
    return s ? std::move(*s) : nullptr;
  }

  std::string cert_pem, key_pem, cert_file, key_file;
};

// Ciphertext in flight each way between a client and a server.
struct wire {
  std::string to_server, to_client;
};

// One call of a transform step with `in` as the received ciphertext; what it wrote is appended
// to `out` and what it read is removed from `in`.
template <class Step>
net::xf_result drive(std::string& in, std::string& out, Step&& step) {
  static char buf[64 * 1024];
  net::cipher_io io;
  io.in = in.data();
  io.in_len = in.size();
  io.out = buf;
  io.out_cap = sizeof(buf);
  net::xf_result r = step(io);
  in.erase(0, io.in_used);
  out.append(buf, io.out_len);
  return r;
}

// Runs both handshakes to completion; false when either fails or they stop making progress.
inline bool handshake(net::transform& client, net::transform& server, wire& w) {
  net::xf_result c = net::xf_result::want_read, s = net::xf_result::want_read;
  for (int turn = 0; turn < 32 && (c != net::xf_result::done || s != net::xf_result::done);
       ++turn) {
    if (c != net::xf_result::done) {
      c = drive(w.to_client, w.to_server, [&](net::cipher_io& io) { return client.handshake(io); });
    }
    if (s != net::xf_result::done) {
      s = drive(w.to_server, w.to_client, [&](net::cipher_io& io) { return server.handshake(io); });
    }
    if (c == net::xf_result::error || s == net::xf_result::error) return false;
  }
  return c == net::xf_result::done && s == net::xf_result::done;
}

// Encrypts all of `text` into `out`.
inline bool send_text(net::transform& t, std::string_view text, std::string& out) {
  std::string none;
  while (!text.empty()) {
    size_t used = 0;
    auto r = drive(none, out, [&](net::cipher_io& io) {
      return t.encrypt(io, text.data(), text.size(), used);
    });
    if (r != net::xf_result::done || used == 0) return false;
    text.remove_prefix(used);
  }
  return true;
}

// Decrypts what `in` holds; the plaintext, and the last result in `last`.
inline std::string receive_text(net::transform& t, std::string& in, std::string& out,
                                net::xf_result& last) {
  std::string plain;
  char buf[4096];
  for (;;) {
    size_t n = 0;
    last = drive(in, out, [&](net::cipher_io& io) { return t.decrypt(io, buf, sizeof(buf), n); });
    plain.append(buf, n);
    if (last != net::xf_result::done || (n == 0 && in.empty() && !t.plaintext_pending())) break;
  }
  return plain;
}

// The TLS record content types in a byte string of whole records (20 CCS, 21 alert, 22
// handshake, 23 application data); the header is cleartext even for encrypted records.
inline std::vector<int> record_types(std::string_view bytes) {
  std::vector<int> types;
  while (bytes.size() >= 5) {
    types.push_back(static_cast<unsigned char>(bytes[0]));
    size_t len =
        size_t(static_cast<unsigned char>(bytes[3])) << 8 | static_cast<unsigned char>(bytes[4]);
    if (bytes.size() < 5 + len) break;
    bytes.remove_prefix(5 + len);
  }
  return types;
}

}  // namespace rg::tls::test
