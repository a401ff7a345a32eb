// A loopback port where a TCP connect neither succeeds nor fails: a listener with a backlog of 0
// holds one completed connection, which this takes, so the kernel drops every further SYN. For
// tests of connect deadlines (ringgate's own, a health check's) that must not depend on a route.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>

namespace rg::itest {

class black_hole {
 public:
  black_hole() {
    _listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(_listener, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(_listener, 0) != 0 ||
        ::getsockname(_listener, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      return;
    }
    _filler = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(_filler, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return;
    _port = ntohs(a.sin_port);
  }
  black_hole(const black_hole&) = delete;
  black_hole& operator=(const black_hole&) = delete;
  ~black_hole() {
    if (_filler >= 0) ::close(_filler);
    if (_listener >= 0) ::close(_listener);
  }

  bool ok() const { return _port != 0; }
  uint16_t port() const { return _port; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(_port) + "/v1"; }

 private:
  int _listener = -1;
  int _filler = -1;
  uint16_t _port = 0;
};

}  // namespace rg::itest
