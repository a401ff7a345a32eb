// Tests for rg::http::sse_scanner and the SSE field helpers: OpenAI- and Anthropic-shaped streams,
// every line ending, and the rule that event boundaries never depend on how the input was split.
#include <ringgate/http/sse.hpp>

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace rg::http;

struct event {
  size_t end = 0;  // stream offset just past the event
  size_t bytes = 0;
  bool has_data = false;
  bool operator==(const event&) const = default;
};

std::ostream& operator<<(std::ostream& os, const event& e) {
  return os << "{end=" << e.end << " bytes=" << e.bytes << " data=" << e.has_data << "}";
}

struct scanned {
  std::vector<event> events;
  uint16_t error = 0;
  std::string_view message;
  size_t consumed = 0;
  bool partial = false;  // an unterminated event was cut off at EOF
  bool operator==(const scanned&) const = default;
};

std::ostream& operator<<(std::ostream& os, const scanned& s) {
  os << "{events=[";
  for (const event& e : s.events) os << e;
  return os << "] error=" << s.error << " '" << s.message << "' consumed=" << s.consumed
            << " partial=" << s.partial << "}";
}

// Scans `stream` in pieces cut at `cuts` (ascending), then signals EOF.
scanned scan(std::string_view stream, const std::vector<size_t>& cuts, size_t line_max = 1 << 20) {
  sse_scanner sc(line_max);
  scanned out;
  size_t begin = 0;
  const auto record = [&](const sse_step& s) {
    out.consumed += s.consumed;
    if (s.event_end) {
      out.events.push_back({out.consumed, sc.event_bytes(), sc.event_has_data()});
    }
    if (s.error.status != 0) {
      out.error = s.error.status;
      out.message = s.error.message;
    }
  };
  for (size_t p = 0; p <= cuts.size() && out.error == 0; ++p) {
    const size_t end = p < cuts.size() ? cuts[p] : stream.size();
    std::string_view piece = stream.substr(begin, end - begin);
    begin = end;
    while (out.error == 0) {
      const sse_step s = sc.step(piece);
      EXPECT_LE(s.consumed, piece.size());
      EXPECT_TRUE(s.consumed > 0 || s.event_end || piece.empty() || s.error.status != 0)
          << "a step with input must make progress";
      record(s);
      piece.remove_prefix(s.consumed);
      if (piece.empty() && !s.event_end) break;
    }
  }
  if (out.error == 0) record(sc.finish_eof());
  out.partial = sc.partial_event();
  return out;
}

// Whole, byte by byte, every single cut, and (for short streams) every pair of cuts agree.
scanned scan_every_split(std::string_view stream, size_t line_max = 1 << 20) {
  const scanned whole = scan(stream, {}, line_max);
  std::vector<size_t> every_byte;
  for (size_t i = 0; i <= stream.size(); ++i) every_byte.push_back(i);
  EXPECT_EQ(scan(stream, every_byte, line_max), whole) << "byte by byte";
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    EXPECT_EQ(scan(stream, {cut}, line_max), whole) << "cut at " << cut;
  }
  for (size_t a = 0; a <= stream.size() && stream.size() <= 96; ++a) {
    for (size_t b = a; b <= stream.size(); ++b) {
      EXPECT_EQ(scan(stream, {a, b}, line_max), whole) << "cuts at " << a << "," << b;
    }
  }
  return whole;
}

// The text of each event, by its recorded boundaries.
std::vector<std::string_view> texts(std::string_view stream, const scanned& s) {
  std::vector<std::string_view> out;
  size_t begin = 0;
  for (const event& e : s.events) {
    out.push_back(stream.substr(begin, e.end - begin));
    EXPECT_EQ(e.end - begin, e.bytes);
    begin = e.end;
  }
  return out;
}

