// Request reading (see request.hpp): one pass over the body's top-level fields with simdjson
// On-Demand (no DOM, no exceptions), and strict parsing of the x-mock-* headers.
#include "request.hpp"

#include <simdjson.h>

#include <utility>

#include <ringgate/httpd/exchange.hpp>

namespace rg::mockllm {
namespace {

namespace od = simdjson::ondemand;

static_assert(httpd::body_padding >= simdjson::SIMDJSON_PADDING);

constexpr std::string_view invalid_json = "request body is not valid JSON";

// The raw token of a JSON string value, quotes included (valid JSON: simdjson checked UTF-8).
// Empty when the value is not a string or is unreasonably long to echo.
std::string_view string_token(od::value& v) noexcept {
  od::json_type t;
  if (v.type().get(t) || t != od::json_type::string) return {};
  std::string_view raw = v.raw_json_token();
  while (!raw.empty() &&
         (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\r' || raw.back() == '\t')) {
    raw.remove_suffix(1);
  }
  return raw.size() <= 256 ? raw : std::string_view{};
}

// The first tool's name: Anthropic {"name":…} or OpenAI {"function":{"name":…}}.
std::string_view tool_name(od::value& tool) noexcept {
  od::object obj;
  if (tool.get_object().get(obj)) return {};
  for (auto f : obj) {
    od::field field;
    std::string_view key;
    if (std::move(f).get(field) || field.unescaped_key().get(key)) return {};
    od::value v = field.value();
    if (key == "name") return string_token(v);
    if (key == "function") return tool_name(v);
  }
  return {};
}

std::string_view read_tools(od::value& v, request_fields& out) noexcept {
  od::array arr;
  if (v.get_array().get(arr)) return "'tools' must be an array";
  for (auto e : arr) {
    od::value tool;
    if (std::move(e).get(tool)) return invalid_json;
    if (out.has_tools) continue;
    out.has_tools = true;
    out.tool_name = tool_name(tool);
  }
  return {};
}

std::string_view read_input(od::value& v, request_fields& out) noexcept {
  od::json_type t;
  if (v.type().get(t)) return invalid_json;
  out.has_input = true;
  if (t == od::json_type::string) {
    out.inputs = 1;
    return {};
  }
  od::array arr;
  if (v.get_array().get(arr)) return "'input' must be a string or an array";
  bool tokens = false;
  uint64_t count = 0;
  for (auto e : arr) {
    od::value item;
    if (std::move(e).get(item)) return invalid_json;
    if (count++ == 0) {
      od::json_type first;
      if (item.type().get(first)) return invalid_json;
      tokens = first == od::json_type::number;  // one input given as token ids
    }
  }
  out.inputs = tokens ? 1 : count;
  if (out.inputs == 0) return "'input' must not be empty";
  return {};
}

std::string_view read_field(std::string_view key, od::value v, request_fields& out) noexcept {
  if (key == "model") {
    out.model = string_token(v);
    if (out.model.empty()) return "'model' must be a string";
  } else if (key == "stream") {
    if (v.get_bool().get(out.stream)) return "'stream' must be a boolean";
  } else if (key == "stream_options") {
    od::object so;
    if (v.get_object().get(so)) return "'stream_options' must be an object";
    for (auto f : so) {
      od::field field;
      std::string_view k;
      if (std::move(f).get(field) || field.unescaped_key().get(k)) return invalid_json;
      if (k == "include_usage" && field.value().get_bool().get(out.include_usage)) {
        return "'stream_options.include_usage' must be a boolean";
      }
    }
  } else if (key == "max_tokens" || key == "max_completion_tokens") {
    od::json_type t;
    if (v.type().get(t)) return invalid_json;
    if (t == od::json_type::null) return {};
    if (v.get_uint64().get(out.max_tokens)) return "'max_tokens' must be a non-negative integer";
    out.has_max_tokens = true;
  } else if (key == "messages") {
    od::json_type t;
    if (v.type().get(t)) return invalid_json;
    if (t != od::json_type::array) return "'messages' must be an array";
    out.has_messages = true;
  } else if (key == "tools") {
    return read_tools(v, out);
  } else if (key == "input") {
    return read_input(v, out);
  } else if (key == "encoding_format") {
    std::string_view fmt;
    if (v.get_string().get(fmt)) return "'encoding_format' must be a string";
    out.base64 = fmt == "base64";
  }
  return {};
}

// Decimal digits only, at most `max`.
bool parse_u64(std::string_view s, uint64_t max, uint64_t& out) noexcept {
  if (s.empty() || s.size() > 19) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + uint64_t(c - '0');
  }
  if (v > max) return false;
  out = v;
  return true;
}

// "name:N" → N (within max).
bool fault_arg(std::string_view value, std::string_view name, uint64_t max,
               uint64_t& out) noexcept {
  return value.size() > name.size() && value.starts_with(name) && value[name.size()] == ':' &&
         parse_u64(value.substr(name.size() + 1), max, out);
}

std::string_view read_fault(std::string_view v, plan& p) noexcept {
  struct counted {
    std::string_view name;
    fault what;
  };
  static constexpr counted with_count[] = {
      {"reset-after", fault::reset_after},
      {"stall-after", fault::stall_after},
      {"eof-after", fault::eof_after},
      {"close-after", fault::close_after},
  };
  if (v == "close-before-headers") {
    p.what = fault::close_before_headers;
    return {};
  }
  if (v == "close-after-response") {
    p.what = fault::close_after_response;
    return {};
  }
  if (v == "malformed-json") {
    p.what = fault::malformed_json;
    return {};
  }
  if (v.starts_with("delay-headers")) {
    if (!fault_arg(v, "delay-headers", delay_ms_max, p.first_byte_ms))
      return "x-mock-fault: bad delay-headers";
    p.delayed_head = true;
    return {};
  }
  if (v.starts_with("oversized-line")) {
    if (!fault_arg(v, "oversized-line", oversized_bytes_max, p.fault_arg)) {
      return "x-mock-fault: bad oversized-line";
    }
    p.what = fault::oversized_line;
    return {};
  }
  for (const auto& c : with_count) {
    if (!v.starts_with(c.name)) continue;
    if (!fault_arg(v, c.name, chunks_max, p.fault_arg)) return "x-mock-fault: bad chunk count";
    p.what = c.what;
    return {};
  }
  return "x-mock-fault: unknown fault";
}

bool printable(std::string_view s) noexcept {
  if (s.size() > 64) return false;
  for (char c : s) {
    if (c < 0x20 || c > 0x7E) return false;
  }
  return true;
}

}  // namespace

struct json_reader::impl {
  od::parser parser;
};

json_reader::json_reader() : _impl(std::make_unique<impl>()) {}
json_reader::~json_reader() = default;

std::string_view json_reader::read(std::string_view body, request_fields& out) noexcept {
  out = {};
  simdjson::padded_string_view json(body.data(), body.size(), body.size() + httpd::body_padding);
  od::document doc;
  if (_impl->parser.iterate(json).get(doc)) return invalid_json;
  od::object obj;
  if (doc.get_object().get(obj)) return "request body must be a JSON object";
  for (auto f : obj) {
    od::field field;
    std::string_view key;
    if (std::move(f).get(field) || field.unescaped_key().get(key)) return invalid_json;
    if (auto err = read_field(key, field.value(), out); !err.empty()) return err;
  }
  return {};
}

std::string_view read_plan(const http::request_head& head, const options& defaults,
                           plan& p) noexcept {
  p = {};
  p.words = defaults.words;
  p.chunks = defaults.chunks;
  p.delay_ms = defaults.delay_ms;
  p.first_byte_ms = defaults.first_byte_ms;
  for (size_t i = 0; i < head.header_count; ++i) {
    const http::header& h = head.headers[i];
    if (h.name.size() < 7) continue;
    auto is = [&h](std::string_view name) {
      if (h.name.size() != name.size()) return false;
      for (size_t k = 0; k < name.size(); ++k) {
        char c = h.name[k];
        if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
        if (c != name[k]) return false;
      }
      return true;
    };
    uint64_t status = 0;
    if (is("x-mock-words")) {
      if (!parse_u64(h.value, words_max, p.words)) return "x-mock-words: expected 0..4194304";
    } else if (is("x-mock-chunks")) {
      if (!parse_u64(h.value, chunks_max, p.chunks)) return "x-mock-chunks: expected 0..1048576";
    } else if (is("x-mock-delay-ms")) {
      if (!parse_u64(h.value, delay_ms_max, p.delay_ms)) return "x-mock-delay-ms: expected ms";
    } else if (is("x-mock-first-byte-ms")) {
      if (!parse_u64(h.value, delay_ms_max, p.first_byte_ms)) {
        return "x-mock-first-byte-ms: expected ms";
      }
    } else if (is("x-mock-status")) {
      if (!parse_u64(h.value, 599, status) || status < 200) return "x-mock-status: 200..599";
      p.status = uint16_t(status);
    } else if (is("x-mock-retry-after")) {
      if (!printable(h.value)) return "x-mock-retry-after: bad value";
      p.retry_after = h.value;
    } else if (is("x-mock-retry-after-ms")) {
      if (!printable(h.value)) return "x-mock-retry-after-ms: bad value";
      p.retry_after_ms = h.value;
    } else if (is("x-mock-error-body")) {
      p.error_body = h.value;
      p.error_body_set = true;
    } else if (is("x-mock-fault")) {
      if (auto err = read_fault(h.value, p); !err.empty()) return err;
    }
  }
  return {};
}

}  // namespace rg::mockllm
