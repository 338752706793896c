#include "lib/http/unix_path.h"
#include "lib/common/errno_text.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace maya::http {

Result<void> check_socket_path(const std::filesystem::path& path) {
  constexpr std::size_t kMax = sizeof(sockaddr_un::sun_path) - 1;
  if (path.native().size() > kMax) {
    return fail("socket path " + path.string() + " is " + std::to_string(path.native().size()) +
                " characters long; Unix sockets allow at most " + std::to_string(kMax));
  }
  return {};
}

Result<void> remove_stale_socket(const std::filesystem::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return {};
  if (!S_ISSOCK(st.st_mode))
    return fail(path.string() + " exists and is not a socket; not replacing it");
  // A socket someone still accepts on belongs to a live process: leave it alone.
  int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe >= 0) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    bool live = ::connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(probe);
    if (live) return fail(path.string() + " is in use by another running process");
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return fail_errno("cannot remove stale socket " + path.string());
  return {};
}

}  // namespace maya::http
