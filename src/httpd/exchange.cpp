// The response buffer and the exchange's send paths (see exchange.hpp).
#include <ringgate/httpd/exchange.hpp>

#include <sys/socket.h>

#include <cstring>
#include <span>

#include <ringgate/http/response.hpp>
#include <ringgate/httpd/listener.hpp>
#include <ringgate/runtime/clock.hpp>

namespace rg::httpd {

bool response_buffer::raw(std::string_view bytes) noexcept {
  if (bytes.size() > capacity - _len) return false;
  std::memcpy(_buf + _len, bytes.data(), bytes.size());
  _len += bytes.size();
  return true;
}

bool response_buffer::respond(uint16_t status, std::string_view content_type,
                              std::string_view body, close_mode mode, http::version ver,
                              bool head_only, std::string_view extra_headers) noexcept {
  size_t mark = _len;
  if (!head(status, content_type, uint64_t(body.size()), mode, ver, extra_headers)) return false;
  if (!head_only && !raw(body)) {
    _len = mark;  // all or nothing
    return false;
  }
  return true;
}

bool response_buffer::head(uint16_t status, std::string_view content_type,
                           std::optional<uint64_t> content_length, close_mode mode,
                           http::version ver, std::string_view extra_headers) noexcept {
  _last_status = status;
  http::response_writer w(std::span<char>(_buf + _len, capacity - _len));
  w.status_line(status).header("content-type", content_type);
  if (content_length) {
    w.header("content-length", *content_length);
  } else {
    w.header("transfer-encoding", "chunked");
  }
  if (mode == close_mode::close) {
    w.header("connection", "close");
  } else if (ver == http::version::http10) {
    w.header("connection", "keep-alive");
  }
  if (!extra_headers.empty()) w.raw(extra_headers);
  w.end_head();
  if (!w.ok()) return false;
  _len += w.size();
  return true;
}

bool response_buffer::error(uint16_t status, std::string_view message, std::string_view code,
                            close_mode mode, http::version ver,
                            std::string_view extra_headers) noexcept {
  char body[1024];
  size_t n = http::openai_error_body(std::span<char>(body, sizeof(body)), message,
                                     http::error_type_for_status(status), code);
  return json(status, std::string_view(body, n), mode, ver, false, extra_headers);
}

runtime::task<int> response_buffer::flush(net::stream& io, uint64_t deadline_ns) {
  if (_len == 0) co_return 0;
  int rc = co_await io.send_all(std::string_view(_buf, _len), deadline_ns);
  _len = 0;
  co_return rc;
}

net::stream& exchange::io() noexcept { return _conn.io; }

std::string_view exchange::peer_text() noexcept {
  if (!_conn.peer_known) {
    _conn.peer_known = true;
    net::address a;
    a.len = sizeof(a.storage);
    const bool known =
        ::getpeername(_conn.io.fd(), reinterpret_cast<sockaddr*>(&a.storage), &a.len) == 0;
    _conn.peer_text_len = known ? uint8_t(net::format_address_to(a.sa(), _conn.peer_text)) : 0;
  }
  return {_conn.peer_text, _conn.peer_text_len};
}
runtime::shard& exchange::shard() noexcept { return _listener.shard(); }
bool exchange::draining() const noexcept { return _listener.draining(); }

uint64_t exchange::send_deadline_ns() const noexcept {
  return _listener.shard().now_ns() + runtime::ms_to_ns(_listener.cfg().timeouts.send_ms);
}

runtime::task<int> exchange::flush() { co_return co_await _out.flush(_conn.io, send_deadline_ns()); }

runtime::task<int> exchange::send(std::span<iovec> iov) {
  if (!_out.empty()) {
    int rc = co_await _out.flush(_conn.io, send_deadline_ns());
    if (rc != 0) co_return rc;
  }
  co_return co_await _conn.io.send_all(iov, send_deadline_ns());
}

}  // namespace rg::httpd
