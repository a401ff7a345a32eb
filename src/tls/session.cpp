// One connection's TLS session: an mbedtls_ssl_context whose BIO callbacks read and write the
// memory windows net::stream lends for each call (never a socket), failure classification from
// the verification flags, and the client's session cache for resumption.
#include <mbedtls/ssl_internal.h>

#include <cerrno>
#include <cstring>

#include <ringgate/tls/tls.hpp>

#include "internal.hpp"

namespace rg::tls {
namespace {

thread_local session* t_handshaking = nullptr;  // whose handshake step is running (SNI callback)

// The peer's certificate is freed when verification fails, so whether the leaf was self-signed
// is noted while it is being verified.
int note_leaf(void* ctx, mbedtls_x509_crt* crt, int depth, uint32_t*) {
  if (depth == 0) {
    *static_cast<bool*>(ctx) =
        crt->issuer_raw.len == crt->subject_raw.len &&
        std::memcmp(crt->issuer_raw.p, crt->subject_raw.p, crt->issuer_raw.len) == 0;
  }
  return 0;  // never changes the verdict
}

// A fatal alert in answer to our ClientHello: the server wants an older protocol version or
// cipher suites we do not offer (TLS 1.2 AEAD only).
bool refused_hello(const mbedtls_ssl_context& ssl, int ret) noexcept {
  if (ret != MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE || ssl.state != MBEDTLS_SSL_SERVER_HELLO) return false;
  if (ssl.in_msgtype != MBEDTLS_SSL_MSG_ALERT || ssl.in_msglen < 2) return false;
  uint8_t alert = ssl.in_msg[1];
  return alert == MBEDTLS_SSL_ALERT_MSG_PROTOCOL_VERSION ||
         alert == MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE ||
         alert == MBEDTLS_SSL_ALERT_MSG_INSUFFICIENT_SECURITY;
}

}  // namespace

std::string_view describe(failure f) noexcept {
  switch (f) {
    case failure::none: return "no failure";
    case failure::hostname_mismatch: return "certificate hostname mismatch";
    case failure::expired: return "certificate expired";
    case failure::not_yet_valid: return "certificate not yet valid";
    case failure::untrusted: return "certificate not trusted (unknown CA)";
    case failure::self_signed: return "self-signed certificate not trusted";
    case failure::protocol_version:
      return "protocol version or cipher suites refused (TLS 1.2 with AEAD is the minimum)";
    case failure::handshake: return "handshake failed";
    case failure::closed: return "connection closed during the handshake";
    case failure::timeout: return "handshake timed out";
    case failure::count: break;
  }
  return "unknown";
}

std::string_view label(failure f) noexcept {
  static constexpr std::string_view names[] = {
      "none",     "hostname_mismatch", "expired",   "not_yet_valid", "untrusted",
      "self_signed", "protocol_version", "handshake", "closed",        "timeout"};
  return f < failure::count ? names[size_t(f)] : "unknown";
}

failure classify_verify_flags(uint32_t flags, bool self_signed) noexcept {
  if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) {
    return self_signed ? failure::self_signed : failure::untrusted;
  }
  if (flags & MBEDTLS_X509_BADCERT_EXPIRED) return failure::expired;
  if (flags & MBEDTLS_X509_BADCERT_FUTURE) return failure::not_yet_valid;
  if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) return failure::hostname_mismatch;
  return failure::handshake;
}

int sni_callback(void*, mbedtls_ssl_context*, const unsigned char* name, size_t len) {
  if (t_handshaking) t_handshaking->_server_name.assign(reinterpret_cast<const char*>(name), len);
  return 0;
}

session_cache::session_cache() noexcept { mbedtls_ssl_session_init(&_session); }
session_cache::~session_cache() { mbedtls_ssl_session_free(&_session); }

void session_cache::store(const mbedtls_ssl_context& ssl) noexcept {
  clear();
  _valid = mbedtls_ssl_get_session(&ssl, &_session) == 0;
}

void session_cache::clear() noexcept {
  mbedtls_ssl_session_free(&_session);
  mbedtls_ssl_session_init(&_session);
  _valid = false;
}

session::session() noexcept { mbedtls_ssl_init(&_ssl); }
session::~session() { mbedtls_ssl_free(&_ssl); }

std::unique_ptr<session> session::client(const client_config& cfg, const std::string& host,
                                         session_cache* cache) {
  std::unique_ptr<session> s(new session());
  if (mbedtls_ssl_setup(&s->_ssl, cfg.conf()) != 0) return nullptr;
  // Without a hostname mbedTLS 2.28 verifies no name at all; this also sends SNI.
  if (mbedtls_ssl_set_hostname(&s->_ssl, host.c_str()) != 0) return nullptr;
  s->_server_name = host;
  mbedtls_ssl_set_bio(&s->_ssl, s.get(), bio_send, bio_recv, nullptr);
  mbedtls_ssl_set_verify(&s->_ssl, note_leaf, &s->_self_signed);
  if (cache && cache->valid()) mbedtls_ssl_set_session(&s->_ssl, cache->get());
  s->_cache = cache;
  return s;
}

