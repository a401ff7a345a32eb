// stream: one TCP connection on a shard. Receives with a multishot recv into the shard's
// provided-buffer ring, copying into a per-connection input block taken from a pool only while
// there are unconsumed bytes; sends with single-shot sendmsg under a deadline.
// With a transform (TLS) set, received bytes are ciphertext kept in a second block and decrypted
// into the input block; sends are encrypted into an output block first. Hold mode does not apply
// then: plaintext exists only after decryption, so callers use the copy path (see secure()).
// Invariants: at most one reader and one sender wait at a time; a completion handler never touches
// the stream after resuming its waiter (the waiter may close and free it); the fd is closed only
// after the multishot recv's final completion has been reaped; on a secure stream no plaintext
// is read or sent before handshake() returned 0.
#pragma once

#include <sys/uio.h>

#include <coroutine>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include <ringgate/net/transform.hpp>
#include <ringgate/runtime/block_pool.hpp>
#include <ringgate/runtime/io_call.hpp>
#include <ringgate/runtime/shard.hpp>
#include <ringgate/runtime/task.hpp>
#include <ringgate/runtime/timer.hpp>

namespace rg::net {

enum class read_status : uint8_t {
  data,       // new bytes were appended to input()
  eof,        // the peer closed its side and every byte has been delivered
  timeout,    // the deadline passed first
  cancelled,  // abort() was called
  error,      // the socket failed (last_errno())
  full,       // input() is at capacity: consume before reading more
};

class stream {
 public:
  stream(runtime::shard& s, runtime::block_pool& pool, int fd) noexcept;
  stream(const stream&) = delete;
  stream& operator=(const stream&) = delete;
  ~stream();

  int fd() const noexcept { return _fd; }
  int last_errno() const noexcept { return _errno; }
  bool aborted() const noexcept { return _aborted; }

  // Puts a record layer (TLS) under this stream; before any byte is received or sent.
  void set_transform(std::unique_ptr<transform> t) noexcept { _xf = std::move(t); }
  bool secure() const noexcept { return _xf != nullptr; }
  const transform* tls() const noexcept { return _xf.get(); }
  // Runs the transform's handshake to completion. 0, or -errno: -EPROTO (the transform failed;
  // it keeps the reason), -ETIMEDOUT, -ECONNRESET (closed first), -ECANCELED.
  runtime::task<int> handshake(uint64_t deadline_ns);

  // Bytes received and not yet consumed. Valid until the next read_more() or consume().
  std::string_view input() const noexcept { return {_in + _in_head, _in_tail - _in_head}; }
  void consume(size_t n) noexcept;
  // Gives the input block back to the pool when it holds no unconsumed byte (idle connections).
  void release_input_if_empty() noexcept;

  struct read_awaiter {
    stream& s;
    uint64_t deadline_ns;
    read_status status = read_status::data;
    bool await_ready() noexcept;
    void await_suspend(std::coroutine_handle<> h) noexcept;
    read_status await_resume() noexcept;
  };
  // Receive modes. copy (default): received bytes are appended to input(). hold (zero-copy):
  // each received provided buffer is queued as is; the reader takes it with pop_buffer() and gives
  // it back with recycle() once done with it (e.g. after the send that forwarded it completed).
  // Switch to hold only when input() is empty or its bytes have been handled.
  enum class rx_mode : uint8_t { copy, hold };
  void set_rx_mode(rx_mode m) noexcept { _mode = _xf ? rx_mode::copy : m; }
  struct rx_buffer {
    uint16_t bid;
    const char* data;
    uint32_t len;
  };
  bool pop_buffer(rx_buffer& out) noexcept;
  void recycle(uint16_t bid) noexcept;
  // Hold mode, for a reader that parses a head in place before choosing how to read what follows
  // it: the first queued buffer's bytes, without popping it (false when none is queued);
  // skip_front() drops its first n bytes (n <= its size; recycled when none remain); settle()
  // returns to copy mode, appending every queued byte to input() (what does not fit follows on
  // the next read_more(), as when input() is full).
  bool front_buffer(std::string_view& out) const noexcept;
  void skip_front(size_t n) noexcept;
  void settle() noexcept;
  size_t buffers_queued() const noexcept { return _held.count; }

  // Waits until new bytes are appended to input() (copy mode) or a buffer is queued (hold mode),
  // or EOF, an error, the deadline, or abort().
  read_awaiter read_more(uint64_t deadline_ns) noexcept { return read_awaiter{*this, deadline_ns}; }

