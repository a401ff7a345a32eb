// Server-Sent Events framing for streamed LLM responses (HTML Living Standard §9.2.6): finds where
// each event ends without copying a byte; boundaries depend only on the bytes, never on the split.
#pragma once

#include <ringgate/http/request.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace rg::http {

struct sse_step {
  size_t consumed = 0;     // input bytes consumed by this step
  bool event_end = false;  // the event ended exactly at the last consumed byte
  parse_error error;       // error.status != 0 (502) on an oversized line; sticky until reset()
};

// Scans an SSE byte stream (the decoded response body) for event boundaries. An event is every
// byte from the end of the previous one through the blank line that ends it; it holds at least
// one non-blank line (a field or a ": comment"), so blank lines before it belong to it and a
// comment-only event (": ping") is an event. Lines end with LF, CRLF or CR; a CRLF split across
// two inputs is one line ending.
//
// step() consumes input up to and including the end of the next event, or all of it when no event
// ends in it; call it again with the rest. One wrinkle keeps boundaries split-independent: when a
// blank line ends with a CR that is the last input byte, the scanner cannot know yet whether a LF
// (part of the same line ending) follows, so that step reports no end; the next step reports it,
// consuming the LF if it is there, or nothing at all (consumed 0 with event_end). At the end of
// the stream call finish_eof() to settle such a pending end. CR-only streams therefore learn of
// an event's end one byte late; LF and CRLF streams (all LLM providers) never wait.
//
// Per event it also tracks, without copying: whether it has a data field ("data:…" or a bare
// "data" line) and its size. A leading UTF-8 BOM is not stripped (no LLM provider sends one).
class sse_scanner {
 public:
  explicit sse_scanner(size_t line_bytes_max = size_t{1} << 20) noexcept
      : _line_bytes_max(line_bytes_max) {}
  void reset() noexcept;
  sse_step step(std::string_view in) noexcept;
  // The stream ended. Reports a pending end (see above) as {0, true}; otherwise {0, false}, and
  // partial_event() tells whether an unterminated event was cut off (the spec discards it).
  sse_step finish_eof() noexcept;

  // The event that ended at the last event_end: its size in bytes (blank-line terminator and any
  // blank lines before it included), and whether it has a data field.
  size_t event_bytes() const noexcept { return _last_event_bytes; }
  bool event_has_data() const noexcept { return _last_has_data; }
  // Bytes consumed since the last event end that hold at least one non-blank line or part of one.
  bool partial_event() const noexcept { return _event_lines != 0 || _line_bytes != 0; }

 private:
  sse_step end_event(size_t consumed) noexcept;
  sse_step done_for_now(size_t consumed) noexcept;
  bool on_prefix_byte(char c) noexcept;
  void on_line_end() noexcept;

  size_t _line_bytes_max;
  size_t _line_bytes = 0;   // content bytes of the line being scanned (terminator excluded)
  size_t _event_bytes = 0;  // bytes of the event being scanned, consumed so far
  size_t _event_lines = 0;  // non-blank lines in the event being scanned
  size_t _last_event_bytes = 0;
  uint8_t _prefix = 0;        // bytes of "data:" matched at the start of this line; 6 = no match
  bool _after_cr = false;     // the last byte ended a line with CR: a LF next is part of it
  bool _end_pending = false;  // a blank line ended with CR at the end of the last input
  bool _has_data = false;     // the event being scanned has a data field
  bool _last_has_data = false;
  parse_error _error;
};

// Helpers on the text of one complete event, contiguous (copy it into scratch first if it spans
// buffers). They read up to the event's blank line (or the end of the text), skip leading blank
// lines and comments, and accept LF, CRLF and CR endings. A field value loses one leading space.

// The value of the first data field; empty when there is none (or when it is empty).
std::string_view sse_first_data(std::string_view event) noexcept;
// The event's data is exactly "[DONE]": one data field, with that value (OpenAI's terminator).
bool sse_is_done(std::string_view event) noexcept;
// The value of the event field (the last one, as the spec's event type buffer keeps), or empty.
std::string_view sse_event_name(std::string_view event) noexcept;

}  // namespace rg::http
