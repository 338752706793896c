#include "lib/daemon/handover.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "lib/common/errno_text.h"
#include "lib/common/log.h"
#include "lib/daemon/listen_fds.h"

namespace maya::daemon {

int exec_handover(const config::Config& config, const Handover& h, bool log_to_file) {
  // The lock's descriptor out of the way of 3.., where the sockets go (same lock: a dup).
  int pidfile_fd = ::fcntl(h.pidfile_fd, F_DUPFD, 200);
  if (pidfile_fd >= 0) ::close(h.pidfile_fd);
  if (auto moved = prepare_handover(h.sockets); !moved || pidfile_fd < 0) {
    log::error("restart failed, the daemon stops: " +
               (moved ? std::string("cannot keep the pidfile lock") : moved.error().message));
    return 1;
  }
  ::setenv("MAYA_PIDFILE_FD", std::to_string(pidfile_fd).c_str(), 1);
  std::vector<std::string> args = {h.exe, "load", "--foreground", "--config", config.file.string()};
  if (log_to_file) args.push_back("--log-to-file");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::fflush(nullptr);
  ::execv(argv[0], argv.data());
  log::error("restart failed, the daemon stops: cannot run " + h.exe + ": " + errno_text(errno));
  return 1;
}

}  // namespace maya::daemon
