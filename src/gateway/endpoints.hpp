// Response buffering for one connection and the built-in endpoints (/health, /ready, 404).
// Small answers are written into a per-connection buffer so pipelined requests share one send.
#pragma once

#include <cstdint>
#include <string_view>

#include <ringgate/http/request.hpp>
#include <ringgate/net/stream.hpp>
#include <ringgate/runtime/task.hpp>

namespace rg::gateway {

class shard_server;

enum class close_mode : uint8_t { keep_alive, close };

class response_buffer {
 public:
  static constexpr size_t capacity = 8192;
  bool empty() const noexcept { return _len == 0; }
  bool nearly_full() const noexcept { return _len > capacity / 2; }
  size_t size() const noexcept { return _len; }

  void raw(std::string_view bytes) noexcept;
  // A complete response with a JSON body. `ver` decides how keep-alive is spelled.
  void json(uint16_t status, std::string_view body, close_mode mode,
            http::version ver = http::version::http11, bool head_only = false,
            std::string_view extra_headers = {}) noexcept;
  // A complete error response in OpenAI's shape.
  void error(uint16_t status, std::string_view message, std::string_view code, close_mode mode,
             http::version ver = http::version::http11, std::string_view extra_headers = {}) noexcept;

  // Sends everything buffered. Returns 0 or -errno.
  runtime::task<int> flush(net::stream& io, shard_server& srv);

 private:
  char _buf[capacity];
  size_t _len = 0;
};

void handle_request(shard_server& srv, const http::request_head& head, response_buffer& out,
                    close_mode mode) noexcept;

}  // namespace rg::gateway
