// inspect_request: one pass over a request body that validates all of it and reads the fields
// routing and accounting need. Interpreted top-level keys must be unique (compared unescaped).
#include "detail.hpp"

#include <ringgate/json/request.hpp>

#include <algorithm>
#include <charconv>
#include <limits>

namespace rg::json {
namespace {

using detail::count_mode;
namespace od = simdjson::ondemand;

bool is_prompt_key(std::string_view key) {
  return key == "messages" || key == "input" || key == "prompt" || key == "system" ||
         key == "instructions" || key == "tools" || key == "functions";
}

class inspector {
 public:
  inspector(std::string_view body, std::span<char> model_scratch, od::document& doc)
      : _body(body), _scratch(model_scratch), _doc(doc) {}

  // false: the JSON is invalid (or too deep); field-level problems are noted and walking goes on.
  bool on_field(std::string_view key, od::value& v);
  std::expected<request_info, request_error> finish();
  bool too_deep() const { return _walk.too_deep; }

 private:
  bool on_model(od::value& v);
  bool on_stream(od::value& v);
  bool on_stream_options(od::value& v);
  bool on_include_usage(od::value& v);
  bool on_max_tokens(od::value& v, uint32_t& seen);
  bool walk(od::value& v, uint32_t depth, count_mode mode = count_mode::none) {
    return detail::walk_value(v, depth, mode, _walk);
  }
  void note(request_error e) {
    if (!_error) _error = e;
  }
  void note_duplicate(uint32_t& seen, request_error e) {
    if (seen++ > 0) note(e);
  }
  uint32_t offset(const char* p) const { return static_cast<uint32_t>(p - _body.data()); }
  span token_span(std::string_view token) const {
    return {offset(token.data()), offset(token.data() + token.size())};
  }