TEST(sse_scanner, openai_stream) {
  const std::string e1 = "data: {\"id\":\"c1\",\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n";
  const std::string e2 = "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"total_tokens\":9}}\n\n";
  const std::string e3 = "data: [DONE]\n\n";
  const std::string stream = e1 + e2 + e3;
  const scanned s = scan_every_split(stream);
  ASSERT_EQ(s.events.size(), 3u) << s;
  EXPECT_EQ(s.events[0], (event{e1.size(), e1.size(), true}));
  EXPECT_EQ(s.events[2].end, stream.size());
  EXPECT_FALSE(s.partial);
  const auto t = texts(stream, s);
  EXPECT_EQ(sse_first_data(t[0]), "{\"id\":\"c1\",\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}");
  EXPECT_FALSE(sse_is_done(t[0]));
  EXPECT_FALSE(sse_is_done(t[1]));
  EXPECT_TRUE(sse_is_done(t[2]));
  EXPECT_EQ(sse_event_name(t[2]), "");
}

TEST(sse_scanner, anthropic_stream) {
  const std::string stream =
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m1\"}}\n\n"
      "event: ping\ndata: {\"type\": \"ping\"}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
      "\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n"
      "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
  const scanned s = scan_every_split(stream);
  ASSERT_EQ(s.events.size(), 4u) << s;
  const auto t = texts(stream, s);
  EXPECT_EQ(sse_event_name(t[0]), "message_start");
  EXPECT_EQ(sse_event_name(t[1]), "ping");
  EXPECT_EQ(sse_first_data(t[1]), "{\"type\": \"ping\"}");
  EXPECT_EQ(sse_event_name(t[3]), "message_stop");
  EXPECT_EQ(sse_first_data(t[3]), "{\"type\":\"message_stop\"}");
  for (const event& e : s.events) EXPECT_TRUE(e.has_data);
}

TEST(sse_scanner, every_line_ending_gives_the_same_events) {
  const std::string lf = ": ok\n\nevent: a\ndata: 1\nid: 7\n\nretry: 10\ndata: [DONE]\n\n";
  std::vector<size_t> bytes_lf;
  for (const event& e : scan_every_split(lf).events) bytes_lf.push_back(e.bytes);
  for (std::string_view ending : {"\r\n", "\r"}) {
    std::string other;
    for (char c : lf) other += c == '\n' ? std::string(ending) : std::string(1, c);
    const scanned s = scan_every_split(other);
    ASSERT_EQ(s.events.size(), 3u) << s;
    const auto t = texts(other, s);
    EXPECT_FALSE(s.events[0].has_data);
    EXPECT_EQ(sse_event_name(t[1]), "a");
    EXPECT_EQ(sse_first_data(t[1]), "1");
    EXPECT_TRUE(sse_is_done(t[2]));
    const size_t line_endings[] = {2, 4, 3};
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(s.events[i].bytes, bytes_lf[i] + line_endings[i] * (ending.size() - 1));
    }
  }
}

TEST(sse_scanner, crlf_split_across_inputs_is_one_line_ending) {
  // Were the LF after "a\r" read as a blank line, the event would end after "\r\n".
  EXPECT_EQ(scan("data: a\r\n\r\ndata: b\r\n\r\n", {8}).events,
            (std::vector<event>{{11, 11, true}, {22, 11, true}}));
  EXPECT_EQ(scan("data: a\r\n\r\n", {10}).events, (std::vector<event>{{11, 11, true}}));
}

TEST(sse_scanner, cr_ended_blank_line_at_the_end_of_input_waits_one_byte) {
  sse_scanner sc;
  sse_step s = sc.step("data: a\r\r");
  EXPECT_EQ(s.consumed, 9u);
  EXPECT_FALSE(s.event_end);  // a LF may still follow
  s = sc.step("");
  EXPECT_FALSE(s.event_end);
  s = sc.step("data: b\r\r");
  EXPECT_EQ(s.consumed, 0u);
  EXPECT_TRUE(s.event_end);
  EXPECT_EQ(sc.event_bytes(), 9u);
  s = sc.step("data: b\r\r");
  EXPECT_EQ(s.consumed, 9u);
  EXPECT_FALSE(s.event_end);
  s = sc.finish_eof();
  EXPECT_TRUE(s.event_end);
  EXPECT_EQ(sc.event_bytes(), 9u);
  EXPECT_FALSE(sc.finish_eof().event_end);

  sc.reset();
  EXPECT_FALSE(sc.step("data: a\r\n\r").event_end);
  s = sc.step("\ndata: b");
  EXPECT_EQ(s.consumed, 1u);
  EXPECT_TRUE(s.event_end);
  EXPECT_EQ(sc.event_bytes(), 11u);
}

