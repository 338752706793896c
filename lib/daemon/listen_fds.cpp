#include "lib/daemon/listen_fds.h"
#include "lib/common/errno_text.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace maya::daemon {
namespace {

constexpr int kFirstFd = 3;  // SD_LISTEN_FDS_START

std::vector<std::string> split_names(const char* text) {
  std::vector<std::string> names;
  if (text == nullptr) return names;
  std::string s(text);
  std::size_t at = 0;
  while (true) {
    auto colon = s.find(':', at);
    names.push_back(s.substr(at, colon == std::string::npos ? std::string::npos : colon - at));
    if (colon == std::string::npos) break;
    at = colon + 1;
  }
  return names;
}

}  // namespace

std::vector<InheritedSocket> take_inherited_sockets() {
  std::vector<InheritedSocket> sockets;
  const char* pid_text = std::getenv("LISTEN_PID");
  const char* count_text = std::getenv("LISTEN_FDS");
  const char* names_text = std::getenv("LISTEN_FDNAMES");
  if (pid_text != nullptr && count_text != nullptr &&
      std::strtol(pid_text, nullptr, 10) == static_cast<long>(::getpid())) {
    long count = std::strtol(count_text, nullptr, 10);
    auto names = split_names(names_text);
    for (long i = 0; i < count && i < 64; ++i) {
      int fd = kFirstFd + static_cast<int>(i);
      if (::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) continue;  // not open
      InheritedSocket s;
      s.fd = fd;
      if (static_cast<std::size_t>(i) < names.size()) s.name = names[static_cast<std::size_t>(i)];
      s.owned_by_maya = s.name.starts_with("maya-");
      sockets.push_back(std::move(s));
    }
  }
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_FDNAMES");
  return sockets;
}

std::optional<std::filesystem::path> unix_socket_path(int fd) {
  sockaddr_un addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return std::nullopt;
  if (addr.sun_family != AF_UNIX || len <= offsetof(sockaddr_un, sun_path) ||
      addr.sun_path[0] == '\0')
    return std::nullopt;
  return std::filesystem::path(
      std::string(addr.sun_path, ::strnlen(addr.sun_path, sizeof addr.sun_path)));
}

bool is_listening_socket(int fd) {
  int listening = 0, type = 0;
  socklen_t len = sizeof listening;
  if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0) return false;
  len = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return false;
  return listening != 0 && type == SOCK_STREAM;
}

Result<void> prepare_handover(const std::vector<std::pair<std::string, int>>& fds) {
  // First out of the way (above any target number), then into place: dup2 onto 3.. may
  // clobber descriptors that die at exec anyway (all others are CLOEXEC).
  std::vector<int> high;
  for (const auto& [name, fd] : fds) {
    int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, kFirstFd + 64);
    if (copy < 0) return fail("cannot duplicate the " + name + " socket: " + errno_text(errno));
    high.push_back(copy);
  }
  std::string names;
  for (std::size_t i = 0; i < high.size(); ++i) {
    int target = kFirstFd + static_cast<int>(i);
    if (::dup2(high[i], target) < 0)  // the copy at `target` has no CLOEXEC
      return fail(std::string("cannot move a listening socket to its place: ") + errno_text(errno));
    ::close(high[i]);
    names += (i ? ":" : "") + fds[i].first;
  }
  ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
  ::setenv("LISTEN_FDS", std::to_string(fds.size()).c_str(), 1);
  ::setenv("LISTEN_FDNAMES", names.c_str(), 1);
  return {};
}

}  // namespace maya::daemon
