// transform: a record layer under net::stream (TLS), driven entirely through memory windows the
// stream lends it for one call: ciphertext received (from the shard's receive buffers) and room
// for ciphertext to send (through the shard's ring). A transform never touches a socket.
// Invariant: every call returns without blocking; what it consumed and produced is reported in
// the cipher_io it was given.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace rg::net {

// The windows for one call. `in_used` and `out_len` are advanced by the transform.
struct cipher_io {
  const char* in = nullptr;
  size_t in_len = 0;
  size_t in_used = 0;
  char* out = nullptr;
  size_t out_cap = 0;
  size_t out_len = 0;
};

enum class xf_result : uint8_t {
  done,        // the step finished (handshake complete, bytes produced or consumed)
  want_read,   // needs more ciphertext
  want_write,  // the output window is full: send it, then call again with the same arguments
  closed,      // the peer sent close_notify
  error,       // fatal: the connection cannot continue (reason kept by the transform)
};

class transform {
 public:
  virtual ~transform() = default;

  virtual xf_result handshake(cipher_io& io) noexcept = 0;
  // Decrypts into [dst, dst + cap); `n` = plaintext bytes written.
  virtual xf_result decrypt(cipher_io& io, char* dst, size_t cap, size_t& n) noexcept = 0;
  // Encrypts a prefix of [src, src + len) (at most one record); `used` = plaintext consumed.
  virtual xf_result encrypt(cipher_io& io, const char* src, size_t len, size_t& used) noexcept = 0;
  // Queues a close_notify alert in io.out.
  virtual void close_notify(cipher_io& io) noexcept = 0;
  // Decrypted bytes held inside the transform (a record larger than the last decrypt window).
  virtual bool plaintext_pending() const noexcept = 0;

  // What the handshake established (for logs, tests and the mock's stats).
  virtual bool resumed() const noexcept = 0;
  virtual std::string_view server_name() const noexcept = 0;  // SNI sent (client) or seen (server)
};

}  // namespace rg::net
