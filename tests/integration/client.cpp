// Raw HTTP/1.1 test client: sends exact bytes and parses exact responses, so tests can speak
// malformed HTTP. Every read has a deadline; a peer close or reset is reported, never thrown.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "harness.hpp"

namespace rg::itest {
namespace {

enum class parse_state { need_more, ok, bad };

int remaining_ms(steady::time_point deadline) {
  auto left = std::chrono::duration_cast<ms>(deadline - steady::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// Printable excerpt of raw bytes for failure messages.
std::string excerpt(std::string_view bytes) {
  std::string out;
  for (char c : bytes.substr(0, 300)) {
    if (c == '\r')
      out += "\\r";
    else if (c == '\n')
      out += "\\n";
    else if (c >= 0x20 && c < 0x7f)
      out += c;
    else
      out += '?';
  }
  if (bytes.size() > 300) out += "...";
  return "\"" + out + "\"";
}

// Parses "HTTP/1.1 200 OK" and the header lines of a complete head (without the final CRLF).
bool parse_head(std::string_view head, http_response& out) {
  size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  if (!line.starts_with("HTTP/1.") || line.size() < 12 || line[8] != ' ') return false;
  out.version = std::string(line.substr(0, 8));
  auto code = line.substr(9, 3);
  if (std::from_chars(code.data(), code.data() + 3, out.status).ec != std::errc{}) return false;
  out.reason = std::string(trim(line.size() > 13 ? line.substr(13) : ""));
  std::string_view rest = eol == std::string_view::npos ? "" : head.substr(eol + 2);
  while (!rest.empty()) {
    size_t end = rest.find("\r\n");
    std::string_view h = rest.substr(0, end);
    size_t colon = h.find(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    out.headers.emplace_back(std::string(h.substr(0, colon)),
                             std::string(trim(h.substr(colon + 1))));
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 2);
  }
  return true;
}

// Decodes a chunked body starting at buf[pos]. Sets `end` to one past its last byte when complete.
parse_state parse_chunked(std::string_view buf, size_t pos, std::string& body, size_t& end,
                          std::string& why) {
  for (;;) {
    size_t eol = buf.find("\r\n", pos);
    if (eol == std::string_view::npos) return parse_state::need_more;
    std::string_view size_line = buf.substr(pos, eol - pos);
    size_line = size_line.substr(0, size_line.find(';'));
    uint64_t size = 0;
    auto [p, ec] = std::from_chars(size_line.data(), size_line.data() + size_line.size(), size, 16);
    if (ec != std::errc{} || p != size_line.data() + size_line.size()) {
      why = "bad chunk size line " + excerpt(size_line);
      return parse_state::bad;
    }
    pos = eol + 2;
    if (size == 0) break;
    if (buf.size() < pos + size + 2) return parse_state::need_more;
    if (buf.substr(pos + size, 2) != "\r\n") {
      why = "chunk not followed by CRLF";
      return parse_state::bad;
    }
    body.append(buf.substr(pos, size));
    pos += size + 2;
  }
  for (;;) {  // trailer section, ended by an empty line
    size_t eol = buf.find("\r\n", pos);
    if (eol == std::string_view::npos) return parse_state::need_more;
    bool empty = eol == pos;
    pos = eol + 2;
    if (empty) break;
  }
  end = pos;
  return parse_state::ok;
}

// Parses one response from the front of `buf`; `eof` means no more bytes will arrive.
parse_state parse_response(std::string_view buf, bool eof, http_response& out, size_t& consumed,
                           std::string& why) {
  size_t head_end = buf.find("\r\n\r\n");
  if (head_end == std::string_view::npos) {
    if (eof) why = "connection closed before a complete response head; got " + excerpt(buf);
    return eof ? parse_state::bad : parse_state::need_more;
  }
  out = {};
  if (!parse_head(buf.substr(0, head_end), out)) {
    why = "malformed response head " + excerpt(buf.substr(0, head_end));
    return parse_state::bad;
  }
  size_t body_start = head_end + 4;
  if (out.status / 100 == 1 || out.status == 204 || out.status == 304) {
    consumed = body_start;
    return parse_state::ok;
  }
  if (out.header("transfer-encoding").find("chunked") != std::string::npos) {
    auto st = parse_chunked(buf, body_start, out.body, consumed, why);
    if (st == parse_state::need_more && eof) {
      why = "connection closed inside a chunked body";
      return parse_state::bad;
    }
    return st;
  }
  if (out.has_header("content-length")) {
    std::string cl = out.header("content-length");
    uint64_t n = 0;
    auto [p, ec] = std::from_chars(cl.data(), cl.data() + cl.size(), n);
    if (ec != std::errc{} || p != cl.data() + cl.size()) {
      why = "bad Content-Length " + cl;
      return parse_state::bad;
    }
    if (buf.size() - body_start < n) {
      if (eof) why = "connection closed before the body's " + cl + " bytes arrived";
      return eof ? parse_state::bad : parse_state::need_more;
    }
    out.body = std::string(buf.substr(body_start, n));
    consumed = body_start + n;
    return parse_state::ok;
  }
  if (!eof) return parse_state::need_more;  // body delimited by close
  out.body = std::string(buf.substr(body_start));
  consumed = buf.size();
  return parse_state::ok;
}

}  // namespace

// ---- http_response ----

std::string http_response::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return v;
  }
  return "";
}

bool http_response::has_header(std::string_view name) const {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& kv) { return iequals(kv.first, name); });
}

