// Listening sockets a daemon inherits instead of binding: from systemd (socket activation) or
// from the daemon image it replaces (`maya load --restart`). Both use systemd's convention:
// LISTEN_PID = our pid, LISTEN_FDS = N, fds 3..3+N-1, LISTEN_FDNAMES = "name:name:…".
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "lib/common/result.h"

namespace maya::daemon {

struct InheritedSocket {
  int fd = -1;
  std::string name;  // LISTEN_FDNAMES entry ("" when not given)
  // "maya-*" names are sockets a previous maya image handed over: maya owns their files and
  // removes them at a clean stop. Other names (systemd's) belong to the service manager.
  bool owned_by_maya = false;
};

// Takes the inherited sockets (CLOEXEC set on each) and removes LISTEN_* from the
// environment so that children (volume targets) never see them. Empty when none were passed
// or LISTEN_PID names another process.
std::vector<InheritedSocket> take_inherited_sockets();

// The path a listening Unix socket is bound to, if it is one.
std::optional<std::filesystem::path> unix_socket_path(int fd);
// True when `fd` is a listening stream socket.
bool is_listening_socket(int fd);

// Moves `fds` (name, fd) to 3.. without CLOEXEC and sets LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES
// for an exec of this same process. On error nothing useful is left to exec with.
Result<void> prepare_handover(const std::vector<std::pair<std::string, int>>& fds);

}  // namespace maya::daemon
