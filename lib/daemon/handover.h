// A restart by exec (`maya load --restart`): the running daemon hands its listening sockets and its
// pidfile lock to a new image of maya in the same process, so that no client is refused and no
// second daemon slips in meanwhile.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "lib/config/config.h"

namespace maya::daemon {

// What a daemon that hands over leaves for the exec: its listening sockets (name, fd), the pidfile
// lock, the binary to run.
struct Handover {
  std::vector<std::pair<std::string, int>> sockets;
  int pidfile_fd = -1;
  std::string exe;
};

// Replaces this process by `h.exe load --foreground`, the sockets and the pidfile lock inherited.
// Returns (1) only on failure.
int exec_handover(const config::Config& config, const Handover& h, bool log_to_file);

}  // namespace maya::daemon
