// Usage and error extraction from upstream bodies and SSE payloads. Lazy On-Demand reads: fields
// before the wanted one are skipped unvalidated; any error simply means "not found".
#include "detail.hpp"

#include <ringgate/json/response.hpp>
#include <ringgate/runtime/bytes.hpp>

#include <algorithm>
#include <bit>
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

// Where the value of the root object's "usage" member starts when that value is an object near
// the end of the document: where OpenAI and the compatible servers put it. Reading it from there
// spares simdjson's pass over the whole answer (a 1.4 KB completion cost ~4,500 instructions of
// the ~34,000 a proxied request took, callgrind). npos whenever the tail alone cannot show it;
// the caller then reads the document from its start.
//
// Why the tail suffices (for valid JSON): an unescaped '"' followed by `usage"` can only open the
// string "usage", and with ':' after it, a key. Counting brackets from there, outside strings, the
// root's closing brace is the first to bring the count to zero when the key is a root member, and
// anything nested deeper leaves closing brackets after that point (closes_root() checks it).
size_t tail_usage_value(std::string_view json) noexcept {
  constexpr size_t npos = std::string_view::npos;
  constexpr size_t window = 4096;  // bytes searched back from the end for the key
  constexpr std::string_view key = "\"usage\"";
  const char* const base = json.data();
  const size_t floor = json.size() > window ? json.size() - window : 0;
  size_t end = json.size();  // candidates start before it
  for (;;) {  // the last unescaped `"usage"` followed by ':'
    const size_t at = runtime::rfind_bytes(json.substr(0, end), key, floor);
    if (at == npos) return npos;
    end = at;
    size_t backslashes = 0;
    while (backslashes < at && base[at - 1 - backslashes] == '\\') ++backslashes;
    if (backslashes % 2 != 0) continue;
    size_t i = at + key.size();
    while (i < json.size() && detail::is_space(json[i])) ++i;
    if (i == json.size() || json[i] != ':') continue;
    for (++i; i < json.size() && detail::is_space(json[i]);) ++i;
    return i < json.size() && json[i] == '{' ? i : npos;
  }
}

// The index of the quote closing the string opened at json[i], or json.size() when it does not
// close.
size_t closing_quote(std::string_view json, size_t i) noexcept {
  const char* const end = json.data() + json.size();
  const char* p = json.data() + i + 1;
  while ((p = runtime::find_json_special(p, end)) < end) {
    if (*p == '"') break;
    p += *p == '\\' ? 2 : 1;  // an escape, or a byte a string may hold (UTF-8, control)
  }
  return std::min(size_t(p - json.data()), json.size());
}

