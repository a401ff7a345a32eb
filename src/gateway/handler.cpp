// Routing and the built-in endpoints: GET /health (liveness), GET /ready (503 while draining),
// and an OpenAI-shaped 404 for everything else.
#include "handler.hpp"

namespace rg::gateway {
namespace {

void health(httpd::exchange& ex, std::string_view path) {
  const auto& head = ex.head();
  if (head.meth != http::method::get && head.meth != http::method::head) {
    ex.error(405, "method not allowed", "method_not_allowed", "allow: GET, HEAD\r\n");
  } else if (path == "/health") {
    ex.json(200, R"({"status":"ok"})");
  } else if (ex.draining()) {
    ex.json(503, R"({"status":"draining"})");
  } else {
    ex.json(200, R"({"status":"ready"})");
  }
}

}  // namespace

runtime::task<void> shard_handler::handle(httpd::exchange& ex) {
  std::string_view path = ex.head().path();
  if (path == "/health" || path == "/ready") {
    health(ex, path);
    co_return;
  }
  ex.error(404, "no route for this path", "not_found");
}

}  // namespace rg::gateway
