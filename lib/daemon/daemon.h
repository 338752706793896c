// The maya daemon: one process per host (per config), started by `maya load`. It serves the
// control API, the Docker plugin and the iSCSI discovery portal on one Asio loop, over the host's
// volume service (daemon_server.h).
#pragma once

#include "lib/config/config.h"

namespace maya::daemon {

struct Options {
  int ready_fd = -1;         // written "ready\n" once serving, or the start-up error; then closed
  bool log_to_file = false;  // detached: log to <state>/maya.log instead of stderr
};

// Runs until SIGTERM/SIGINT or a shutdown request; returns the process exit code.
int run(config::Config config, const Options& options);

}  // namespace maya::daemon