std::unique_ptr<session> session::server(const server_config& cfg) {
  std::unique_ptr<session> s(new session());
  if (mbedtls_ssl_setup(&s->_ssl, cfg.conf()) != 0) return nullptr;
  mbedtls_ssl_set_bio(&s->_ssl, s.get(), bio_send, bio_recv, nullptr);
  return s;
}

int session::bio_send(void* ctx, const unsigned char* buf, size_t len) {
  net::cipher_io* io = static_cast<session*>(ctx)->_io;
  if (!io || !io->out || io->out_len == io->out_cap) return MBEDTLS_ERR_SSL_WANT_WRITE;
  size_t n = std::min(len, io->out_cap - io->out_len);
  std::memcpy(io->out + io->out_len, buf, n);
  io->out_len += n;
  return int(n);
}

int session::bio_recv(void* ctx, unsigned char* buf, size_t len) {
  net::cipher_io* io = static_cast<session*>(ctx)->_io;
  if (!io || io->in_used == io->in_len) return MBEDTLS_ERR_SSL_WANT_READ;
  size_t n = std::min(len, io->in_len - io->in_used);
  std::memcpy(buf, io->in + io->in_used, n);
  io->in_used += n;
  return int(n);
}

net::xf_result session::fail(int ret) noexcept {
  _ret = ret;
  if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
    _failure = classify_verify_flags(mbedtls_ssl_get_verify_result(&_ssl), _self_signed);
  } else if (ret == MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION || refused_hello(_ssl, ret) ||
             ret == MBEDTLS_ERR_SSL_NO_CIPHER_CHOSEN) {  // (server) the client offers no AEAD suite
    _failure = failure::protocol_version;
  } else if (ret == MBEDTLS_ERR_SSL_CONN_EOF || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
    _failure = failure::closed;
  } else {
    _failure = failure::handshake;
  }
  return net::xf_result::error;
}

failure session::failure_for(int rc) const noexcept {
  if (rc == -EPROTO) return _failure;
  return rc == -ETIMEDOUT ? failure::timeout : failure::closed;
}

net::xf_result session::handshake(net::cipher_io& io) noexcept {
  _io = &io;
  t_handshaking = this;
  int ret = 0;
  // Step by step so the resumption flag can be read before the handshake state is freed.
  while (_ssl.state != MBEDTLS_SSL_HANDSHAKE_OVER) {
    ret = mbedtls_ssl_handshake_step(&_ssl);
    if (_ssl.handshake && _ssl.handshake->resume) _resumed = true;
    if (ret != 0) break;
  }
  t_handshaking = nullptr;
  _io = nullptr;
  if (ret == 0) {
    if (_cache && !_resumed) _cache->store(_ssl);
    return net::xf_result::done;
  }
  if (ret == MBEDTLS_ERR_SSL_WANT_READ) return net::xf_result::want_read;
  if (ret == MBEDTLS_ERR_SSL_WANT_WRITE) return net::xf_result::want_write;
  if (_cache) _cache->clear();  // a session the peer no longer accepts is not offered again
  return fail(ret);
}

net::xf_result session::decrypt(net::cipher_io& io, char* dst, size_t cap, size_t& n) noexcept {
  _io = &io;
  int ret = mbedtls_ssl_read(&_ssl, reinterpret_cast<unsigned char*>(dst), cap);
  _io = nullptr;
  n = 0;
  if (ret > 0) {
    n = size_t(ret);
    return net::xf_result::done;
  }
  if (ret == MBEDTLS_ERR_SSL_WANT_READ) return net::xf_result::want_read;
  if (ret == MBEDTLS_ERR_SSL_WANT_WRITE) return net::xf_result::want_write;
  if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) return net::xf_result::closed;
  _ret = ret;
  return net::xf_result::error;
}

net::xf_result session::encrypt(net::cipher_io& io, const char* src, size_t len,
                                size_t& used) noexcept {
  _io = &io;
  int ret = mbedtls_ssl_write(&_ssl, reinterpret_cast<const unsigned char*>(src), len);
  _io = nullptr;
  used = 0;
  if (ret >= 0) {
    used = size_t(ret);
    return net::xf_result::done;
  }
  if (ret == MBEDTLS_ERR_SSL_WANT_WRITE) return net::xf_result::want_write;
  _ret = ret;
  return net::xf_result::error;
}

void session::close_notify(net::cipher_io& io) noexcept {
  _io = &io;
  (void)mbedtls_ssl_close_notify(&_ssl);
  _io = nullptr;
}

bool session::plaintext_pending() const noexcept { return mbedtls_ssl_get_bytes_avail(&_ssl) > 0; }

}  // namespace rg::tls
