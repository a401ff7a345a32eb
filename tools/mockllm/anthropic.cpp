// Anthropic's Messages wire format: a message with a text block (plus a tool_use block when the
// request offers tools), or its stream in the real event order: message_start,
// content_block_start, ping, content_block_delta…, content_block_stop, message_delta, message_stop.
#include "answer.hpp"

namespace rg::mockllm {
namespace {

constexpr std::string_view default_tool_name = R"("tool")";

std::string_view stop_reason(const request_fields& f, bool truncated) noexcept {
  if (truncated) return "max_tokens";
  return f.has_tools ? "tool_use" : "end_turn";
}

std::string_view tool_name(const request_fields& f) noexcept {
  return f.tool_name.empty() ? default_tool_name : f.tool_name;
}

void event(scratch& sc, std::string_view name) {
  sc.add("event: ").add(name).add("\ndata: ");
}

script stream_script(request_ctx& c, const request_fields& f, uint64_t words, bool truncated) {
  scratch& sc = c.sc;
  script s;
  s.content_type = "text/event-stream";
  event(sc, "message_start");
  sc.add(R"({"type":"message_start","message":{"id":"msg_mock_)").num(c.id);
  sc.add(R"(","type":"message","role":"assistant","model":)").add(f.model);
  sc.add(R"(,"content":[],"stop_reason":null,"stop_sequence":null,)");
  sc.add(R"("usage":{"input_tokens":)").num(c.prompt_tokens).add(R"(,"output_tokens":1}}})");
  sc.add("\n\n");
  event(sc, "content_block_start");
  sc.add(R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})");
  sc.add("\n\n");
  event(sc, "ping");
  sc.add(R"({"type":"ping"})").add("\n\n");
  s.before = sc.take();
  event(sc, "content_block_delta");
  sc.add(R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":")");
  s.content_prefix = sc.take();
  s.content_suffix = sc.add("\"}}\n\n").take();
  event(sc, "content_block_stop");
  sc.add(R"({"type":"content_block_stop","index":0})").add("\n\n");
  if (f.has_tools && !truncated) {
    event(sc, "content_block_start");
    sc.add(R"({"type":"content_block_start","index":1,"content_block":{"type":"tool_use",)");
    sc.add(R"("id":"toolu_mock_)").num(c.id).add(R"(","name":)").add(tool_name(f));
    sc.add(R"(,"input":{}}})").add("\n\n");
    event(sc, "content_block_delta");
    sc.add(R"({"type":"content_block_delta","index":1,)");
    sc.add(R"("delta":{"type":"input_json_delta","partial_json":"{}"}})").add("\n\n");
    event(sc, "content_block_stop");
    sc.add(R"({"type":"content_block_stop","index":1})").add("\n\n");
  }
  event(sc, "message_delta");
  sc.add(R"({"type":"message_delta","delta":{"stop_reason":")").add(stop_reason(f, truncated));
  sc.add(R"(","stop_sequence":null},"usage":{"output_tokens":)").num(words).add("}}\n\n");
  event(sc, "message_stop");
  sc.add(R"({"type":"message_stop"})").add("\n\n");
  s.after = sc.take();
  s.malformed = "event: content_block_delta\ndata: {not json\n\n";
  return s;
}

script complete_script(request_ctx& c, const request_fields& f, uint64_t words, bool truncated) {
  scratch& sc = c.sc;
  script s;
  sc.add(R"({"id":"msg_mock_)").num(c.id);
  sc.add(R"(","type":"message","role":"assistant","model":)").add(f.model);
  sc.add(R"(,"content":[{"type":"text","text":")");
  s.before = sc.take();
  sc.add("\"}");
  if (f.has_tools && !truncated) {
    sc.add(R"(,{"type":"tool_use","id":"toolu_mock_)").num(c.id);
    sc.add(R"(","name":)").add(tool_name(f)).add(R"(,"input":{}})");
  }
  sc.add(R"(],"stop_reason":")").add(stop_reason(f, truncated));
  sc.add(R"(","stop_sequence":null,"usage":{"input_tokens":)").num(c.prompt_tokens);
  sc.add(R"(,"output_tokens":)").num(words).add("}}");
  s.after = sc.take();
  sc.add(R"({"id":"msg_mock_)").num(c.id).add(R"(","type":"message","content":[{not json)");
  s.malformed = sc.take();
  return s;
}

}  // namespace

runtime::task<void> anthropic_messages(request_ctx& c, const request_fields& f) {
  if (f.model.empty()) {
    co_await answer_error(c, wire::anthropic, 400, "model: Field required");
    co_return;
  }
  if (!f.has_messages) {
    co_await answer_error(c, wire::anthropic, 400, "messages: Field required");
    co_return;
  }
  uint64_t words = answer_words(c.p, f);
  bool truncated = words < c.p.words;
  script s =
      f.stream ? stream_script(c, f, words, truncated) : complete_script(c, f, words, truncated);
  if (!c.sc.ok()) {
    co_await answer_error(c, wire::anthropic, 500, "mock scratch overflow");
  } else if (f.stream) {
    co_await answer_stream(c, s, words);
  } else {
    co_await answer_complete(c, s, filler::words(0, words));
  }
}

}  // namespace rg::mockllm
