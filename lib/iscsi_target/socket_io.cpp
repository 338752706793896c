#include "lib/iscsi_target/socket_io.h"
#include "lib/common/errno_text.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>

namespace maya::iscsi_target {
namespace {

Result<Endpoint> to_endpoint(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = {};
  Endpoint e;
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    e.port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    e.port = ntohs(a->sin6_port);
    // Show IPv4-mapped addresses as plain IPv4.
    if (std::strncmp(host, "::ffff:", 7) == 0 && std::strchr(host + 7, '.') != nullptr) {
      std::memmove(host, host + 7, std::strlen(host + 7) + 1);
    }
  } else {
    return fail("unsupported address family");
  }
  e.host = host;
  return e;
}

}  // namespace

Result<Endpoint> parse_endpoint(std::string_view text) {
  Endpoint e;
  std::string_view port;
  if (text.starts_with("[")) {
    auto close = text.find("]:");
    if (close == std::string_view::npos) {
      return fail("listen address \"" + std::string(text) + "\" should be [IPv6]:PORT");
    }
    e.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) {
      return fail("listen address \"" + std::string(text) + "\" should be ADDR:PORT");
    }
    e.host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
  }
  unsigned value = 0;
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || p != port.data() + port.size() || value > 65535) {
    return fail("listen address \"" + std::string(text) + "\" has a bad port");
  }
  e.port = static_cast<std::uint16_t>(value);
  in6_addr a6;
  in_addr a4;
  if (inet_pton(AF_INET, e.host.c_str(), &a4) != 1 &&
      inet_pton(AF_INET6, e.host.c_str(), &a6) != 1) {
    return fail("listen address \"" + std::string(text) + "\" is not a numeric IP address");
  }
  return e;
}

std::string format_endpoint(const Endpoint& e) {
  if (e.host.find(':') != std::string::npos) {
    return "[" + e.host + "]:" + std::to_string(e.port);
  }
  return e.host + ":" + std::to_string(e.port);
}

Result<Fd> listen_tcp(const Endpoint& e, int backlog) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = AF_INET;
  auto* a4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, e.host.c_str(), &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(e.port);
    len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, e.host.c_str(), &a6->sin6_addr) == 1) {
    family = AF_INET6;
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(e.port);
    len = sizeof(sockaddr_in6);
  } else {
    return fail("\"" + e.host + "\" is not a numeric IP address");
  }
  Fd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return fail("socket: " + errno_text());
  int one = 1, zero = 0;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (family == AF_INET6) ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    return fail_errno("cannot listen on " + format_endpoint(e));
  }
  if (::listen(fd.get(), backlog) != 0) return fail("listen: " + errno_text());
  return fd;
}

Result<Endpoint> local_endpoint(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return fail("getsockname: " + errno_text());
  }
  return to_endpoint(ss);
}

Result<Endpoint> peer_endpoint(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return fail("getpeername: " + errno_text());
  }
  return to_endpoint(ss);
}

void tune_connection(int fd, int send_timeout_seconds) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  timeval tv{send_timeout_seconds, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

WaitResult wait_readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  for (;;) {
    int r = ::poll(&p, 1, timeout_ms);
    if (r > 0) return WaitResult::kReadable;
    if (r == 0) return WaitResult::kTimeout;
    if (errno != EINTR) return WaitResult::kError;
  }
}

Result<std::size_t> read_some(int fd, std::span<std::uint8_t> buffer) {
  for (;;) {
    ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EINTR) continue;
    return fail("recv: " + errno_text());
  }
}

Result<void> write_all(int fd, std::span<iovec> iov) {
  std::size_t first = 0;
  while (first < iov.size()) {
    msghdr msg{};
    msg.msg_iov = iov.data() + first;
    msg.msg_iovlen = std::min<std::size_t>(iov.size() - first, IOV_MAX);
    ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return fail("send timed out");
      return fail("send: " + errno_text());
    }
    auto left = static_cast<std::size_t>(n);
    while (first < iov.size() && left >= iov[first].iov_len) {
      left -= iov[first].iov_len;
      ++first;
    }
    if (left > 0) {
      iov[first].iov_base = static_cast<std::uint8_t*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return {};
}

}  // namespace maya::iscsi_target