// Counting brackets outside strings from json[i] with `depth` of them open: one past the bracket
// that closes the last of them, or npos when none does.
size_t close_of(std::string_view json, size_t i, int depth) noexcept {
  for (; i < json.size(); ++i) {
    const char c = json[i];
    if (c == '"') {
      if ((i = closing_quote(json, i)) >= json.size()) return std::string_view::npos;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if ((c == '}' || c == ']') && --depth == 0) {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

// The end of the object or array opening at json[i] (one past its closing bracket), or npos.
size_t value_end(std::string_view json, size_t i) noexcept { return close_of(json, i, 0); }

// Whether the member value that ended at json[i] belongs to the root object: the first bracket to
// close the root from there is a '}' followed by nothing but whitespace.
bool closes_root(std::string_view json, size_t i) noexcept {
  const size_t end = close_of(json, i, 1);  // inside the root object
  if (end == std::string_view::npos || json[end - 1] != '}') return false;
  for (size_t k = end; k < json.size(); ++k) {
    if (!detail::is_space(json[k])) return false;
  }
  return true;
}

// Reads a usage object of the everyday shape without simdjson: keys without escapes, values that
// are non-negative integers, negative integers or null (counts of -1, as read_count gives), or
// objects of those (prompt_tokens_details and its kind). For the tail window, starting simdjson
// on a 100-byte object cost ~2,500 instructions, a tenth of a proxied request (callgrind).
// nullopt for anything else (floats, strings, escapes, deeper nesting, malformed text): the
// caller then asks simdjson, so both readers agree on every input this one accepts.
class flat_usage_reader {
 public:
  explicit flat_usage_reader(std::string_view text) noexcept
      : _begin(text.data()), _p(text.data()), _end(text.data() + text.size()) {}

  // Bytes read: after read(), one past the object's closing brace.
  size_t consumed() const noexcept { return size_t(_p - _begin); }

  std::optional<usage> read() noexcept {
    usage u;
    const bool ok = object([&](std::string_view key) -> bool {
      if (key == "prompt_tokens") return count(u.prompt_tokens);
      if (key == "completion_tokens") return count(u.completion_tokens);
      if (key == "total_tokens") return count(u.total_tokens);
      if (*_p == '{') {
        bool cached_seen = false;  // the first cached_tokens counts, as find_member stops there
        const bool details = key == "prompt_tokens_details";
        return object([&](std::string_view k) -> bool {
          int64_t n = -1;
          if (!count(n)) return false;
          if (details && !cached_seen && k == "cached_tokens") {
            u.cached_tokens = n;
            cached_seen = true;
          }
          return true;
        });
      }
      int64_t ignored = -1;
      return count(ignored);
    });
    if (!ok) return std::nullopt;
    return u;
  }

 private:
  void skip_space() noexcept {
    while (_p < _end && detail::is_space(*_p)) ++_p;
  }
  // '{' members '}', calling on_value(key) with _p on each value's first byte.
  template <class OnValue>
  bool object(OnValue&& on_value) noexcept {
    skip_space();
    if (_p == _end || *_p != '{') return false;
    ++_p;
    skip_space();
    if (_p < _end && *_p == '}') {
      ++_p;
      return true;
    }
    for (;;) {
      skip_space();
      if (_p == _end || *_p != '"') return false;
      const char* key = ++_p;
      _p = runtime::find_json_special(_p, _end);
      if (_p == _end || *_p != '"') return false;  // escapes and the rest: simdjson's to read
      const std::string_view name(key, size_t(_p - key));
      ++_p;
      skip_space();
      if (_p == _end || *_p != ':') return false;
      ++_p;
      skip_space();
      if (_p == _end || !on_value(name)) return false;
      skip_space();
      if (_p == _end) return false;
      if (*_p == '}') {
        ++_p;
        return true;
      }
      if (*_p != ',') return false;
      ++_p;
    }
  }
  // An integer (-1 when negative) or null (-1), ending where a member ends.
  bool count(int64_t& out) noexcept {
    if (_end - _p >= 4 && std::memcmp(_p, "null", 4) == 0) {
      _p += 4;
      out = -1;
      return ends_value();
    }
    const bool negative = *_p == '-';
    if (negative) ++_p;
    const char* digits = _p;
    int64_t n = 0;
    while (_p < _end && *_p >= '0' && *_p <= '9' && _p - digits < 18) n = n * 10 + (*_p++ - '0');
    const size_t len = size_t(_p - digits);
    if (len == 0 || (len > 1 && *digits == '0')) return false;
    out = negative && n != 0 ? -1 : n;  // read_count: -0 is 0
    return ends_value();
  }
  bool ends_value() const noexcept {
    return _p < _end && (*_p == ',' || *_p == '}' || detail::is_space(*_p));
  }

  const char* _begin;
  const char* _p;
  const char* _end;
};

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
  if (const size_t at = tail_usage_value(json); at != std::string_view::npos) {
    flat_usage_reader fast(json.substr(at));
    if (std::optional<usage> u = fast.read(); u && closes_root(json, at + fast.consumed())) {
      return if_present(*u);
    }
    const size_t end = value_end(json, at);
    char copy[1024 + json_padding];
    std::optional<std::string_view> padded;
    if (end != std::string_view::npos && closes_root(json, end) &&
        (padded = copy_padded(json.substr(at, end - at), copy))) {
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

bool openai_chunk_has_output(std::string_view text) noexcept {
  static constexpr std::string_view content = "\"content\":", arguments = "\"arguments\":";
  const char* p = text.data();
  const size_t n = text.size();
  // At a '"' followed by 'c' or 'a': one of the keys there, its value a string of one byte or
  // more (after blanks)?
  const auto output_at = [p, n](size_t k) noexcept {
    const std::string_view key = p[k + 1] == 'c' ? content : arguments;
    if (n - k < key.size() || !runtime::equal_bytes(p + k, key.data(), key.size())) return false;
    size_t v = k + key.size();
    while (v < n && (p[v] == ' ' || p[v] == '\t')) ++v;
    return n - v > 1 && p[v] == '"' && p[v + 1] != '"';
  };
  size_t i = 0;
#if defined(__SSE2__)
  // 16 positions per step, as runtime::find_bytes, but on '"' then either key's first letter: the
  // role-only first chunk is searched to its end, and two searches read it twice.
  const __m128i quote = _mm_set1_epi8('"'), c = _mm_set1_epi8('c'), a = _mm_set1_epi8('a');
  for (; i + 16 < n; i += 16) {  // reads p[i, i + 17)
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i y = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 1));
    auto mask = static_cast<unsigned>(_mm_movemask_epi8(_mm_and_si128(
        _mm_cmpeq_epi8(x, quote), _mm_or_si128(_mm_cmpeq_epi8(y, c), _mm_cmpeq_epi8(y, a)))));
    for (; mask != 0; mask &= mask - 1) {
      if (output_at(i + static_cast<size_t>(std::countr_zero(mask)))) return true;
    }
  }
#endif
  for (; i + 1 < n; ++i) {
    if (p[i] == '"' && (p[i + 1] == 'c' || p[i + 1] == 'a') && output_at(i)) return true;
  }
  return false;
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
