// Names of error kinds and sources, for logs and metrics labels.
#include <ringgate/runtime/error.hpp>

namespace rg {

std::string_view to_string(error_kind k) noexcept {
  switch (k) {
    case error_kind::io: return "io";
    case error_kind::closed: return "closed";
    case error_kind::timeout: return "timeout";
    case error_kind::cancelled: return "cancelled";
    case error_kind::protocol: return "protocol";
    case error_kind::limit: return "limit";
    case error_kind::config: return "config";
    case error_kind::tls: return "tls";
    case error_kind::internal: return "internal";
  }
  return "unknown";
}

std::string_view to_string(error_source s) noexcept {
  switch (s) {
    case error_source::client: return "client";
    case error_source::upstream: return "upstream";
    case error_source::gateway: return "gateway";
  }
  return "unknown";
}

}  // namespace rg
