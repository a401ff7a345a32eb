// The per-thread simdjson parser and padded copies. One parser per thread (shard) so parsing never
// shares state across cores; its buffers only grow, so steady-state parsing does not allocate.
#include "detail.hpp"

#include <ringgate/json/padded.hpp>

#include <cstring>

namespace rg::json {

static_assert(json_padding == simdjson::SIMDJSON_PADDING);

namespace detail {
namespace {

od::parser& thread_parser() noexcept {
  thread_local od::parser parser;
  return parser;
}

}  // namespace

simdjson::error_code iterate(std::string_view json, od::document& doc) noexcept {
  return thread_parser().iterate(json.data(), json.size(), json.size() + json_padding).get(doc);
}

}  // namespace detail

std::optional<std::string_view> copy_padded(std::string_view src,
                                            std::span<char> scratch) noexcept {
  if (scratch.size() < json_padding || scratch.size() - json_padding < src.size()) {
    return std::nullopt;
  }
  if (!src.empty()) std::memcpy(scratch.data(), src.data(), src.size());
  std::memset(scratch.data() + src.size(), 0, json_padding);
  return std::string_view(scratch.data(), src.size());
}

bool reserve_thread_parser(size_t document_bytes_max) noexcept {
  detail::od::parser& parser = detail::thread_parser();
  if (parser.capacity() >= document_bytes_max) return true;
  return parser.allocate(document_bytes_max, parser.max_depth()) == simdjson::SUCCESS;
}

}  // namespace rg::json
