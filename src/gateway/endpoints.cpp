// Built-in endpoints and the response buffer (see endpoints.hpp).
#include "endpoints.hpp"

#include <cstring>
#include <span>

#include <ringgate/http/response.hpp>
#include <ringgate/runtime/clock.hpp>

#include "shard_server.hpp"

namespace rg::gateway {

void response_buffer::raw(std::string_view bytes) noexcept {
  size_t n = std::min(bytes.size(), capacity - _len);
  std::memcpy(_buf + _len, bytes.data(), n);
  _len += n;
}

void response_buffer::json(uint16_t status, std::string_view body, close_mode mode,
                           http::version ver, bool head_only,
                           std::string_view extra_headers) noexcept {
  http::response_writer w(std::span<char>(_buf + _len, capacity - _len));
  w.status_line(status)
      .header("content-type", "application/json")
      .header("content-length", uint64_t(body.size()));
  if (mode == close_mode::close) {
    w.header("connection", "close");
  } else if (ver == http::version::http10) {
    w.header("connection", "keep-alive");
  }
  if (!extra_headers.empty()) w.raw(extra_headers);
  w.end_head();
  if (!head_only) w.raw(body);
  if (w.ok()) _len += w.size();
}

void response_buffer::error(uint16_t status, std::string_view message, std::string_view code,
                            close_mode mode, http::version ver,
                            std::string_view extra_headers) noexcept {
  char body[512];
  size_t n = http::openai_error_body(std::span<char>(body, sizeof(body)), message,
                                     http::error_type_for_status(status), code);
  json(status, std::string_view(body, n), mode, ver, false, extra_headers);
}

runtime::task<int> response_buffer::flush(net::stream& io, shard_server& srv) {
  if (_len == 0) co_return 0;
  uint64_t deadline = srv.shard().now_ns() + runtime::ms_to_ns(srv.cfg().server.timeouts.send_ms);
  int rc = co_await io.send_all(std::string_view(_buf, _len), deadline);
  _len = 0;
  co_return rc;
}

void handle_request(shard_server& srv, const http::request_head& head, response_buffer& out,
                    close_mode mode) noexcept {
  std::string_view path = head.path();
  bool get_like = head.meth == http::method::get || head.meth == http::method::head;
  bool head_only = head.meth == http::method::head;
  if (path == "/health" || path == "/ready") {
    if (!get_like) {
      out.error(405, "method not allowed", "method_not_allowed", mode, head.ver,
                "allow: GET, HEAD\r\n");
      return;
    }
    if (path == "/health") {
      out.json(200, R"({"status":"ok"})", mode, head.ver, head_only);
    } else if (srv.draining()) {
      out.json(503, R"({"status":"draining"})", mode, head.ver, head_only);
    } else {
      out.json(200, R"({"status":"ready"})", mode, head.ver, head_only);
    }
    return;
  }
  out.error(404, "no route for this path", "not_found", mode, head.ver);
}

}  // namespace rg::gateway
