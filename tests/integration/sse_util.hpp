// Helpers shared by the integration tests that speak to mockllm and to the proxy: JSON parsing
// (simdjson DOM), raw POST requests, SSE event splitting, and decoding a chunked body that may
// have been cut off mid-stream.
#pragma once

#include <simdjson.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rg::itest {

// A parsed JSON document that owns its parser (elements live as long as it does).
struct json_doc {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
};

inline std::unique_ptr<json_doc> parse_json(std::string_view text) {
  auto j = std::make_unique<json_doc>();
  if (j->parser.parse(text.data(), text.size()).get(j->root)) return nullptr;
  return j;
}

inline std::string post_request(std::string_view path, std::string_view body,
                                std::string_view headers = "") {
  std::string r = "POST " + std::string(path) + " HTTP/1.1\r\nHost: gateway.test\r\n";
  r += "Content-Type: application/json\r\n";
  r += headers;
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  r += body;
  return r;
}

struct sse_event {
  std::string name;
  std::string data;
};

// Splits an SSE body into events (each event: optional `event:` line, one `data:` line).
inline std::vector<sse_event> sse_events(std::string_view body) {
  std::vector<sse_event> out;
  while (!body.empty()) {
    size_t end = body.find("\n\n");
    std::string_view ev = body.substr(0, end);
    sse_event e;
    for (size_t pos = 0; pos <= ev.size();) {
      size_t nl = ev.find('\n', pos);
      std::string_view line = ev.substr(pos, nl == std::string_view::npos ? nl : nl - pos);
      if (line.starts_with("event: ")) e.name = line.substr(7);
      if (line.starts_with("data: ")) e.data = line.substr(6);
      if (nl == std::string_view::npos) break;
      pos = nl + 1;
    }
    out.push_back(std::move(e));
    if (end == std::string_view::npos) break;
    body.remove_prefix(end + 2);
  }
  return out;
}

// What arrived of a chunked response that may have been cut: status, the de-chunked body so far,
// and whether the last chunk (0\r\n\r\n) arrived.
struct partial_stream {
  int status = 0;
  std::string body;
  bool terminated = false;
};

inline partial_stream decode_partial(std::string_view raw) {
  partial_stream p;
  size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string_view::npos || raw.size() < 12) return p;
  p.status = std::stoi(std::string(raw.substr(9, 3)));
  size_t pos = head_end + 4;
  for (;;) {
    size_t eol = raw.find("\r\n", pos);
    if (eol == std::string_view::npos || eol == pos) break;
    size_t size = std::stoul(std::string(raw.substr(pos, eol - pos)), nullptr, 16);
    if (size == 0) {
      p.terminated = raw.substr(eol, 4) == "\r\n\r\n";
      break;
    }
    if (raw.size() < eol + 2 + size + 2) break;
    p.body.append(raw.substr(eol + 2, size));
    pos = eol + 2 + size + 2;
  }
  return p;
}

inline size_t count_content_chunks(const std::vector<sse_event>& evs) {
  size_t n = 0;
  for (const auto& e : evs) n += e.data.find(R"("delta":{"content":)") != std::string::npos;
  return n;
}

}  // namespace rg::itest
