// Building the shared, read-only TLS configurations (control thread): CA bundle loading with a
// warning per unparsable entry, the client's verification policy, the server's certificate, key
// and session tickets; and the per-thread random generator every configuration uses.
#include <ringgate/tls/tls.hpp>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/platform_util.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include "internal.hpp"

namespace rg::tls {
namespace {

// TLS 1.2 AEAD suites with forward secrecy, strongest first.
const int aead_suites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    0,
};

// Key exchange groups, fastest first. mbedTLS's default order starts at secp521r1, which a
// server then picks for ECDHE whenever the client offers it (OpenSSL does): about twice the CPU
// of a whole X25519 or P-256 full handshake (bench/tls/run, hs_ringgate). The client's list also
// bounds the curves accepted in the server's certificate, so P-521 stays, last.
const mbedtls_ecp_group_id groups[] = {
    MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1, MBEDTLS_ECP_DP_SECP384R1,
    MBEDTLS_ECP_DP_SECP521R1,  MBEDTLS_ECP_DP_NONE,
};

// One CTR-DRBG per thread (a shard, or the control thread), seeded from the system on first use
// and never per connection.
struct thread_drbg {
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  bool seeded = false;
  thread_drbg() {
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
  }
  ~thread_drbg() {
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
  }
};

std::string error_text(int ret) {
  char buf[160];
  mbedtls_strerror(ret, buf, sizeof(buf));
  return buf;
}

std::expected<std::string, std::string> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::unexpected("cannot read " + path + ": " + std::strerror(errno));
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Parses every PEM certificate of a bundle on its own, so an unparsable one can be named.
std::expected<void, std::string> load_bundle(mbedtls_x509_crt& ca, const std::string& path,
                                             std::vector<std::string>& warnings) {
  auto text = read_file(path);
  if (!text) return std::unexpected(text.error());
  static constexpr std::string_view begin = "-----BEGIN CERTIFICATE-----";
  static constexpr std::string_view end = "-----END CERTIFICATE-----";
  const std::string& t = *text;
  if (t.find(begin) == std::string::npos) {  // DER, one certificate
    int ret = mbedtls_x509_crt_parse_file(&ca, path.c_str());
    if (ret != 0) return std::unexpected(path + ": no usable certificate: " + error_text(ret));
    return {};
  }
  size_t entry = 0;
  for (size_t at = t.find(begin); at != std::string::npos; at = t.find(begin, at + 1)) {
    ++entry;
    size_t stop = t.find(end, at);
    if (stop == std::string::npos) stop = t.size();
    else stop += end.size();
    std::string pem = t.substr(at, stop - at);  // c_str() supplies the NUL PEM parsing needs
    int ret = mbedtls_x509_crt_parse(&ca, reinterpret_cast<const unsigned char*>(pem.c_str()),
                                     pem.size() + 1);
    if (ret != 0) {
      size_t line = size_t(std::count(t.begin(), t.begin() + long(at), '\n')) + 1;
      warnings.push_back(path + ": certificate " + std::to_string(entry) + " (line " +
                         std::to_string(line) + ") skipped: " + error_text(ret));
    }
  }
  if (ca.raw.p == nullptr) return std::unexpected(path + ": no usable certificate");
  return {};
}

}  // namespace

int thread_rng(void*, unsigned char* out, size_t len) {
  static thread_local thread_drbg t;
  if (!t.seeded) {
    static constexpr char personal[] = "ringgate";
    int ret = mbedtls_ctr_drbg_seed(&t.drbg, mbedtls_entropy_func, &t.entropy,
                                    reinterpret_cast<const unsigned char*>(personal),
                                    sizeof(personal) - 1);
    if (ret != 0) return ret;
    t.seeded = true;
  }
  return mbedtls_ctr_drbg_random(&t.drbg, out, len);
}

client_config::client_config() {
  mbedtls_ssl_config_init(&_conf);
  mbedtls_x509_crt_init(&_ca);
}

client_config::~client_config() {
  mbedtls_ssl_config_free(&_conf);
  mbedtls_x509_crt_free(&_ca);
}

size_t client_config::ca_count() const noexcept {
  size_t n = 0;
  for (const mbedtls_x509_crt* c = &_ca; c && c->raw.p; c = c->next) ++n;
  return n;
}

