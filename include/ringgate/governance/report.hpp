// `ringgate usage`: parsing its --since argument and rendering the spend table. Pure functions
// (time is a parameter), tested without a database.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <ringgate/governance/ledger.hpp>

namespace rg::governance {

// "2026-11-22", "2026-11-22T08:30", "2026-11-22T08:30:15Z" (UTC) or a duration back from `now_s`:
// "90s", "30m", "24h", "7d". Unix seconds, or nullopt when malformed.
std::optional<int64_t> parse_since(std::string_view text, int64_t now_s);
// "2026-11-22T08:30:15Z".
std::string format_utc(int64_t unix_s);

// The spend table: one line per key (anonymous requests as "(anonymous)"), then a total line.
std::string format_usage_table(const std::vector<usage_summary>& rows);

}  // namespace rg::governance
