// sd_notify protocol (see systemd.hpp).
#include "systemd.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

namespace rg {

bool sd_notify_send(std::string_view state) noexcept {
  const char* path = getenv("NOTIFY_SOCKET");
  if (!path || !*path) return false;
  size_t len = strlen(path);
  sockaddr_un addr{};
  if (len >= sizeof(addr.sun_path)) return false;
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, path, len);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  socklen_t alen = socklen_t(offsetof(sockaddr_un, sun_path) + len);
  ssize_t n = sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                     reinterpret_cast<sockaddr*>(&addr), alen);
  close(fd);
  return n == ssize_t(state.size());
}

uint64_t sd_watchdog_usec() noexcept {
  const char* usec = getenv("WATCHDOG_USEC");
  if (!usec) return 0;
  if (const char* pid = getenv("WATCHDOG_PID")) {
    if (strtoll(pid, nullptr, 10) != getpid()) return 0;
  }
  return strtoull(usec, nullptr, 10);
}

}  // namespace rg
