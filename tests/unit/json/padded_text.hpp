// Test helper: text followed by json_padding bytes of junk, so tests catch any reliance on what
// the padding contains (the gateway only guarantees that it is readable).
#pragma once

#include <ringgate/json/padded.hpp>

#include <string>
#include <string_view>

namespace rg::json::testing {

class padded_text {
 public:
  explicit padded_text(std::string_view text) : _storage(text) {
    for (size_t i = 0; i < json_padding; ++i) _storage.push_back("}]\"x\\,{ "[i % 8]);
  }
  std::string_view view() const { return {_storage.data(), _storage.size() - json_padding}; }
  operator std::string_view() const { return view(); }

 private:
  std::string _storage;
};

}  // namespace rg::json::testing
