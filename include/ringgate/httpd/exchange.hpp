// One request/response exchange on a server connection, as a handler sees it: the parsed head,
// the buffered body, and ways to answer — small answers through a buffer (so pipelined answers
// share one send), large or streamed ones straight to the socket.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include <ringgate/http/request.hpp>
#include <ringgate/net/socket.hpp>
#include <ringgate/net/stream.hpp>
#include <ringgate/runtime/task.hpp>

namespace rg::runtime {
class shard;
}

namespace rg::httpd {

class shard_listener;
struct connection;

enum class close_mode : uint8_t { keep_alive, close };

// Bytes of readable slack guaranteed after every request body (simdjson needs 64).
inline constexpr size_t body_padding = 64;

class response_buffer {
 public:
  static constexpr size_t capacity = 8192;
  bool empty() const noexcept { return _len == 0; }
  bool nearly_full() const noexcept { return _len > capacity / 2; }
  size_t size() const noexcept { return _len; }
  std::string_view view() const noexcept { return {_buf, _len}; }
  void clear() noexcept { _len = 0; }
  // Status of the last response head written (0 before any): what metrics and logs report.
  uint16_t last_status() const noexcept { return _last_status; }
  void forget_status() noexcept { _last_status = 0; }

  // Appends raw bytes; false (nothing appended) when they do not fit.
  bool raw(std::string_view bytes) noexcept;
  // A complete response with a body. `ver` decides how keep-alive is spelled; `extra_headers`
  // is zero or more complete "name: value\r\n" lines.
  bool respond(uint16_t status, std::string_view content_type, std::string_view body,
               close_mode mode, http::version ver = http::version::http11,
               bool head_only = false, std::string_view extra_headers = {}) noexcept;
  // Only the head of a response whose body the caller sends itself: with a Content-Length when
  // `content_length` is set, else "transfer-encoding: chunked".
  bool head(uint16_t status, std::string_view content_type, std::optional<uint64_t> content_length,
            close_mode mode, http::version ver, std::string_view extra_headers = {}) noexcept;
  bool json(uint16_t status, std::string_view body, close_mode mode,
            http::version ver = http::version::http11, bool head_only = false,
            std::string_view extra_headers = {}) noexcept {
    return respond(status, "application/json", body, mode, ver, head_only, extra_headers);
  }
  // A complete error response in OpenAI's shape.
  bool error(uint16_t status, std::string_view message, std::string_view code, close_mode mode,
             http::version ver = http::version::http11,
             std::string_view extra_headers = {}) noexcept;

  // Sends everything buffered. Returns 0 or -errno.
  runtime::task<int> flush(net::stream& io, uint64_t deadline_ns);

 private:
  char _buf[capacity];
  size_t _len = 0;
  uint16_t _last_status = 0;
};

// What a handler gets. The head and body stay valid until the handler returns.
class exchange {
 public:
  exchange(shard_listener& l, connection& c, const http::request_head& head, std::string_view body,
           response_buffer& out, close_mode mode) noexcept
      : _listener(l), _conn(c), _head(head), _body(body), _out(out), _mode(mode) {}

  const http::request_head& head() const noexcept { return _head; }
  // The whole request body (de-chunked), followed by body_padding readable bytes.
  std::string_view body() const noexcept { return _body; }
  response_buffer& out() noexcept { return _out; }
  // keep_alive unless the client, the request limit or a drain asks to close.
  close_mode mode() const noexcept { return _mode; }
  // Handlers that break the framing (e.g. an unterminated stream) must close the connection.
  void force_close() noexcept { _mode = close_mode::close; }
  net::stream& io() noexcept;
  // The client's address as text ("1.2.3.4:5678", "[::1]:5678"): getpeername and formatting
  // once per connection. Empty when unknown.
  std::string_view peer_text() noexcept;
  runtime::shard& shard() noexcept;
  shard_listener& listener() noexcept { return _listener; }
  bool draining() const noexcept;
  // Deadline for sends to this client (server.timeouts.send_ms from now).
  uint64_t send_deadline_ns() const noexcept;

  // Sends the buffered part of the answer now (before streaming). 0 or -errno.
  runtime::task<int> flush();
  // Flushes, then sends `iov` directly. 0 or -errno.
  runtime::task<int> send(std::span<iovec> iov);

  // Convenience for the common answers.
  void error(uint16_t status, std::string_view message, std::string_view code,
             std::string_view extra_headers = {}) noexcept {
    _out.error(status, message, code, _mode, _head.ver, extra_headers);
  }
  void json(uint16_t status, std::string_view body, std::string_view extra_headers = {}) noexcept {
    _out.json(status, body, _mode, _head.ver, _head.meth == http::method::head, extra_headers);
  }

 private:
  shard_listener& _listener;
  connection& _conn;
  const http::request_head& _head;
  std::string_view _body;
  response_buffer& _out;
  close_mode _mode;
};

// The application behind a listener: one instance per shard, called on that shard's thread.
class handler {
 public:
  virtual ~handler() = default;
  // Answer `ex`: write into ex.out() and/or send. Errors are answered, never thrown.
  virtual runtime::task<void> handle(exchange& ex) = 0;
  // The shard's listener started draining: release what idles (pooled upstream connections).
  virtual void drain() noexcept {}
};

}  // namespace rg::httpd
