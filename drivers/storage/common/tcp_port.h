// Ports of this host's TCP listeners: what the jiva driver's targets and the pools' shares
// pick their ports with.
#pragma once

#include <cstdint>
#include <string>

namespace maya::drivers {

// Whether a TCP listener could bind address:port right now (IPv4, or IPv6 when it has a ':').
bool tcp_bindable(const std::string& address, std::uint16_t port);

}  // namespace maya::drivers

namespace maya::drivers {

// Whether something accepts TCP connections on address:port now (0.0.0.0 and :: are tried as
// the loopback address); a connect bounded by `timeout_ms`.
bool tcp_listening(const std::string& address, std::uint16_t port, int timeout_ms = 1000);

}  // namespace maya::drivers