  // Sends every byte; returns 0 or -errno (-ECANCELED after abort() or at the deadline).
  // `iov` is consumed (advanced) as bytes go out.
  runtime::task<int> send_all(std::span<iovec> iov, uint64_t deadline_ns);
  runtime::task<int> send_all(std::string_view bytes, uint64_t deadline_ns);

  // Half-closes the sending side (after close_notify on a secure stream); reads continue.
  runtime::task<void> shutdown_write();
  // Wakes a waiting reader with `cancelled` without ending the stream (later reads work).
  void interrupt_reader() noexcept;
  bool eof() const noexcept { return _eof; }
  // True when the stream can carry another exchange: open, no error, no EOF, nothing unread.
  bool reusable() const noexcept {
    return _fd >= 0 && !_eof && !_errno && !_aborted && !_cancelled && _held.empty() &&
           _in_head == _in_tail && secure_reusable();
  }
  // Wakes a waiting reader with `cancelled` and cancels a pending send; later reads report cancelled.
  void abort() noexcept;
  // Stops receiving, waits for the recv's final completion, closes the fd, frees buffers.
  runtime::task<void> close();

 private:
  struct recv_op final : runtime::op {
    stream* self = nullptr;
    void complete(int res, uint32_t flags) noexcept override { self->on_recv(res, flags); }
  };
  // Hold mode: pause the recv once this many buffers wait for the reader. More may still arrive
  // (completions already posted); they queue too, bounded by the shard's buffer count.
  static constexpr size_t hold_pause_at = 32;

  bool secure_reusable() const noexcept {
    return !_xf || (_tls_ready && !_tls_closed && _cin_head == _cin_tail && _out_len == 0 &&
                    !_xf->plaintext_pending());
  }
  runtime::task<int> send_raw(std::span<iovec> iov, uint64_t deadline_ns);
  runtime::task<int> send_secure(std::span<iovec> iov, uint64_t deadline_ns);
  runtime::task<int> flush_out(uint64_t deadline_ns);
  bool ensure_out() noexcept;
  cipher_io window() noexcept;
  void apply(const cipher_io& io) noexcept;
  bool tls_pump() noexcept;
  bool tls_decrypt() noexcept;
  void tls_wake(bool fresh) noexcept;
  // The status a waiting reader gets now; false when it should keep waiting.
  bool tls_status(bool progressed, read_status& out) const noexcept;
  runtime::task<void> send_close_notify();
  void arm_recv() noexcept;
  void on_recv(int res, uint32_t flags) noexcept;
  bool ensure_input() noexcept;
  size_t append_to(char*& block, size_t& head, size_t& tail, const char* p, size_t n) noexcept;
  // Received bytes: plaintext into the input block, or ciphertext into its own block.
  size_t take(const char* p, size_t n) noexcept {
    return _xf ? append_to(_cin, _cin_head, _cin_tail, p, n) : append_to(_in, _in_head, _in_tail, p, n);
  }
  bool drain_held() noexcept;
  void wake_reader(read_status st) noexcept;
  static void on_read_deadline(runtime::timer& t, void* ctx) noexcept;
  static void on_rearm(runtime::timer& t, void* ctx) noexcept;

  runtime::shard& _shard;
  runtime::block_pool& _pool;
  int _fd;
  int _errno = 0;
  bool _recv_armed = false;
  bool _eof = false;
  bool _aborted = false;
  bool _closing = false;
  bool _pausing = false;    // we cancelled the recv because input is full
  bool _cancelled = false;  // the recv was cancelled by someone else (shutdown)
  bool _nobufs = false;     // the last recv ended because the buffer ring was empty
  recv_op _recv;
  runtime::io_call _send;
  runtime::timer _read_timer;
  runtime::timer _rearm_timer;  // retries a recv that found the buffer ring empty
  rx_mode _mode = rx_mode::copy;
  std::coroutine_handle<> _reader;
  read_status _reader_status = read_status::data;
  std::coroutine_handle<> _close_waiter;
  char* _in = nullptr;
  size_t _in_head = 0;
  size_t _in_tail = 0;
  runtime::buffer_ring::queue _held;  // received buffers not yet copied (copy) or popped (hold)
  // Secure streams: the record layer, received ciphertext, and ciphertext waiting to be sent.
  std::unique_ptr<transform> _xf;
  bool _tls_ready = false;   // handshake done
  bool _tls_closed = false;  // close_notify received
  bool _sending = false;     // a send of _out is in flight
  bool _notify_sent = false; // close_notify already sent
  char* _cin = nullptr;
  size_t _cin_head = 0;
  size_t _cin_tail = 0;
  char* _out = nullptr;
  size_t _out_len = 0;
};

}  // namespace rg::net