TEST(sse_scanner, comments_and_blank_lines) {
  const std::string stream = "\n\n: ping\n\n:\n\n\r\n: x\ndata\n\n";
  const scanned s = scan_every_split(stream);
  ASSERT_EQ(s.events.size(), 3u) << s;
  EXPECT_EQ(s.events[0], (event{10, 10, false}));  // leading blank lines belong to the first event
  EXPECT_EQ(s.events[1], (event{13, 3, false}));
  EXPECT_EQ(s.events[2], (event{stream.size(), 12, true}));  // a bare "data" line is a data field
  EXPECT_EQ(sse_first_data(texts(stream, s)[0]), "");
}

TEST(sse_scanner, data_field_detection) {
  const std::pair<std::string, bool> cases[] = {
      {"data: x\n\n", true},   {"data:x\n\n", true},     {"data:\n\n", true},
      {"data\n\n", true},      {"datax: 1\n\n", false},  {"dat\n\n", false},
      {"Data: x\n\n", false},  {" data: x\n\n", false},  {"id: 1\ndata: x\n\n", true},
      {"event: e\n\n", false}, {"d\ndata: 2\n\n", true}, {"data: 1\nid: 2\n\n", true},
  };
  for (const auto& [stream, has_data] : cases) {
    const scanned s = scan_every_split(stream);
    ASSERT_EQ(s.events.size(), 1u) << stream;
    EXPECT_EQ(s.events[0].has_data, has_data) << stream;
  }
}

TEST(sse_scanner, unterminated_event_at_eof) {
  const scanned s = scan_every_split("data: 1\n\ndata: 2\n");
  EXPECT_EQ(s.events.size(), 1u);
  EXPECT_TRUE(s.partial);
  EXPECT_EQ(s.consumed, 17u);
  EXPECT_TRUE(scan_every_split("data: 1\n\ndata: 2").partial);
  EXPECT_FALSE(scan_every_split("data: 1\n\n\n\n").partial);
}

TEST(sse_scanner, oversized_line) {
  const size_t max = 16;
  const std::string at_max = "data: " + std::string(max - 6, 'x');
  const scanned fits = scan_every_split(at_max + "\r\n\r\n", max);
  EXPECT_EQ(fits.error, 0);
  EXPECT_EQ(fits.events.size(), 1u);
  // The same with LF endings, which the one-line fast path takes whole: exactly at the limit.
  const scanned fits_lf = scan_every_split(at_max + "\n\n" + at_max + "\n\n", max);
  EXPECT_EQ(fits_lf.error, 0);
  EXPECT_EQ(fits_lf.events.size(), 2u);
  for (const std::string& stream : {at_max + "y\n\n", std::string(40, 'z'), ": " + at_max + "\n\n",
                                    "data: 1\n\n" + at_max + "yz"}) {
    const scanned s = scan_every_split(stream, max);
    EXPECT_EQ(s.error, 502) << stream;
    EXPECT_EQ(s.message, "upstream sent an oversized SSE line");
  }
  // The error comes with the first byte past the limit, wherever the input was cut.
  EXPECT_EQ(scan(std::string(40, 'z'), {}, max).consumed, max + 1);
  EXPECT_EQ(scan_every_split(at_max + "y\n\n", max).consumed, max + 1);
  EXPECT_EQ(scan("data: 1\n\n" + std::string(40, 'z'), {}, max).consumed, 9 + max + 1);
  // A limit shorter than "data:" itself: the whole-prefix fast path must not skip the check.
  EXPECT_EQ(scan_every_split("data: x\n\n", 3).error, 502);
  EXPECT_EQ(scan("data: x\n\n", {}, 3).consumed, 4u);
  EXPECT_EQ(scan_every_split("data:\n\n", 5).events.size(), 1u);
  sse_scanner sc(max);
  EXPECT_EQ(sc.step(std::string(40, 'z')).error.status, 502);
  EXPECT_EQ(sc.step("\n\n").error.status, 502);  // sticky
  EXPECT_EQ(sc.finish_eof().error.status, 502);
  sc.reset();
  EXPECT_TRUE(sc.step("data: 1\n\n").event_end);
}

