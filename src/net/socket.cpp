// Socket helpers (see socket.hpp).
#include <ringgate/net/socket.hpp>

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace rg::net {

uint16_t address::port() const noexcept {
  if (storage.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  if (storage.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  return 0;
}

void address::set_port(uint16_t port) noexcept {
  if (storage.ss_family == AF_INET) reinterpret_cast<sockaddr_in*>(&storage)->sin_port = htons(port);
  if (storage.ss_family == AF_INET6) reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port = htons(port);
}

std::expected<address, std::string> make_address(std::string_view host, uint16_t port) {
  address a;
  std::string h(host);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
  if (inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    a.len = sizeof(sockaddr_in);
    return a;
  }
  a = address{};
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
  if (inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    a.len = sizeof(sockaddr_in6);
    return a;
  }
  return std::unexpected("not a numeric IP address: " + h);
}

size_t format_address_to(const sockaddr* sa, char (&out)[address_text_max]) noexcept {
  char* p = out;
  uint16_t port = 0;
  if (sa->sa_family == AF_INET) {
    auto* v4 = reinterpret_cast<const sockaddr_in*>(sa);
    const auto* octet = reinterpret_cast<const unsigned char*>(&v4->sin_addr);
    for (int i = 0; i < 4; ++i) {
      p = std::to_chars(p, p + 3, unsigned(octet[i])).ptr;
      *p++ = i < 3 ? '.' : ':';
    }
    port = ntohs(v4->sin_port);
  } else if (sa->sa_family == AF_INET6) {
    auto* v6 = reinterpret_cast<const sockaddr_in6*>(sa);
    *p++ = '[';
    if (!inet_ntop(AF_INET6, &v6->sin6_addr, p, INET6_ADDRSTRLEN)) return 0;
    p += std::strlen(p);
    *p++ = ']';
    *p++ = ':';
    port = ntohs(v6->sin6_port);
  } else {
    return 0;
  }
  return size_t(std::to_chars(p, p + 5, unsigned(port)).ptr - out);
}

std::string format_address(const sockaddr* sa) {
  char buf[address_text_max];
  size_t n = format_address_to(sa, buf);
  return n ? std::string(buf, n) : std::string("unknown");
}

std::expected<int, std::string> listen_on(const address& addr, const listener_options& opts) {
  int fd = socket(addr.storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::unexpected(std::string("socket: ") + strerror(errno));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (opts.reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
    int e = errno;
    close(fd);
    return std::unexpected(std::string("SO_REUSEPORT: ") + strerror(e));
  }
  if (bind(fd, addr.sa(), addr.len) < 0) {
    int e = errno;
    close(fd);
    return std::unexpected("bind " + format_address(addr.sa()) + ": " + strerror(e));
  }
  if (listen(fd, opts.backlog) < 0) {
    int e = errno;
    close(fd);
    return std::unexpected("listen " + format_address(addr.sa()) + ": " + strerror(e));
  }
  return fd;
}

std::expected<address, std::string> local_address(int fd) {
  address a;
  a.len = sizeof(a.storage);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&a.storage), &a.len) < 0) {
    return std::unexpected(std::string("getsockname: ") + strerror(errno));
  }
  return a;
}

void set_nodelay(int fd) noexcept {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

}  // namespace rg::net
