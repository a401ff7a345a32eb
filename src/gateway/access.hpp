// The access log: one JSON line per request, formatted on the shard in place into its
// log::access_batch, handed to the log writer thread a block at a time; dropped and counted when
// the shard's blocks are all still queued.
// It never carries a key or a secret: a virtual key appears only as its configured name, the
// provider key is not known here, and the path is logged without its query string.
#pragma once
#include <cstdint>
#include <span>
#include <string_view>

#include <ringgate/httpd/exchange.hpp>
#include <ringgate/runtime/log.hpp>

#include "metrics.hpp"

namespace rg::gateway {

// Cost in USD of `n`'s usage at its model's prices; negative when unknown.
double cost_usd(const exchange_note& n) noexcept;

// Formats the access line for one finished exchange into `out`; returns its length (0 when it
// did not fit: every variable field is cut at 160 bytes, so only text that is mostly escapes
// can make a line pass access_line_max).
// `client`: the peer address as text (httpd::exchange::peer_text), empty when unknown. n.ep must
// be `other` unless the request's path is that endpoint's (the handler's dispatch sets it so).
size_t format_access_line(const http::request_head& head, std::string_view client,
                          const exchange_note& n, uint16_t status, uint64_t duration_ns,
                          int64_t unix_us, std::span<char> out) noexcept;

// The longest line of plain text format_access_line writes (every variable field is clipped);
// also the size of the one-line slot used when a shard's batch has no block free.
inline constexpr size_t access_line_max = 1000;
// The room a line is formatted into in a shard's batch: enough for the unchecked path (no
// per-write room checks) whatever the strings hold. A line of client text that is mostly
// escapes can pass access_line_max: it is written whole here (the slot would drop and count it).
inline constexpr size_t access_room = 4096;

// Formats the line in place into the shard's batch (counted as dropped when it has no room);
// end_ns: the monotonic time the exchange ended (its wall time is derived from it).
void write_access_line(log::access_batch& batch, httpd::exchange& ex, const exchange_note& n,
                       uint16_t status, uint64_t duration_ns, uint64_t end_ns) noexcept;

}  // namespace rg::gateway
