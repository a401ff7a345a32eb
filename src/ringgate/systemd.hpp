// sd_notify without libsystemd: one datagram to $NOTIFY_SOCKET ("@name" = abstract namespace).
// A no-op when the variable is unset, so the binary behaves the same outside systemd.
#pragma once

#include <cstdint>
#include <string_view>

namespace rg {

bool sd_notify_send(std::string_view state) noexcept;
// WATCHDOG_USEC from the environment (honouring WATCHDOG_PID), or 0 when no watchdog is set.
uint64_t sd_watchdog_usec() noexcept;

}  // namespace rg
