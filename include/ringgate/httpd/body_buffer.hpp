// A request or response body buffered contiguously and followed by body_padding readable zero
// bytes (simdjson reads past the end). Small bodies use a pooled block; larger ones a heap buffer
// owned for one exchange only.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include <ringgate/httpd/exchange.hpp>
#include <ringgate/runtime/block_pool.hpp>

namespace rg::httpd {

class body_buffer {
 public:
  explicit body_buffer(runtime::block_pool& pool) noexcept : _pool(pool) {}
  body_buffer(const body_buffer&) = delete;
  body_buffer& operator=(const body_buffer&) = delete;
  ~body_buffer() { reset(); }

  bool append(std::string_view bytes) noexcept {
    if (!reserve(_len + bytes.size())) return false;
    std::memcpy(_data + _len, bytes.data(), bytes.size());
    _len += bytes.size();
    return true;
  }
  bool reserve(size_t payload) noexcept {
    size_t need = payload + body_padding;
    if (need <= _cap) return true;
    if (!_data && need <= _pool.block_bytes()) {
      _data = _pool.get();
      _cap = _pool.block_bytes();
      _pooled = true;
      return true;
    }
    size_t cap = std::max(need, _cap * 2);
    auto* p = static_cast<char*>(std::malloc(cap));
    if (!p) return false;
    if (_len) std::memcpy(p, _data, _len);
    release_storage();
    _data = p;
    _cap = cap;
    return true;
  }
  size_t size() const noexcept { return _len; }
  std::string_view view() const noexcept {
    if (!_data) return {padding_zeros, 0};
    std::memset(_data + _len, 0, body_padding);
    return {_data, _len};
  }
  void reset() noexcept {
    release_storage();
    _data = nullptr;
    _cap = _len = 0;
  }

 private:
  void release_storage() noexcept {
    if (!_data) return;
    if (_pooled) {
      _pool.put(_data);
    } else {
      std::free(_data);
    }
    _pooled = false;
  }
  static constexpr char padding_zeros[body_padding] = {};
  runtime::block_pool& _pool;
  char* _data = nullptr;
  size_t _cap = 0;
  size_t _len = 0;
  bool _pooled = false;
};

}  // namespace rg::httpd
