// Socket helpers for the target: address parsing ("ADDR:PORT", "[v6]:PORT"), listening,
// and I/O that handles EINTR, short reads/writes and peer resets. Gathered writes go out with
// sendmsg(MSG_NOSIGNAL) so a vanished peer never raises SIGPIPE.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "lib/common/fd.h"
#include "lib/common/result.h"

namespace maya::iscsi_target {

struct Endpoint {
  std::string host;  // numeric IPv4/IPv6 address, no brackets
  std::uint16_t port = 0;
};

Result<Endpoint> parse_endpoint(std::string_view text);
std::string format_endpoint(const Endpoint& e);  // brackets IPv6

// A listening TCP socket (SO_REUSEADDR; IPV6_V6ONLY off for "::").
Result<Fd> listen_tcp(const Endpoint& e, int backlog = 64);
// The local or remote address of a connected or bound socket.
Result<Endpoint> local_endpoint(int fd);
Result<Endpoint> peer_endpoint(int fd);

// Options for an accepted connection: TCP_NODELAY, keepalive, a send timeout.
void tune_connection(int fd, int send_timeout_seconds);

enum class WaitResult : std::uint8_t { kReadable, kTimeout, kError };
WaitResult wait_readable(int fd, int timeout_ms);

// One recv(): >0 bytes, 0 on orderly close; error on reset/failure (EINTR retried).
Result<std::size_t> read_some(int fd, std::span<std::uint8_t> buffer);
// Writes every byte of the iovecs (modified in place as it goes).
Result<void> write_all(int fd, std::span<iovec> iov);

}  // namespace maya::iscsi_target