bool http_response::connection_close() const {
  for (const auto& [k, v] : headers) {
    if (!iequals(k, "connection")) continue;
    std::string_view rest = v;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      if (iequals(trim(rest.substr(0, comma)), "close")) return true;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return false;
}

// ---- client ----

client::~client() {
  close();
}

client::client(client&& other) noexcept
    : _fd(std::exchange(other._fd, -1)),
      _buf(std::move(other._buf)),
      _eof(other._eof),
      _error(std::move(other._error)) {}

client& client::operator=(client&& other) noexcept {
  if (this != &other) {
    close();
    _fd = std::exchange(other._fd, -1);
    _buf = std::move(other._buf);
    _eof = other._eof;
    _error = std::move(other._error);
  }
  return *this;
}

void client::close() {
  if (_fd >= 0) ::close(_fd);
  _fd = -1;
}

bool client::connect(uint16_t port, const connect_options& opts) {
  close();
  _buf.clear();
  _eof = false;
  _connect_errno = 0;
  _fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (_fd < 0) return _error = std::string("socket: ") + std::strerror(errno), false;
  if (opts.rcvbuf_bytes > 0) {
    ::setsockopt(_fd, SOL_SOCKET, SO_RCVBUF, &opts.rcvbuf_bytes, sizeof opts.rcvbuf_bytes);
  }
  if (opts.sndbuf_bytes > 0) {
    ::setsockopt(_fd, SOL_SOCKET, SO_SNDBUF, &opts.sndbuf_bytes, sizeof opts.sndbuf_bytes);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    _connect_errno = errno;
    _error = "connect 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(errno);
    close();
    return false;
  }
  int one = 1;
  ::setsockopt(_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::fcntl(_fd, F_SETFL, ::fcntl(_fd, F_GETFL) | O_NONBLOCK);
  return true;
}

bool client::send(std::string_view bytes) {
  auto deadline = steady::now() + 5s;
  while (!bytes.empty()) {
    ssize_t n = ::send(_fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{_fd, POLLOUT, 0};
      if (::poll(&p, 1, remaining_ms(deadline)) > 0) continue;
      _error = "send timed out (peer not reading)";
      return false;
    }
    _error = std::string("send: ") + std::strerror(errno);
    return false;
  }
  return true;
}

client::fill_result client::fill(steady::time_point deadline) {
  if (_eof) return fill_result::eof;
  for (;;) {
    pollfd p{_fd, POLLIN, 0};
    int r = ::poll(&p, 1, remaining_ms(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) return fill_result::timeout;
    if (r < 0) return _error = std::string("poll: ") + std::strerror(errno), fill_result::error;
    char chunk[16384];
    ssize_t n = ::recv(_fd, chunk, sizeof chunk, 0);
    if (n > 0) {
      _buf.append(chunk, static_cast<size_t>(n));
      return fill_result::data;
    }
    if (n == 0 || errno == ECONNRESET) {
      _eof = true;
      if (n < 0) _error = "connection reset by peer";
      return fill_result::eof;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
    _error = std::string("recv: ") + std::strerror(errno);
    return fill_result::error;
  }
}

std::optional<http_response> client::read_response(ms timeout) {
  auto deadline = steady::now() + timeout;
  for (;;) {
    http_response r;
    size_t consumed = 0;
    std::string why;
    switch (parse_response(_buf, _eof, r, consumed, why)) {
      case parse_state::ok:
        _buf.erase(0, consumed);
        return r;
      case parse_state::bad:
        _error = why;
        return std::nullopt;
      case parse_state::need_more:
        break;
    }
    switch (fill(deadline)) {
      case fill_result::data:
      case fill_result::eof:
        break;  // parse again; with _eof set it either completes or reports why not
      case fill_result::timeout:
        _error = "no complete response within " + std::to_string(timeout.count()) +
                 " ms; buffered " + excerpt(_buf);
        return std::nullopt;
      case fill_result::error:
        return std::nullopt;
    }
  }
}

bool client::wait_closed(ms timeout) {
  auto deadline = steady::now() + timeout;
  for (;;) {
    switch (fill(deadline)) {
      case fill_result::data:
        continue;
      case fill_result::eof:
        return true;
      case fill_result::timeout:
        _error = "connection still open after " + std::to_string(timeout.count()) + " ms";
        return false;
      case fill_result::error:
        return false;
    }
  }
}

bool client::readable(ms timeout) {
  if (_eof || !_buf.empty()) return true;
  pollfd p{_fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) > 0;
}

bool client::wait_hangup(ms timeout) {
  if (_eof) return true;
  auto deadline = steady::now() + timeout;
  for (;;) {
    pollfd p{_fd, POLLRDHUP, 0};
    int r = ::poll(&p, 1, remaining_ms(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r > 0) return true;  // only POLLRDHUP, POLLHUP or POLLERR can be reported
    _error = r == 0 ? "connection not closed within " + std::to_string(timeout.count()) + " ms"
                    : std::string("poll: ") + std::strerror(errno);
    return false;
  }
}

std::string get_request(std::string_view path, std::string_view extra_headers) {
  std::string r = "GET ";
  r += path;
  r += " HTTP/1.1\r\nHost: ringgate.test\r\n";
  r += extra_headers;
  r += "\r\n";
  return r;
}

std::optional<http_response> http_get(uint16_t port, std::string_view path, ms timeout) {
  client c;
  if (!c.connect(port) || !c.send(get_request(path))) return std::nullopt;
  return c.read_response(timeout);
}

}  // namespace rg::itest