std::expected<std::unique_ptr<client_config>, std::string> client_config::build(
    const client_options& o, std::vector<std::string>& warnings) {
  std::unique_ptr<client_config> c(new client_config());
  std::string path = o.ca_file.empty() ? std::string(system_bundle) : o.ca_file;
  if (auto ok = load_bundle(c->_ca, path, warnings); !ok) return std::unexpected(ok.error());
  if (o.insecure_skip_verify) {
    warnings.push_back("tls.insecure_skip_verify is on: the upstream certificate is NOT verified");
  }
  mbedtls_ssl_config* conf = &c->_conf;
  int ret = mbedtls_ssl_config_defaults(conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                        MBEDTLS_SSL_PRESET_DEFAULT);
  if (ret != 0) return std::unexpected("TLS client configuration: " + error_text(ret));
  // The default would accept TLS 1.1; 2.28 has nothing above 1.2.
  mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_max_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_authmode(conf, o.insecure_skip_verify ? MBEDTLS_SSL_VERIFY_NONE
                                                         : MBEDTLS_SSL_VERIFY_REQUIRED);
  mbedtls_ssl_conf_ca_chain(conf, &c->_ca, nullptr);
  mbedtls_ssl_conf_rng(conf, thread_rng, nullptr);
  mbedtls_ssl_conf_renegotiation(conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
  mbedtls_ssl_conf_session_tickets(conf, MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
  mbedtls_ssl_conf_ciphersuites(conf, aead_suites);
  mbedtls_ssl_conf_curves(conf, groups);
  return c;
}

server_config::server_config() {
  mbedtls_ssl_config_init(&_conf);
  mbedtls_x509_crt_init(&_chain);
  mbedtls_pk_init(&_key);
  mbedtls_ssl_ticket_init(&_tickets);
}

server_config::~server_config() {
  mbedtls_ssl_config_free(&_conf);
  mbedtls_x509_crt_free(&_chain);
  mbedtls_pk_free(&_key);
  mbedtls_ssl_ticket_free(&_tickets);
}

// The certificate chain and its key, each failure one line naming the file: unreadable,
// unparsable, or a key that is not the certificate's (mbedTLS would otherwise accept the pair and
// fail every handshake later).
std::expected<void, std::string> server_config::load_identity(server_config& c,
                                                              const server_options& o) {
  auto cert = read_file(o.cert_file);
  if (!cert) return std::unexpected("tls_cert: " + cert.error());
  int ret = mbedtls_x509_crt_parse(&c._chain, reinterpret_cast<const unsigned char*>(cert->c_str()),
                                   cert->size() + 1);  // + the NUL PEM parsing needs
  if (ret < 0) return std::unexpected("tls_cert " + o.cert_file + ": " + error_text(ret));
  if (ret > 0) return std::unexpected("tls_cert " + o.cert_file + ": unparsable certificate in chain");
  auto key = read_file(o.key_file);
  if (!key) return std::unexpected("tls_key: " + key.error());
  ret = mbedtls_pk_parse_key(&c._key, reinterpret_cast<const unsigned char*>(key->c_str()),
                             key->size() + 1, nullptr, 0);
  mbedtls_platform_zeroize(key->data(), key->size());
  if (ret != 0) return std::unexpected("tls_key " + o.key_file + ": " + error_text(ret));
  if (mbedtls_pk_check_pair(&c._chain.pk, &c._key) != 0) {
    return std::unexpected("tls_key " + o.key_file + " does not match the certificate in " +
                           o.cert_file);
  }
  return {};
}

std::expected<std::unique_ptr<server_config>, std::string> server_config::build(
    const server_options& o) {
  std::unique_ptr<server_config> c(new server_config());
  if (auto ok = load_identity(*c, o); !ok) return std::unexpected(ok.error());
  mbedtls_ssl_config* conf = &c->_conf;
  int ret = mbedtls_ssl_config_defaults(conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT);
  if (ret != 0) return std::unexpected("TLS server configuration: " + error_text(ret));
  int minor = o.max_minor_version ? o.max_minor_version : MBEDTLS_SSL_MINOR_VERSION_3;
  mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, minor);
  mbedtls_ssl_conf_max_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, minor);
  if (minor == MBEDTLS_SSL_MINOR_VERSION_3) mbedtls_ssl_conf_ciphersuites(conf, aead_suites);
  mbedtls_ssl_conf_curves(conf, groups);
  mbedtls_ssl_conf_rng(conf, thread_rng, nullptr);
  mbedtls_ssl_conf_renegotiation(conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
  ret = mbedtls_ssl_conf_own_cert(conf, &c->_chain, &c->_key);
  if (ret != 0) {
    return std::unexpected("tls_cert/tls_key " + o.cert_file + ": " + error_text(ret));
  }
  // Stateless resumption: the ticket context is shared by every shard (mbedTLS locks it).
  ret = mbedtls_ssl_ticket_setup(&c->_tickets, thread_rng, nullptr, MBEDTLS_CIPHER_AES_256_GCM,
                                 86400);
  if (ret != 0) return std::unexpected("TLS session tickets: " + error_text(ret));
  mbedtls_ssl_conf_session_tickets_cb(conf, mbedtls_ssl_ticket_write, mbedtls_ssl_ticket_parse,
                                      &c->_tickets);
  mbedtls_ssl_conf_sni(conf, sni_callback, nullptr);
  return c;
}

}  // namespace rg::tls
