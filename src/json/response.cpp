// Usage and error extraction from upstream bodies and SSE payloads. Lazy On-Demand reads: fields
// before the wanted one are skipped unvalidated; any error simply means "not found".
#include "detail.hpp"

#include <ringgate/json/response.hpp>
#include <ringgate/runtime/bytes.hpp>

#include <cstring>

namespace rg::json {
namespace {

namespace od = simdjson::ondemand;

// A count, or -1 when it is missing, null, negative or not an integer.
int64_t read_count(od::value& v) {
  int64_t n = -1;
  if (v.get_int64().get(n) || n < 0) return -1;
  return n;
}

// Calls on_member(key, value) for each member of object until it returns true (found); false
// when the object ended or was malformed first.
template <typename F>
bool find_member(od::object& object, F&& on_member) {
  for (auto member : object) {
    od::field field;
    std::string_view key;
    if (std::move(member).get(field) || field.unescaped_key().get(key)) return false;
    if (on_member(key, field.value())) return true;
  }
  return false;
}

template <typename F>
bool find_in_root(std::string_view json, F&& on_member) {
  od::document doc;
  od::object root;
  if (detail::iterate(json, doc) || doc.get_object().get(root)) return false;
  return find_member(root, on_member);
}

usage read_openai_usage(od::value& v) {
  usage u;
  od::object object;
  if (v.get_object().get(object)) return u;
  find_member(object, [&](std::string_view key, od::value& value) {
    if (key == "prompt_tokens") {
      u.prompt_tokens = read_count(value);
    } else if (key == "completion_tokens") {
      u.completion_tokens = read_count(value);
    } else if (key == "total_tokens") {
      u.total_tokens = read_count(value);
    } else if (key == "prompt_tokens_details") {
      od::object details;
      if (value.get_object().get(details)) return false;
      find_member(details, [&](std::string_view k, od::value& count) {
        if (k != "cached_tokens") return false;
        u.cached_tokens = read_count(count);
        return true;
      });
    }
    return false;
  });
  return u;
}

usage read_anthropic_usage(od::value& v) {
  int64_t input = -1, output = -1, cache_read = -1, cache_creation = -1;
  od::object object;
  if (v.get_object().get(object)) return {};
  find_member(object, [&](std::string_view key, od::value& value) {
    if (key == "input_tokens") {
      input = read_count(value);
    } else if (key == "output_tokens") {
      output = read_count(value);
    } else if (key == "cache_read_input_tokens") {
      cache_read = read_count(value);
    } else if (key == "cache_creation_input_tokens") {
      cache_creation = read_count(value);
    }
    return false;
  });
  usage u;
  if (input >= 0) {
    u.prompt_tokens =
        input + (cache_read > 0 ? cache_read : 0) + (cache_creation > 0 ? cache_creation : 0);
  }
  u.completion_tokens = output;
  u.cached_tokens = cache_read;
  return u;
}

// The value of the root object's "usage" member when it is an object that ends near the end of
// the document: where OpenAI and the compatible servers put it. Reading it from there spares
// simdjson's pass over the whole answer (a 1.4 KB completion cost ~4,500 instructions of the
// ~34,000 a proxied request takes, callgrind). nullopt whenever that cannot be shown from the
// tail alone; the caller then reads the document from its start.
//
// Why the tail suffices (for valid JSON): an unescaped '"' followed by `usage"` can only open the
// string "usage", and with ':' after it, a key. Counting brackets from there, outside strings, the
// root's closing brace is the first to bring the count to zero when the key is a root member, and
// anything nested deeper leaves closing brackets after that point.
std::optional<std::string_view> tail_usage_object(std::string_view json) noexcept {
  constexpr size_t window = 4096;  // bytes searched back from the end for the key
  constexpr std::string_view rest_of_key = "usage\"";
  const char* const base = json.data();
  const size_t floor = json.size() > window ? json.size() - window : 0;
  size_t end = json.size();
  size_t i = 0;  // ends on the ':' after the key
  for (;;) {  // the last unescaped `"usage"` followed by ':'
    if (end <= floor) return std::nullopt;
    const void* quote = ::memrchr(base + floor, '"', end - floor);
    if (!quote) return std::nullopt;
    const size_t at = size_t(static_cast<const char*>(quote) - base);
    end = at;
    if (json.substr(at + 1, rest_of_key.size()) != rest_of_key) continue;
    size_t backslashes = 0;
    while (backslashes < at && base[at - 1 - backslashes] == '\\') ++backslashes;
    if (backslashes % 2 != 0) continue;
    i = at + 1 + rest_of_key.size();
    while (i < json.size() && detail::is_space(json[i])) ++i;
    if (i < json.size() && json[i] == ':') break;
  }
  ++i;
  while (i < json.size() && detail::is_space(json[i])) ++i;
  if (i == json.size() || json[i] != '{') return std::nullopt;
  const size_t value_begin = i;
  size_t value_end = 0;
  int depth = 1;  // inside the root object
  for (; i < json.size(); ++i) {
    const char c = json[i];
    if (c == '"') {  // skip the string
      for (++i; i < json.size() && json[i] != '"'; ++i) {
        if (json[i] == '\\') ++i;
      }
      if (i >= json.size()) return std::nullopt;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (--depth == 1 && value_end == 0) value_end = i + 1;
      if (depth == 0) break;
    }
  }
  if (depth != 0 || value_end == 0 || json[i] != '}') return std::nullopt;
  for (++i; i < json.size(); ++i) {
    if (!detail::is_space(json[i])) return std::nullopt;
  }
  return json.substr(value_begin, value_end - value_begin);
}

std::optional<usage> if_present(const usage& u) {
  if (!u.present()) return std::nullopt;
  return u;
}

}  // namespace

int64_t usage::total() const {
  if (total_tokens >= 0) return total_tokens;
  if (prompt_tokens >= 0 && completion_tokens >= 0) return prompt_tokens + completion_tokens;
  return -1;
}

usage merge(const usage& earlier, const usage& later) {
  auto pick = [](int64_t a, int64_t b) { return b >= 0 ? b : a; };
  return {pick(earlier.prompt_tokens, later.prompt_tokens),
          pick(earlier.completion_tokens, later.completion_tokens),
          pick(earlier.total_tokens, later.total_tokens),
          pick(earlier.cached_tokens, later.cached_tokens)};
}

std::optional<usage> extract_usage_openai(std::string_view json) {
  if (std::optional<std::string_view> object = tail_usage_object(json)) {
    char copy[1024 + json_padding];
    if (std::optional<std::string_view> padded = copy_padded(*object, copy)) {
      od::document doc;
      od::value value;
      if (!detail::iterate(*padded, doc) && !doc.get_value().get(value)) {
        return if_present(read_openai_usage(value));
      }
    }
  }
  if (runtime::find_bytes(json, "\"usage\"") == std::string_view::npos) return std::nullopt;
  usage u;
  find_in_root(json, [&](std::string_view key, od::value& value) {
    if (key != "usage") return false;
    u = read_openai_usage(value);
    return true;
  });
  return if_present(u);
}

std::optional<usage> extract_usage_anthropic(std::string_view json) {
  if (runtime::find_bytes(json, "\"usage\"") == std::string_view::npos) return std::nullopt;
  usage u;
  find_in_root(json, [&](std::string_view key, od::value& value) {
    if (key == "usage") {
      u = read_anthropic_usage(value);
      return true;
    }
    if (key != "message") return false;
    od::object message;
    if (value.get_object().get(message)) return false;
    return find_member(message, [&](std::string_view k, od::value& v) {
      if (k != "usage") return false;
      u = read_anthropic_usage(v);
      return true;
    });
  });
  return if_present(u);
}

std::optional<std::string_view> openai_error_message(std::string_view json) {
  if (runtime::find_bytes(json, "\"error\"") == std::string_view::npos) return std::nullopt;
  std::optional<std::string_view> found;
  find_in_root(json, [&](std::string_view key, od::value& value) {
    if (key != "error") return false;
    od::object error;
    if (value.get_object().get(error)) return true;  // "error" but not an object: not this shape
    find_member(error, [&](std::string_view k, od::value& message) {
      if (k != "message") return false;
      od::json_type type;
      if (message.type().get(type) || type != od::json_type::string) return true;
      std::optional<std::string_view> contents = detail::string_contents(message.raw_json_token());
      if (contents && detail::scan_string<false>(*contents, nullptr)) found = contents;
      return true;
    });
    return true;
  });
  return found;
}

std::optional<usage> extract_usage_openai(std::string_view payload, std::span<char> scratch) {
  // No key, no copy.
  if (runtime::find_bytes(payload, "\"usage\"") == std::string_view::npos) return std::nullopt;
  std::optional<std::string_view> padded = copy_padded(payload, scratch);
  if (!padded) return std::nullopt;
  return extract_usage_openai(*padded);
}

std::optional<usage> extract_usage_anthropic(std::string_view payload, std::span<char> scratch) {
  if (runtime::find_bytes(payload, "\"usage\"") == std::string_view::npos) return std::nullopt;
  std::optional<std::string_view> padded = copy_padded(payload, scratch);
  if (!padded) return std::nullopt;
  return extract_usage_anthropic(*padded);
}

std::optional<std::string_view> openai_error_message(std::string_view payload,
                                                     std::span<char> scratch) {
  std::optional<std::string_view> padded = copy_padded(payload, scratch);
  if (!padded) return std::nullopt;
  return openai_error_message(*padded);
}

std::optional<std::string_view> unescape(std::string_view escaped, std::span<char> out) {
  std::optional<size_t> length = detail::scan_string<false>(escaped, nullptr);
  if (!length || *length > out.size()) return std::nullopt;
  detail::scan_string<true>(escaped, out.data());
  return std::string_view(out.data(), *length);
}

}  // namespace rg::json
