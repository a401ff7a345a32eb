// tls: mbedTLS 2.28 client and server configurations and the per-connection session that plugs
// into net::stream as its transform. Configurations are built on the control thread and then only
// read by shards (one per provider, one for the inbound listener); sessions belong to one shard.
// Invariants: a client always verifies the peer (unless insecure_skip_verify, which warns at every
// load), always sends SNI and checks the hostname, never accepts less than TLS 1.2, and refuses
// renegotiation. Random numbers come from one CTR-DRBG per thread, seeded once.
#pragma once

#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crt.h>

#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <ringgate/net/transform.hpp>

namespace rg::tls {

// Why a handshake failed, as counted and reported ("upstream TLS: <describe> for <host>").
enum class failure : uint8_t {
  none,
  hostname_mismatch,
  expired,
  not_yet_valid,
  untrusted,       // unknown CA
  self_signed,
  protocol_version,
  handshake,       // anything else (alert from the peer, bad record, no common cipher)
  closed,          // the peer closed or reset the connection mid-handshake
  timeout,
  count,
};
std::string_view describe(failure f) noexcept;
std::string_view label(failure f) noexcept;  // metric/log label, e.g. "hostname_mismatch"

struct client_options {
  std::string ca_file;  // empty: the system bundle
  bool insecure_skip_verify = false;
};

// Shared, read-only after build(): one per https provider.
class client_config {
 public:
  static constexpr std::string_view system_bundle = "/etc/ssl/certs/ca-certificates.crt";
  // Loads the CA bundle. `warnings` receives one line per unparsable bundle entry and the
  // insecure_skip_verify warning; the error is one line naming the cause.
  static std::expected<std::unique_ptr<client_config>, std::string> build(
      const client_options& o, std::vector<std::string>& warnings);
  ~client_config();
  client_config(const client_config&) = delete;
  client_config& operator=(const client_config&) = delete;

  const mbedtls_ssl_config* conf() const noexcept { return &_conf; }
  size_t ca_count() const noexcept;

 private:
  client_config();
  mbedtls_ssl_config _conf;
  mbedtls_x509_crt _ca;
};

struct server_options {
  std::string cert_file;  // PEM chain, leaf first
  std::string key_file;
  // Test hook for mockllm: the highest version offered (1 = TLS 1.1 only); 0 = TLS 1.2.
  int max_minor_version = 0;
};

// Shared, read-only after build(): the inbound listener's (and mockllm's) configuration.
class server_config {
 public:
  static std::expected<std::unique_ptr<server_config>, std::string> build(const server_options& o);
  ~server_config();
  server_config(const server_config&) = delete;
  server_config& operator=(const server_config&) = delete;
  const mbedtls_ssl_config* conf() const noexcept { return &_conf; }

 private:
  server_config();
  static std::expected<void, std::string> load_identity(server_config& c, const server_options& o);
  mbedtls_ssl_config _conf;
  mbedtls_x509_crt _chain;
  mbedtls_pk_context _key;
  mbedtls_ssl_ticket_context _tickets;
};

// The last session established with one upstream, for resumption on the next connection. One per
// shard per provider (never shared between threads).
class session_cache {
 public:
  session_cache() noexcept;
  ~session_cache();
  session_cache(const session_cache&) = delete;
  session_cache& operator=(const session_cache&) = delete;
  bool valid() const noexcept { return _valid; }
  const mbedtls_ssl_session* get() const noexcept { return &_session; }
  void store(const mbedtls_ssl_context& ssl) noexcept;
  void clear() noexcept;

 private:
  mbedtls_ssl_session _session;
  bool _valid = false;
};

// One connection's TLS state: the transform a net::stream drives.
class session final : public net::transform {
 public:
  // `host` is sent as SNI and verified against the certificate; `cache` (optional) offers the
  // last session for resumption and receives the new one after a full handshake.
  static std::unique_ptr<session> client(const client_config& cfg, const std::string& host,
                                         session_cache* cache);
  static std::unique_ptr<session> server(const server_config& cfg);
  ~session() override;

  net::xf_result handshake(net::cipher_io& io) noexcept override;
  net::xf_result decrypt(net::cipher_io& io, char* dst, size_t cap, size_t& n) noexcept override;
  net::xf_result encrypt(net::cipher_io& io, const char* src, size_t len,
                         size_t& used) noexcept override;
  void close_notify(net::cipher_io& io) noexcept override;
  bool plaintext_pending() const noexcept override;
  bool resumed() const noexcept override { return _resumed; }
  std::string_view server_name() const noexcept override { return _server_name; }

  failure why() const noexcept { return _failure; }
  int mbedtls_error() const noexcept { return _ret; }
  // Why a handshake ended with `rc`, the code net::stream::handshake() returned (non-zero):
  // the transform's own reason for -EPROTO, else a timeout or a close.
  failure failure_for(int rc) const noexcept;

 private:
  session() noexcept;
  static int bio_send(void* ctx, const unsigned char* buf, size_t len);
  static int bio_recv(void* ctx, unsigned char* buf, size_t len);
  friend int sni_callback(void*, mbedtls_ssl_context*, const unsigned char*, size_t);
  net::xf_result fail(int ret) noexcept;

  mbedtls_ssl_context _ssl;
  net::cipher_io* _io = nullptr;  // the windows of the call in progress
  session_cache* _cache = nullptr;
  std::string _server_name;
  failure _failure = failure::none;
  int _ret = 0;
  bool _resumed = false;
  bool _self_signed = false;  // the peer's leaf certificate, as seen during verification
};

// Maps mbedTLS verification flags (mbedtls_ssl_get_verify_result) to one reason.
failure classify_verify_flags(uint32_t flags, bool self_signed) noexcept;

}  // namespace rg::tls
