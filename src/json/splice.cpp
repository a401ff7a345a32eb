// Body rewriting by splicing: the output is the body's own bytes with at most two edits (model,
// stream_options), each a replacement of a span found by inspect_request. Nothing is re-serialised.
#include "detail.hpp"

#include <ringgate/json/request.hpp>

#include <cassert>
#include <utility>

namespace rg::json {
namespace {

struct edit {
  uint32_t begin = 0, end = 0;  // replaced range (empty: insertion at begin)
  std::string_view text;
};

constexpr std::string_view stream_options_member = "\"stream_options\":{\"include_usage\":true}";
constexpr std::string_view stream_options_member_comma =
    "\"stream_options\":{\"include_usage\":true},";
constexpr std::string_view include_usage_object = "{\"include_usage\":true}";
constexpr std::string_view include_usage_member = "\"include_usage\":true";
constexpr std::string_view include_usage_member_comma = "\"include_usage\":true,";
constexpr std::string_view true_literal = "true";

// Whether the object whose '{' is at `open` has no members.
bool object_is_empty(std::string_view body, uint32_t open) {
  size_t i = size_t(open) + 1;
  while (i < body.size() && detail::is_space(body[i])) ++i;
  return i < body.size() && body[i] == '}';
}

edit usage_edit(std::string_view body, const request_info& info) {
  if (!info.has_stream_options) {
    uint32_t at = info.object_begin + 1;
    bool empty = object_is_empty(body, info.object_begin);
    return {at, at, empty ? stream_options_member : stream_options_member_comma};
  }
  const span options = info.stream_options_span;
  assert(!options.empty() && options.end <= body.size());
  if (body[options.begin] == 'n') return {options.begin, options.end, include_usage_object};
  if (!info.include_usage_span.empty()) {  // include_usage: false or null
    return {info.include_usage_span.begin, info.include_usage_span.end, true_literal};
  }
  uint32_t at = options.begin + 1;
  bool empty = object_is_empty(body, options.begin);
  return {at, at, empty ? include_usage_member : include_usage_member_comma};
}

void push(splice& out, std::string_view piece) {
  if (piece.empty()) return;
  assert(out.count < splice::pieces_max);
  out.pieces[out.count++] = piece;
}

// Edits must be sorted by offset and must not overlap.
splice apply(std::string_view body, const edit* edits, size_t count) {
  splice out;
  uint32_t cursor = 0;
  for (size_t i = 0; i < count; ++i) {
    assert(edits[i].begin >= cursor && edits[i].end >= edits[i].begin);
    push(out, body.substr(cursor, edits[i].begin - cursor));
    push(out, edits[i].text);
    cursor = edits[i].end;
  }
  push(out, body.substr(cursor));
  return out;
}

}  // namespace

size_t splice::total_bytes() const {
  size_t total = 0;
  for (size_t i = 0; i < count; ++i) total += pieces[i].size();
  return total;
}

bool needs_include_usage(const request_info& info) {
  return info.stream && !info.include_usage;
}

splice rewrite_request(std::string_view body, const request_info& info,
                       const rewrite_options& options) {
  edit edits[2];
  size_t count = 0;
  if (!options.quoted_model.empty()) {
    assert(!info.model_span.empty() && info.model_span.end <= body.size());
    edits[count++] = {info.model_span.begin, info.model_span.end, options.quoted_model};
  }
  if (options.usage == usage_policy::ensure_included && needs_include_usage(info)) {
    edits[count++] = usage_edit(body, info);
  }
  if (count == 2 && edits[1].begin < edits[0].begin) std::swap(edits[0], edits[1]);
  return apply(body, edits, count);
}

splice rewrite_model(std::string_view body, const request_info& info,
                     std::string_view quoted_new_model) {
  return rewrite_request(body, info, {.quoted_model = quoted_new_model});
}

splice ensure_include_usage(std::string_view body, const request_info& info) {
  return rewrite_request(body, info, {.usage = usage_policy::ensure_included});
}

}  // namespace rg::json
