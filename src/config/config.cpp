// Public entry points of the config module: load a file or string, parse listen addresses and log
// enums, read the process environment. Invariant: no exception escapes; every failure is a
// load_error whose lines each name the file, the line and the key.
#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>

#include "detail.hpp"

namespace rg::config {
namespace detail {

void diagnostics::note(const std::string& path, uint32_t line) {
  _lines.insert_or_assign(path, line);
}

// Drops the last component of a key path: "a.b[2]" → "a.b", "a.b" → "a", "a" → "".
static std::string_view parent_of(std::string_view path) {
  const size_t cut = path.find_last_of(".[");
  return cut == std::string_view::npos ? std::string_view() : path.substr(0, cut);
}

uint32_t diagnostics::line_of(std::string_view path) const {
  for (std::string_view p = path; !p.empty(); p = parent_of(p)) {
    if (auto it = _lines.find(p); it != _lines.end()) return it->second;
  }
  return 1;
}

bool diagnostics::failed(std::string_view path) const {
  for (std::string_view p = path; !p.empty(); p = parent_of(p)) {
    if (_failed.contains(p)) return true;
  }
  return false;
}

void diagnostics::error(uint32_t line, std::string_view path, std::string_view message) {
  if (line == 0) line = line_of(parent_of(path));
  _failed.emplace(path);
  std::string text = _source + ":" + std::to_string(line) + ": ";
  text += path;
  text += ": ";
  text += message;
  _errors.emplace_back(line, std::move(text));
}

std::string diagnostics::render() const {
  std::vector<std::pair<uint32_t, std::string>> sorted = _errors;
  std::ranges::stable_sort(sorted, {}, &std::pair<uint32_t, std::string>::first);
  std::string out;
  for (const auto& [line, text] : sorted) {
    if (!out.empty()) out += '\n';
    out += text;
  }
  return out;
}

}  // namespace detail

env_lookup process_env() {
  return [](std::string_view name) -> std::optional<std::string> {
    const std::string key(name);
    if (const char* value = std::getenv(key.c_str())) return std::string(value);
    return std::nullopt;
  };
}

std::expected<config, load_error> load_string(std::string_view toml_text,
                                              std::string_view source_name, const env_lookup& env) {
  const std::string source(source_name);
  try {
    config cfg;
    cfg.source = source;
    detail::diagnostics diag(source);
    if (auto parsed = detail::decode(toml_text, source, env, diag, cfg); !parsed) {
      return std::unexpected(load_error{parsed.error()});
    }
    detail::validate(cfg, diag);
    if (!diag.empty()) return std::unexpected(load_error{diag.render()});
    return cfg;
  } catch (const std::exception& e) {
    return std::unexpected(load_error{source + ": cannot load: " + e.what()});
  } catch (...) {
    return std::unexpected(load_error{source + ": cannot load: unknown error"});
  }
}

static std::expected<std::string, std::string> read_all(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::unexpected(std::string(std::strerror(errno)));
  std::string text;
  char buf[16 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      text.append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      const int err = errno;
      ::close(fd);
      return std::unexpected(std::string(std::strerror(err)));
    }
  }
  ::close(fd);
  return text;
}

std::expected<config, load_error> load_file(const std::string& path, const env_lookup& env) {
  std::expected<std::string, std::string> text;
  try {
    text = read_all(path);
  } catch (const std::exception& e) {
    text = std::unexpected(std::string(e.what()));
  }
  if (!text) return std::unexpected(load_error{path + ": cannot read: " + text.error()});
  return load_string(*text, path, env);
}

namespace {

// One IPv4 octet: 1–3 digits, no leading zero (it would read as octal elsewhere), at most 255.
bool parse_octet(std::string_view s) {
  if (s.empty() || s.size() > 3 || (s.size() > 1 && s[0] == '0')) return false;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  return v <= 255;
}

bool is_ipv4(std::string_view s) {
  for (int i = 0; i < 4; ++i) {
    const size_t dot = s.find('.');
    const bool last = i == 3;
    if (last != (dot == std::string_view::npos)) return false;
    if (!parse_octet(s.substr(0, dot))) return false;
    if (!last) s.remove_prefix(dot + 1);
  }
  return true;
}

bool is_ipv6(std::string_view s) {
  if (s.empty() || s.size() >= 46) return false;
  char buf[64];
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  unsigned char addr[16];
  return ::inet_pton(AF_INET6, buf, addr) == 1;
}

std::expected<uint16_t, std::string> parse_port(std::string_view s) {
  if (s.empty()) return std::unexpected(std::string("missing port (expected host:port)"));
  if (s.size() > 5 || !std::ranges::all_of(s, [](char c) { return c >= '0' && c <= '9'; })) {
    return std::unexpected("invalid port \"" + std::string(s) + "\" (decimal 0..65535)");
  }
  unsigned v = 0;
  for (char c : s) v = v * 10 + static_cast<unsigned>(c - '0');
  if (v > 65535) return std::unexpected("port " + std::string(s) + " out of range (0..65535)");
  return static_cast<uint16_t>(v);
}

}  // namespace

std::expected<listen_address, std::string> parse_listen(std::string_view text) {
  listen_address out;
  std::string_view port;
  if (text.starts_with('[')) {
    const size_t close = text.find(']');
    if (close == std::string_view::npos)
      return std::unexpected(std::string("missing ']' after IPv6 address"));
    const std::string_view host = text.substr(1, close - 1);
    if (!is_ipv6(host))
      return std::unexpected("invalid IPv6 address \"" + std::string(host) + "\"");
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      return std::unexpected(std::string("missing port (expected [address]:port)"));
    }
    out.host = host;
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos)
      return std::unexpected(std::string("missing port (expected host:port)"));
    const std::string_view host = text.substr(0, colon);
    if (host.empty()) return std::unexpected(std::string("missing host (expected host:port)"));
    if (host.find(':') != std::string_view::npos) {
      return std::unexpected(std::string("IPv6 address must be in brackets: [address]:port"));
    }
    if (host == "localhost")
      out.host = "127.0.0.1";
    else if (is_ipv4(host))
      out.host = host;
    else
      return std::unexpected("invalid host \"" + std::string(host) +
                             "\" (IPv4 address, [IPv6] or localhost)");
    port = text.substr(colon + 1);
  }
  auto p = parse_port(port);
  if (!p) return std::unexpected(p.error());
  out.port = *p;
  return out;
}

std::optional<log_level> parse_log_level(std::string_view text) {
  if (text == "debug") return log_level::debug;
  if (text == "info") return log_level::info;
  if (text == "warn") return log_level::warn;
  if (text == "error") return log_level::error;
  return std::nullopt;
}

std::optional<log_format> parse_log_format(std::string_view text) {
  if (text == "json") return log_format::json;
  if (text == "text") return log_format::text;
  return std::nullopt;
}

}  // namespace rg::config
