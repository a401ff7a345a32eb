// Reading what the mock needs from a request: the JSON body's few fields (simdjson On-Demand,
// error codes only) and the plan from the x-mock-* headers. No I/O; nothing outlives the request.
#pragma once

#include <memory>
#include <string_view>

#include <ringgate/http/request.hpp>

#include "mock.hpp"

namespace rg::mockllm {

class json_reader {
 public:
  json_reader();
  ~json_reader();
  json_reader(const json_reader&) = delete;
  json_reader& operator=(const json_reader&) = delete;

  // Reads the fields of a chat, messages or embeddings body. `body` is followed by at least 64
  // readable bytes (httpd::body_padding). Returns an error message for the client, or empty.
  // Views in `out` point into `body`.
  std::string_view read(std::string_view body, request_fields& out) noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> _impl;
};

// Builds the plan from the defaults and the headers. Returns an error message for a malformed
// x-mock-* header (answered 400), or empty.
std::string_view read_plan(const http::request_head& head, const options& defaults,
                           plan& out) noexcept;

}  // namespace rg::mockllm
