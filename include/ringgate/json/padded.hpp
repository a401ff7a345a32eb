// Padded input for the json module: every parse reads up to json_padding bytes past the end of
// its input (SIMD loads), so callers hand over buffers with that much readable slack behind them.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

namespace rg::json {

// Bytes of readable memory that must follow the last byte of any input passed to this module
// (== simdjson::SIMDJSON_PADDING; checked by a static_assert). Their content does not matter.
inline constexpr size_t json_padding = 64;

// Copies `src` into `scratch` and returns the copy, which then has json_padding bytes of slack
// behind it (the slack is zeroed). nullopt when scratch.size() < src.size() + json_padding.
// For SSE payloads that sit inside receive buffers with no padding of their own.
std::optional<std::string_view> copy_padded(std::string_view src, std::span<char> scratch) noexcept;

// Each thread parses with its own simdjson parser (one per shard; nothing shared). Its buffers
// grow to the largest document seen (about 6 bytes of memory per input byte) and are kept, so the
// steady state does not allocate; a shard calls this at startup with its body limit to make the
// first large request allocation-free too. Returns false if the allocation failed.
bool reserve_thread_parser(size_t document_bytes_max) noexcept;

}  // namespace rg::json
