// Socket helpers: address parsing and formatting, listeners (SO_REUSEPORT, one per shard), and the
// options every connection gets. Startup errors come back as text naming the cause.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace rg::net {

struct address {
  sockaddr_storage storage{};
  socklen_t len = 0;
  const sockaddr* sa() const noexcept { return reinterpret_cast<const sockaddr*>(&storage); }
  uint16_t port() const noexcept;
  void set_port(uint16_t port) noexcept;
};

// host is a numeric IPv4/IPv6 literal (brackets already stripped).
std::expected<address, std::string> make_address(std::string_view host, uint16_t port);
std::string format_address(const sockaddr* sa);
// The same text written into `out` without allocating ("1.2.3.4:5678", "[2001:db8::1]:5678");
// returns its length, 0 for a family other than IPv4 and IPv6.
inline constexpr size_t address_text_max = 1 + INET6_ADDRSTRLEN + 7;  // [ addr NUL ]:65535
size_t format_address_to(const sockaddr* sa, char (&out)[address_text_max]) noexcept;

struct listener_options {
  int backlog = 4096;
  bool reuse_port = true;
};

// Creates, binds and listens. Returns the fd or "bind 127.0.0.1:80: Permission denied".
std::expected<int, std::string> listen_on(const address& addr, const listener_options& opts);
std::expected<address, std::string> local_address(int fd);

// TCP_NODELAY on an accepted or connected socket.
void set_nodelay(int fd) noexcept;

}  // namespace rg::net