  std::string_view _body;
  std::span<char> _scratch;
  od::document& _doc;
  request_info _info;
  detail::walk_state _walk;
  std::optional<request_error> _error;
  uint32_t _model_seen = 0, _stream_seen = 0, _options_seen = 0, _include_usage_seen = 0;
  uint32_t _max_tokens_seen = 0, _max_completion_seen = 0;
};

bool inspector::on_field(std::string_view key, od::value& v) {
  if (key == "model") return on_model(v);
  if (key == "stream") return on_stream(v);
  if (key == "stream_options") return on_stream_options(v);
  if (key == "max_tokens") return on_max_tokens(v, _max_tokens_seen);
  if (key == "max_completion_tokens") return on_max_tokens(v, _max_completion_seen);
  return walk(v, 1, is_prompt_key(key) ? count_mode::prompt : count_mode::none);
}

bool inspector::on_model(od::value& v) {
  note_duplicate(_model_seen, request_error::duplicate_model);
  od::json_type type;
  if (v.type().get(type)) return false;
  if (type != od::json_type::string) {
    note(request_error::model_not_string);
    return walk(v, 1);
  }
  std::string_view token = detail::trim_right(v.raw_json_token());
  std::optional<std::string_view> contents = detail::string_contents(token);
  if (!contents) return false;
  std::optional<size_t> length = detail::scan_string<false>(*contents, nullptr);
  if (!length) return false;
  if (_model_seen > 1) return true;  // the first one stays; the request fails anyway
  _info.model_span = token_span(token);
  if (*length == 0) {
    note(request_error::model_empty);
  } else if (*length > model_bytes_max) {
    note(request_error::model_too_long);
  } else if (*length == contents->size()) {  // every escape shortens: none here
    _info.model = *contents;
  } else if (_scratch.size() < *length) {
    note(request_error::model_has_escapes);
  } else {
    detail::scan_string<true>(*contents, _scratch.data());
    _info.model = std::string_view(_scratch.data(), *length);
  }
  return true;
}

bool inspector::on_stream(od::value& v) {
  note_duplicate(_stream_seen, request_error::duplicate_key);
  od::json_type type;
  if (v.type().get(type)) return false;
  if (type != od::json_type::boolean) {
    note(request_error::stream_not_boolean);
    return walk(v, 1);
  }
  std::string_view t = detail::trim_right(v.raw_json_token());
  if (t != "true" && t != "false") return false;
  if (_stream_seen == 1) _info.stream = t == "true";
  return true;
}

bool inspector::on_stream_options(od::value& v) {
  note_duplicate(_options_seen, request_error::duplicate_key);
  od::json_type type;
  if (v.type().get(type)) return false;
  std::string_view token = detail::trim_right(v.raw_json_token());
  if (type == od::json_type::null) {
    if (token != "null") return false;
    _info.has_stream_options = true;
    _info.stream_options_span = token_span(token);
    return true;
  }
  if (type != od::json_type::object) {
    note(request_error::stream_options_not_object);
    return walk(v, 1);
  }
  od::object object;
  if (v.get_object().get(object)) return false;
  for (auto member : object) {
    od::field field;
    if (std::move(member).get(field)) return false;
    std::string_view key;
    if (field.unescaped_key().get(key)) return false;
    bool ok = key == "include_usage" ? on_include_usage(field.value()) : walk(field.value(), 2);
    if (!ok) return false;
  }
  // The iterator now rests on the token after the closing '}'.
  const char* next = nullptr;
  if (_doc.current_location().get(next)) return false;
  std::string_view value(token.data(), size_t(next - token.data()));
  value = detail::trim_right(value);
  if (value.empty() || value.back() != '}') return false;
  _info.has_stream_options = true;
  _info.stream_options_span = token_span(value);
  return true;
}

bool inspector::on_include_usage(od::value& v) {
  note_duplicate(_include_usage_seen, request_error::duplicate_key);
  od::json_type type;
  if (v.type().get(type)) return false;
  std::string_view t = detail::trim_right(v.raw_json_token());
  if (type == od::json_type::boolean || type == od::json_type::null) {
    if (t != "true" && t != "false" && t != "null") return false;
    if (_include_usage_seen == 1) {
      _info.include_usage = t == "true";
      _info.include_usage_span = token_span(t);
    }
    return true;
  }
  note(request_error::include_usage_not_boolean);
  return walk(v, 2);
}

bool inspector::on_max_tokens(od::value& v, uint32_t& seen) {
  note_duplicate(seen, request_error::duplicate_key);
  od::json_type type;
  if (v.type().get(type)) return false;
  std::string_view t = detail::trim_right(v.raw_json_token());
  if (type == od::json_type::null) return t == "null";
  if (type != od::json_type::number) {
    note(request_error::max_tokens_invalid);
    return walk(v, 1);
  }
  if (!detail::is_number(t)) return false;
  int64_t value = -1;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
  if (ec != std::errc() || end != t.data() + t.size() || value < 0 || t.front() == '-') {
    note(request_error::max_tokens_invalid);  // fraction, exponent, sign or overflow
    return true;
  }
  _info.max_tokens = std::max(_info.max_tokens, value);
  return true;
}

std::expected<request_info, request_error> inspector::finish() {
  if (_error) return std::unexpected(*_error);
  if (_model_seen == 0) return std::unexpected(request_error::missing_model);
  _info.prompt_chars = _walk.prompt_chars;
  _info.prompt_strings = _walk.prompt_strings;
  size_t begin = 0;
  while (begin < _body.size() && detail::is_space(_body[begin])) ++begin;
  _info.object_begin = static_cast<uint32_t>(begin);
  return _info;
}

}  // namespace

std::expected<request_info, request_error> inspect_request(std::string_view body,
                                                           std::span<char> model_scratch) {
  if (body.size() > std::numeric_limits<uint32_t>::max()) {
    return std::unexpected(request_error::body_too_large);
  }
  od::document doc;
  if (detail::iterate(body, doc)) return std::unexpected(request_error::invalid_json);
  od::json_type type;
  if (doc.type().get(type)) return std::unexpected(request_error::invalid_json);
  if (type != od::json_type::object) return std::unexpected(request_error::not_an_object);
  od::object root;
  if (doc.get_object().get(root)) return std::unexpected(request_error::invalid_json);

  inspector ins(body, model_scratch, doc);
  for (auto member : root) {
    od::field field;
    std::string_view key;
    if (std::move(member).get(field) || field.unescaped_key().get(key) ||
        !ins.on_field(key, field.value())) {
      return std::unexpected(ins.too_deep() ? request_error::too_deep
                                            : request_error::invalid_json);
    }
  }
  // Only whitespace may follow the root object.
  if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) {
    return std::unexpected(request_error::invalid_json);
  }
  return ins.finish();
}

std::string_view message(request_error e) noexcept {
  switch (e) {
    case request_error::invalid_json:
      return "request body is not valid JSON";
    case request_error::not_an_object:
      return "request body must be a JSON object";
    case request_error::too_deep:
      return "request body nests too deeply";
    case request_error::body_too_large:
      return "request body is too large";
    case request_error::missing_model:
      return "'model' is required";
    case request_error::model_not_string:
      return "'model' must be a string";
    case request_error::model_empty:
      return "'model' must not be empty";
    case request_error::model_too_long:
      return "'model' is too long";
    case request_error::model_has_escapes:
      return "'model' must not contain escape sequences";
    case request_error::duplicate_model:
      return "'model' must appear only once";
    case request_error::duplicate_key:
      return "'stream', 'stream_options', 'include_usage', 'max_tokens' and "
             "'max_completion_tokens' must appear only once";
    case request_error::stream_not_boolean:
      return "'stream' must be true or false";
    case request_error::stream_options_not_object:
      return "'stream_options' must be an object";
    case request_error::include_usage_not_boolean:
      return "'stream_options.include_usage' must be true or false";
    case request_error::max_tokens_invalid:
      return "'max_tokens' and 'max_completion_tokens' must be non-negative integers";
  }
  return "invalid request";
}

}  // namespace rg::json
