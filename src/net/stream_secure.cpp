// The secure half of net::stream: ciphertext received into a second block and decrypted into the
// input block, plaintext encrypted into an output block and sent through the shard's ring, the
// handshake driven as a coroutine. The transform is only ever called synchronously, with memory
// windows; nothing here blocks.
#include <ringgate/net/stream.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <ringgate/runtime/log.hpp>

namespace rg::net {
namespace {

constexpr size_t record_plain_max = 16384;              // TLS plaintext record limit
constexpr size_t record_room = record_plain_max + 1024;  // + the largest record expansion

// Copies up to `cap` bytes from iov[first...] into `dst`, advancing the iovecs.
size_t gather(std::span<iovec> iov, size_t& first, char* dst, size_t cap) noexcept {
  size_t n = 0;
  while (first < iov.size() && n < cap) {
    iovec& v = iov[first];
    size_t take = std::min(v.iov_len, cap - n);
    std::memcpy(dst + n, v.iov_base, take);
    n += take;
    v.iov_base = static_cast<char*>(v.iov_base) + take;
    v.iov_len -= take;
    if (v.iov_len == 0) ++first;
  }
  return n;
}

}  // namespace

bool stream::ensure_out() noexcept {
  if (!_out) {
    _out = _pool.get();
    _out_len = 0;
  }
  return _out != nullptr;
}

cipher_io stream::window() noexcept {
  cipher_io io;
  if (_cin) {
    io.in = _cin + _cin_head;
    io.in_len = _cin_tail - _cin_head;
  }
  if (ensure_out()) {
    io.out = _out + _out_len;
    io.out_cap = _pool.block_bytes() - _out_len;
  }
  return io;
}

void stream::apply(const cipher_io& io) noexcept {
  _cin_head += io.in_used;
  if (_cin_head == _cin_tail) _cin_head = _cin_tail = 0;
  _out_len += io.out_len;
}

// Decrypts buffered ciphertext into the input block while there is room. True when plaintext
// was produced. A fatal record error fails the stream (EPROTO); close_notify ends it.
bool stream::tls_decrypt() noexcept {
  bool produced = false;
  size_t cap = _pool.block_bytes();
  while (!_errno && !_tls_closed) {
    ensure_input();
    if (_in_tail == cap && _in_head > 0) {
      std::memmove(_in, _in + _in_head, _in_tail - _in_head);
      _in_tail -= _in_head;
      _in_head = 0;
    }
    if (_in_tail == cap) break;
    if (_cin_head == _cin_tail && !_xf->plaintext_pending()) break;
    cipher_io io = window();
    size_t n = 0;
    xf_result r = _xf->decrypt(io, _in + _in_tail, cap - _in_tail, n);
    apply(io);
    _in_tail += n;
    produced |= n > 0;
    if (r == xf_result::closed) _tls_closed = true;
    if (r == xf_result::error) _errno = EPROTO;
    if (r != xf_result::done || n == 0) break;
  }
  return produced;
}

// Moves held receive buffers into the ciphertext block and, once the handshake is done, decrypts.
// True when the reader has something new: ciphertext during the handshake, plaintext after.
bool stream::tls_pump() noexcept {
  bool progressed = false;
  for (;;) {
    bool moved = !_held.empty() && drain_held();
    if (!_tls_ready) return progressed || moved;
    progressed |= tls_decrypt();
    if (!moved || _errno || _tls_closed) break;
  }
  return progressed;
}

bool stream::tls_status(bool progressed, read_status& out) const noexcept {
  if (progressed) {
    out = read_status::data;
  } else if (_errno) {
    out = read_status::error;
  } else if (_tls_closed) {
    out = read_status::eof;
  } else if (_eof) {
    // The TCP stream ended without close_notify: a truncation, never a clean end.
    out = read_status::error;
  } else if (_in && _in_head == 0 && _in_tail == _pool.block_bytes()) {
    out = read_status::full;
  } else {
    return false;
  }
  return true;
}

// A receive completed while a reader waits on a secure stream.
void stream::tls_wake(bool fresh) noexcept {
  bool progressed = tls_pump() || (fresh && !_tls_ready);
  if (_cancelled && !progressed) {
    wake_reader(read_status::cancelled);
    return;
  }
  read_status st;
  if (tls_status(progressed, st)) {
    wake_reader(st);
    return;
  }
  if (!_recv_armed) {
    if (_nobufs) {
      _shard.timers().arm(_rearm_timer, _shard.now_ns() + 1'000'000);
    } else {
      arm_recv();
    }
  }
}

runtime::task<int> stream::handshake(uint64_t deadline_ns) {
  for (;;) {
    if (_aborted || _fd < 0) co_return -ECANCELED;
    cipher_io io = window();
    if (!io.out) co_return -ENOMEM;
    xf_result r = _xf->handshake(io);
    apply(io);
    if (_out_len > 0) {
      int rc = co_await flush_out(deadline_ns);  // an alert after a failure is sent too
      if (rc < 0) co_return r == xf_result::error ? -EPROTO : rc;
    }
    if (r == xf_result::done) {
      _tls_ready = true;
      co_return 0;
    }
    if (r == xf_result::error) co_return -EPROTO;
    if (r == xf_result::closed) co_return -ECONNRESET;
    if (r == xf_result::want_write) continue;
    read_status rs = co_await read_more(deadline_ns);
    if (rs == read_status::data) continue;
    co_return rs == read_status::timeout ? -ETIMEDOUT
           : rs == read_status::cancelled ? -ECANCELED
                                          : -ECONNRESET;
  }
}

// Sends every ciphertext byte in the output block (bytes queued meanwhile included).
runtime::task<int> stream::flush_out(uint64_t deadline_ns) {
  while (_out_len > 0) {
    size_t n = _out_len;
    iovec v{_out, n};
    _sending = true;
    int rc = co_await send_raw(std::span<iovec>(&v, 1), deadline_ns);
    _sending = false;
    if (rc < 0) co_return rc;
    std::memmove(_out, _out + n, _out_len - n);
    _out_len -= n;
  }
  if (_out) _pool.put(std::exchange(_out, nullptr));
  co_return 0;
}

// Gathers plaintext into full records (small iovecs would otherwise each cost a record) and
// sends them. The staging buffer is only used between two suspension points.
runtime::task<int> stream::send_secure(std::span<iovec> iov, uint64_t deadline_ns) {
  static thread_local char stage[record_plain_max];
  if (!_tls_ready) co_return -ENOTCONN;
  size_t first = 0;
  while (first < iov.size() && iov[first].iov_len == 0) ++first;
  while (first < iov.size()) {
    if (_aborted || _fd < 0) co_return -ECANCELED;
    if (!ensure_out()) co_return -ENOMEM;
    while (first < iov.size() && _pool.block_bytes() - _out_len >= record_room) {
      size_t len = gather(iov, first, stage, sizeof(stage));
      size_t off = 0;
      while (off < len) {
        cipher_io io = window();
        size_t used = 0;
        xf_result r = _xf->encrypt(io, stage + off, len - off, used);
        apply(io);
        if (r != xf_result::done || used == 0) {
          log::warn("tls encrypt failed, closing", {{"fd", _fd}});
          _errno = EPROTO;
          co_return -EPROTO;
        }
        off += used;
      }
    }
    int rc = co_await flush_out(deadline_ns);
    if (rc < 0) co_return rc;
  }
  co_return 0;
}

// A close_notify when the stream is clean (nothing half-sent), so the peer learns the close was
// deliberate, not a truncation. It goes out through the ring like every other send, but with
// MSG_DONTWAIT: a peer that has stopped reading gets no close_notify rather than holding up the
// close, so this costs at most one loop turn. `_send` is free when neither flag is set: every
// secure send runs in flush_out, which holds `_sending`; close() has stopped new ones (aborted),
// and shutdown_write()'s caller is the stream's only sender.
runtime::task<void> stream::send_close_notify() {
  if (!_tls_ready || _errno || _eof || _sending || _send.pending() || _out_len > 0 || _fd < 0 ||
      _notify_sent) {
    co_return;
  }
  _notify_sent = true;
  cipher_io io = window();
  if (!io.out) co_return;
  _xf->close_notify(io);
  apply(io);
  if (_out_len > 0) {
    io_uring_prep_send(_send.sqe(), _fd, _out, _out_len, MSG_DONTWAIT | MSG_NOSIGNAL);
    _sending = true;
    (void)co_await _send;  // all or nothing in practice: an alert record is 31 bytes
    _sending = false;
  }
  _out_len = 0;
}

runtime::task<void> stream::shutdown_write() {
  if (_xf) co_await send_close_notify();
  if (_fd >= 0) ::shutdown(_fd, SHUT_WR);
}

}  // namespace rg::net