TEST(sse_scanner, large_event_in_many_reads) {
  std::string stream = "data: " + std::string(100000, 'q') + "\ndata: tail\n\n";
  std::vector<size_t> cuts;
  for (size_t i = 1; i < stream.size(); i += 4093) cuts.push_back(i);
  const scanned s = scan(stream, cuts);
  ASSERT_EQ(s.events.size(), 1u);
  EXPECT_EQ(s.events[0], (event{stream.size(), stream.size(), true}));
}

TEST(sse_helpers, first_data) {
  EXPECT_EQ(sse_first_data("data: a\ndata: b\n\n"), "a");
  EXPECT_EQ(sse_first_data("data:a\n\n"), "a");
  EXPECT_EQ(sse_first_data("data:  a \n\n"), " a ");  // only one leading space goes
  EXPECT_EQ(sse_first_data("data\n\n"), "");
  EXPECT_EQ(sse_first_data(": c\r\nid: 1\r\nretry: 5\r\ndata: x\r\n\r\n"), "x");
  EXPECT_EQ(sse_first_data("event: e\rdata: y\r\r"), "y");
  EXPECT_EQ(sse_first_data("\n\nevent: e\n\n"), "");
  EXPECT_EQ(sse_first_data(": data: no\n\n"), "");
  EXPECT_EQ(sse_first_data("event: e\n\ndata: next event\n\n"), "");  // stops at the blank line
  EXPECT_EQ(sse_first_data("data: unterminated"), "unterminated");
  EXPECT_EQ(sse_first_data(""), "");
}

TEST(sse_helpers, is_done) {
  EXPECT_TRUE(sse_is_done("data: [DONE]\n\n"));
  EXPECT_TRUE(sse_is_done("data:[DONE]\r\n\r\n"));
  EXPECT_TRUE(sse_is_done(": bye\nevent: end\ndata: [DONE]\n\n"));
  EXPECT_TRUE(sse_is_done("\n\ndata: [DONE]\r\r"));
  EXPECT_FALSE(sse_is_done("data:  [DONE]\n\n"));
  EXPECT_FALSE(sse_is_done("data: [DONE] \n\n"));
  EXPECT_FALSE(sse_is_done("data: [done]\n\n"));
  EXPECT_FALSE(sse_is_done("data: [DONE]\ndata: more\n\n"));
  EXPECT_FALSE(sse_is_done("data: x\ndata: [DONE]\n\n"));
  EXPECT_FALSE(sse_is_done("event: [DONE]\n\n"));
  EXPECT_FALSE(sse_is_done("data: {\"text\":\"[DONE]\"}\n\n"));
  EXPECT_FALSE(sse_is_done(""));
  // The fast path (an event that starts with its data field) agrees with the full reading.
  EXPECT_FALSE(sse_is_done("data:\n\n"));
  EXPECT_FALSE(sse_is_done("data: \n\n"));
  EXPECT_FALSE(sse_is_done("data:"));
  EXPECT_FALSE(sse_is_done("data: ["));
  EXPECT_FALSE(sse_is_done("data:x[DONE]\n\n"));
  EXPECT_TRUE(sse_is_done("data: [DONE]"));
  EXPECT_TRUE(sse_is_done("data:[DONE]"));
}

TEST(sse_helpers, event_name) {
  EXPECT_EQ(sse_event_name("event: message_delta\ndata: {}\n\n"), "message_delta");
  EXPECT_EQ(sse_event_name("event:a\nevent: b\n\n"), "b");  // the last one wins
  EXPECT_EQ(sse_event_name("data: {}\r\n\r\n"), "");
  EXPECT_EQ(sse_event_name("event\n\n"), "");
  EXPECT_EQ(sse_event_name(":event: no\n\n"), "");
}

}  // namespace
