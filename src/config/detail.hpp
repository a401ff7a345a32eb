// Internals shared by the config module's files: an error collector keyed by TOML key path, ${ENV}
// interpolation, the TOML decoder and the cross-field validator. Every error names a line and a
// key.
#pragma once

#include <ringgate/config/config.hpp>

#include <cstdint>
#include <expected>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rg::config::detail {

// Collects "FILE:LINE: KEY: message" lines. Key paths look like "providers[0].tls.ca_file"
// (array indices 0-based); the line of every decoded node is remembered under its path so that
// later checks (duplicates, references) can point at the right line.
class diagnostics {
 public:
  explicit diagnostics(std::string source) : _source(std::move(source)) {}

  void note(const std::string& path, uint32_t line);
  // Line of `path`, or of its nearest noted ancestor; 1 when nothing is known.
  uint32_t line_of(std::string_view path) const;
  void error(uint32_t line, std::string_view path, std::string_view message);
  void error_at(std::string_view path, std::string_view message) {
    error(line_of(path), path, message);
  }
  // True when an error was already reported for this path or an ancestor of it (so that one
  // mistake does not also produce derived errors further down).
  bool failed(std::string_view path) const;
  bool empty() const { return _errors.empty(); }
  // All errors, one per line, ordered by line (stable for equal lines), no trailing newline.
  std::string render() const;

 private:
  std::string _source;
  std::map<std::string, uint32_t, std::less<>> _lines;
  std::set<std::string, std::less<>> _failed;
  std::vector<std::pair<uint32_t, std::string>> _errors;
};

// Replaces ${NAME} and ${NAME:-default} in `text`. The error text names the variable.
std::expected<std::string, std::string> interpolate(std::string_view text, const env_lookup& env);

// Parses TOML text and decodes it into `out`, reporting unknown keys, wrong types and out-of-range
// values into `diag`. Returns the one-line "FILE:LINE:COL: description" on a TOML syntax error.
std::expected<void, std::string> decode(std::string_view text, const std::string& source,
                                        const env_lookup& env, diagnostics& diag, config& out);

// Cross-field checks on a decoded config: enums, addresses, names, references, hashes.
void validate(const config& cfg, diagnostics& diag);

}  // namespace rg::config::detail
