// stream: multishot recv into provided buffers, copied into a pooled input block; sendmsg with
// deadlines; orderly close (see stream.hpp for the invariants). The secure (transform) half of
// the stream lives in stream_secure.cpp.
#include <ringgate/net/stream.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <ringgate/runtime/log.hpp>

namespace rg::net {

using runtime::io_call;

stream::stream(runtime::shard& s, runtime::block_pool& pool, int fd) noexcept
    : _shard(s), _pool(pool), _fd(fd), _send(s) {
  _recv.self = this;
  _read_timer.set_callback(&stream::on_read_deadline, this);
  _rearm_timer.set_callback(&stream::on_rearm, this);
}

stream::~stream() {
  // close() must have run; this is the safety net for a bug, not a code path.
  if (_fd >= 0) {
    log::error("stream destroyed without close", {{"fd", _fd}});
    ::close(_fd);
  }
  if (_in) _pool.put(_in);
  if (_cin) _pool.put(_cin);
  if (_out) _pool.put(_out);
}

void stream::consume(size_t n) noexcept {
  _in_head += n;
  if (_in_head == _in_tail) _in_head = _in_tail = 0;
}

void stream::release_input_if_empty() noexcept {
  if (_in && _in_head == _in_tail && _held.empty()) {
    _pool.put(_in);
    _in = nullptr;
    _in_head = _in_tail = 0;
  }
  if (_cin && _cin_head == _cin_tail && _held.empty()) {
    _pool.put(_cin);
    _cin = nullptr;
    _cin_head = _cin_tail = 0;
  }
}

bool stream::ensure_input() noexcept {
  if (!_in) {
    _in = _pool.get();
    _in_head = _in_tail = 0;
  }
  return true;
}

// Appends to a pooled block [head, tail), taking the block on first use and compacting (moving
// unconsumed bytes to the front) when the tail has no room. Returns the bytes taken.
size_t stream::append_to(char*& block, size_t& head, size_t& tail, const char* p,
                         size_t n) noexcept {
  if (!block) {
    block = _pool.get();
    head = tail = 0;
  }
  size_t cap = _pool.block_bytes();
  if (tail + n > cap && head > 0) {
    std::memmove(block, block + head, tail - head);
    tail -= head;
    head = 0;
  }
  size_t take = std::min(n, cap - tail);
  std::memcpy(block + tail, p, take);
  tail += take;
  return take;
}

// Moves held provided buffers into the input block; true when any byte moved.
bool stream::drain_held() noexcept {
  bool moved = false;
  auto& bufs = _shard.recv_buffers();
  while (!_held.empty()) {
    runtime::buffer_ring::piece h = bufs.front(_held);
    size_t took = take(bufs.data(h.bid) + h.offset, h.len);
    moved |= took > 0;
    if (took < h.len) {
      bufs.trim_front(_held, uint32_t(took));
      break;
    }
    bufs.pop(_held);
    bufs.recycle(h.bid);
  }
  return moved;
}

void stream::arm_recv() noexcept {
  if (_recv_armed || _eof || _closing || _fd < 0 || _rearm_timer.armed()) return;
  io_uring_sqe* sqe = _shard.sqe_for(&_recv);
  io_uring_prep_recv_multishot(sqe, _fd, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = _shard.recv_buffers().group();
  _recv_armed = true;
}

void stream::on_recv(int res, uint32_t flags) noexcept {
  if (!(flags & IORING_CQE_F_MORE)) _recv_armed = false;
  if (res > 0 && (flags & IORING_CQE_F_BUFFER)) {
    auto bid = uint16_t(flags >> IORING_CQE_BUFFER_SHIFT);
    auto& bufs = _shard.recv_buffers();
    bufs.on_taken();
    if (_closing) {
      bufs.recycle(bid);
    } else if (_mode == rx_mode::hold) {
      bufs.push(_held, bid, 0, uint32_t(res));
      if (_held.count >= hold_pause_at && _recv_armed && !_pausing) {  // reader is behind: pause
        _pausing = true;
        _shard.cancel(&_recv);
      }
    } else {
      size_t took = _held.empty() ? take(bufs.data(bid), size_t(res)) : 0;
      if (took == size_t(res)) {
        bufs.recycle(bid);
      } else {
        // The input block is full: queue the rest and pause until the reader catches up. The
        // kernel may already have posted more completions, which queue behind it (the pause
        // is not instant, and received bytes are never dropped).
        bufs.push(_held, bid, uint32_t(took), uint32_t(size_t(res) - took));
        if (_recv_armed && !_pausing) {
          _pausing = true;
          _shard.cancel(&_recv);
        }
      }
    }
  } else if (res == 0) {
    _eof = true;
  } else if (res == -ENOBUFS) {
    // The shard's buffer ring ran dry: retry shortly rather than spin while buffers are in use.
    _nobufs = true;
  } else if (res == -ECANCELED) {
    // Our own pause, or someone else's cancel (shard shutdown): the latter ends the stream.
    if (!_pausing) _cancelled = true;
  } else if (res < 0) {
    _errno = -res;
  }
  if (!_recv_armed) _pausing = false;
  if (!_recv_armed && _close_waiter) {
    std::exchange(_close_waiter, {}).resume();
    return;
  }
  if (_reader && _xf) {
    tls_wake(res > 0 && !_closing);
  } else if (_reader) {
    if (_errno) {
      wake_reader(read_status::error);
    } else if (_cancelled) {
      wake_reader(read_status::cancelled);
    } else if (!_held.empty() || (res > 0 && !_closing)) {
      wake_reader(read_status::data);
    } else if (_eof) {
      wake_reader(read_status::eof);
    } else if (!_recv_armed) {
      if (_nobufs) {
        _shard.timers().arm(_rearm_timer, _shard.now_ns() + 1'000'000);
      } else {
        arm_recv();  // a pause cancel: resume receiving
      }
    }
  }
}

void stream::wake_reader(read_status st) noexcept {
  _shard.timers().cancel(_read_timer);
  _reader_status = st;
  std::exchange(_reader, {}).resume();  // last action: the reader may free this stream
}

void stream::on_rearm(runtime::timer&, void* ctx) noexcept {
  auto* self = static_cast<stream*>(ctx);
  self->_nobufs = false;
  self->arm_recv();
}

bool stream::pop_buffer(rx_buffer& out) noexcept {
  if (_held.empty()) return false;
  auto& bufs = _shard.recv_buffers();
  runtime::buffer_ring::piece h = bufs.front(_held);
  bufs.pop(_held);
  out = {h.bid, bufs.data(h.bid) + h.offset, h.len};
  return true;
}

void stream::recycle(uint16_t bid) noexcept { _shard.recv_buffers().recycle(bid); }

bool stream::front_buffer(std::string_view& out) const noexcept {
  if (_held.empty()) return false;
  auto& bufs = _shard.recv_buffers();
  runtime::buffer_ring::piece h = bufs.front(_held);
  out = std::string_view(bufs.data(h.bid) + h.offset, h.len);
  return true;
}

void stream::skip_front(size_t n) noexcept {
  if (_held.empty() || n == 0) return;
  auto& bufs = _shard.recv_buffers();
  runtime::buffer_ring::piece h = bufs.front(_held);
  if (n < h.len) {
    bufs.trim_front(_held, uint32_t(n));
    return;
  }
  bufs.pop(_held);
  bufs.recycle(h.bid);
}

void stream::settle() noexcept {
  _mode = rx_mode::copy;
  if (!_xf) drain_held();
}

void stream::on_read_deadline(runtime::timer&, void* ctx) noexcept {
  auto* self = static_cast<stream*>(ctx);
  if (self->_reader) self->wake_reader(read_status::timeout);
}

bool stream::read_awaiter::await_ready() noexcept {
  if (s._aborted || s._cancelled) {
    status = read_status::cancelled;
    return true;
  }
  if (s._xf) return s.tls_status(s.tls_pump(), status);
  if (!s._held.empty() && s._mode == rx_mode::hold) {
    status = read_status::data;
    return true;
  }
  if (!s._held.empty()) {
    if (s.drain_held()) {
      status = read_status::data;
      return true;
    }
    status = read_status::full;
    return true;
  }
  if (s._errno) {
    status = read_status::error;
    return true;
  }
  if (s._eof) {
    status = read_status::eof;
    return true;
  }
  if (s._in && s._in_head == 0 && s._in_tail == s._pool.block_bytes()) {
    status = read_status::full;
    return true;
  }
  return false;
}

void stream::read_awaiter::await_suspend(std::coroutine_handle<> h) noexcept {
  s._reader = h;
  s._reader_status = read_status::data;
  s.arm_recv();
  if (deadline_ns != UINT64_MAX) s._shard.timers().arm(s._read_timer, deadline_ns);
}

read_status stream::read_awaiter::await_resume() noexcept {
  if (status != read_status::data) return status;  // decided in await_ready
  read_status st = s._reader_status;
  if (st == read_status::data && !s._held.empty() && s._mode == rx_mode::copy && !s._xf) {
    s.drain_held();
  }
  return st;
}

runtime::task<int> stream::send_all(std::span<iovec> iov, uint64_t deadline_ns) {
  if (_xf) co_return co_await send_secure(iov, deadline_ns);
  co_return co_await send_raw(iov, deadline_ns);
}

runtime::task<int> stream::send_raw(std::span<iovec> iov, uint64_t deadline_ns) {
  size_t first = 0;
  while (first < iov.size()) {
    if (_aborted || _fd < 0) co_return -ECANCELED;
    msghdr msg{};
    msg.msg_iov = iov.data() + first;
    msg.msg_iovlen = iov.size() - first;
    io_uring_prep_sendmsg(_send.sqe(), _fd, &msg, MSG_NOSIGNAL);
    runtime::deadline_guard guard(_shard, _send, deadline_ns);
    int res = co_await _send;
    if (res < 0) co_return guard.fired() ? -ETIMEDOUT : res;
    auto sent = size_t(res);
    while (first < iov.size() && sent >= iov[first].iov_len) {
      sent -= iov[first].iov_len;
      ++first;
    }
    if (first < iov.size()) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + sent;
      iov[first].iov_len -= sent;
    }
  }
  co_return 0;
}

runtime::task<int> stream::send_all(std::string_view bytes, uint64_t deadline_ns) {
  iovec v{const_cast<char*>(bytes.data()), bytes.size()};
  co_return co_await send_all(std::span<iovec>(&v, 1), deadline_ns);
}

void stream::interrupt_reader() noexcept {
  if (_reader) wake_reader(read_status::cancelled);
}

void stream::abort() noexcept {
  if (_aborted) return;
  _aborted = true;
  _send.cancel();
  if (_reader) wake_reader(read_status::cancelled);
}

struct close_awaiter {
  std::coroutine_handle<>* slot;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) noexcept { *slot = h; }
  void await_resume() const noexcept {}
};

runtime::task<void> stream::close() {
  _closing = true;
  _aborted = true;
  _shard.timers().cancel(_read_timer);
  _shard.timers().cancel(_rearm_timer);
  if (_recv_armed) {
    _shard.cancel(&_recv);
    co_await close_awaiter{&_close_waiter};
  }
  auto& bufs = _shard.recv_buffers();
  while (!_held.empty()) {
    uint16_t bid = bufs.front(_held).bid;
    bufs.pop(_held);
    bufs.recycle(bid);
  }
  if (_xf) {
    co_await send_close_notify();
    _xf.reset();
  }
  if (_fd >= 0) {
    ::close(_fd);
    _fd = -1;
  }
  for (char** b : {&_in, &_cin, &_out}) {
    if (*b) _pool.put(std::exchange(*b, nullptr));
  }
  _in_head = _in_tail = 0;
  _cin_head = _cin_tail = 0;
  _out_len = 0;
}

}  // namespace rg::net
