// The daemon as a process: its directories and log file, the pidfile lock (taken, or kept across a
// restart by exec), the Daemon (daemon_server.h) started and served, the `maya load` that spawned
// it told how the start went, and the exec when it hands over to a new image.
#include "lib/daemon/daemon.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>

#include "lib/common/files.h"
#include "lib/common/log.h"
#include "lib/daemon/daemon_server.h"
#include "lib/daemon/handover.h"
#include "lib/daemon/listen_fds.h"
#include "lib/iscsi_target/target.h"
#include "lib/process/pidfile.h"

namespace maya::daemon {
namespace {

namespace fs = std::filesystem;

// Tells the `maya load` that spawned us how the start went, then lets it go.
class ReadyPipe {
 public:
  explicit ReadyPipe(int fd) : fd_(fd) {}
  ~ReadyPipe() { send(""); }
  void send(const std::string& text) {
    if (fd_ < 0) return;
    if (!text.empty()) {
      ssize_t written = ::write(fd_, text.data(), text.size());
      (void)written;  // the reader may be gone; the daemon's log has the message too
    }
    ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// Detached daemons log to <state>/maya.log; stderr goes there too so nothing is lost.
Result<void> open_log_file(const fs::path& file) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return fail("cannot open log file " + file.string());
  ::dup2(fd, STDERR_FILENO);
  ::close(fd);
  log::set_sink(stderr);
  return {};
}

// The run and state directories, the descriptor limit, the log file.
Result<void> prepare_host(const config::Config& config, bool log_to_file) {
  // The discovery portal's connections must never take the descriptors the daemon needs; the
  // targets it starts inherit the raised limit.
  if (auto raised = iscsi_target::raise_descriptor_limit(); !raised)
    log::warn(raised.error().message);
  for (const fs::path& dir : {config.run_dir, config.state_dir})
    MAYA_TRY_VOID(make_dirs(dir, 0755));
  if (log_to_file) MAYA_TRY_VOID(open_log_file(config.log_file()));
  return {};
}

// One daemon per config. After a restart the lock comes along (held throughout, so no second daemon
// slips in).
Result<PidFile> lock_pidfile(const config::Config& config) {
  const char* kept = std::getenv("MAYA_PIDFILE_FD");
  if (kept == nullptr) return PidFile::acquire(config.pidfile());
  int fd = std::atoi(kept);
  ::unsetenv("MAYA_PIDFILE_FD");
  return PidFile::adopt(config.pidfile(), fd);
}

}  // namespace

int run(config::Config config, const Options& options) {
  ReadyPipe ready(options.ready_fd);
  auto start_error = [&](const std::string& message) {
    log::error(message);
    ready.send("error: " + message + "\n");
    return 1;
  };
  log::set_level(config.log_level);
  if (auto prepared = prepare_host(config, options.log_to_file); !prepared)
    return start_error(prepared.error().message);
  std::vector<InheritedSocket> inherited = take_inherited_sockets();
  Result<PidFile> pidfile = lock_pidfile(config);
  if (!pidfile) {
    for (const InheritedSocket& s : inherited) ::close(s.fd);
    return start_error(pidfile.error().message);
  }

  Result<void> started;
  std::optional<Handover> handover;
  const config::Config kept = config;
  {
    Daemon daemon(std::move(config), std::move(*pidfile), options.log_to_file,
                  std::move(inherited));
    started = daemon.start();
    if (started) {
      ready.send("ready\n");
      handover = daemon.run();
    }
  }
  if (started) return handover ? exec_handover(kept, *handover, options.log_to_file) : 0;
  // Reported once the half-started daemon is gone (pidfile, sockets, threads), so that `maya load`
  // returns to a clean slate.
  return start_error(started.error().message);
}

}  // namespace maya::daemon
