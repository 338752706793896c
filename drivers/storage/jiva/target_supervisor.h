// TargetSupervisor: keeps one `maya target run` process alive per jiva volume (the daemon is
// their keeper). Targets run detached, in their own session, so they outlive the daemon: a
// daemon restart never interrupts I/O. Whether a target runs is read from its pidfile's flock
// (<run>/targets/NAME.pid), so a new daemon adopts the targets an earlier one started.
//
// A watcher thread looks at every supervised target four times a second; one that died is
// started again, at once the first time, then with a doubling delay (up to 30 s) while it
// keeps dying; a target that stayed up for a minute starts with a clean slate.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "lib/common/fd.h"
#include "lib/common/result.h"

namespace maya::drivers::jiva {

struct TargetStatus {
  pid_t pid = 0;      // 0 unless running
  std::string state;  // running | starting | restarting | stopped
  unsigned restarts = 0;
  std::string last_event;  // "2026-11-30T07:00:00Z: pid 123 was killed by SIGKILL; restarted"
};

class TargetSupervisor {
 public:
  struct Options {
    std::vector<std::string> command;  // argv up to the volume: {"/usr/bin/maya", "target", "run"}
    std::filesystem::path store_dir;
    std::filesystem::path run_dir;
    std::string address;  // portal IP handed to every target
    // Appended to every target's arguments (e.g. the connection caps).
    std::vector<std::string> extra_args;
  };

  explicit TargetSupervisor(Options options);
  ~TargetSupervisor();  // stops watching; the targets keep running
  TargetSupervisor(const TargetSupervisor&) = delete;
  TargetSupervisor& operator=(const TargetSupervisor&) = delete;

  // Supervises `volume`: adopts its running target or starts one, and waits (at most 10 s)
  // until it answers on its control socket. Returns its pid.
  Result<pid_t> ensure(const std::string& volume);
  // Stops supervising `volume` and stops its target: SIGTERM, SIGKILL after 5 s. Fine when
  // no target runs.
  Result<void> stop(const std::string& volume);
  // Stops every target of the store, supervised or not (unload --stop-targets, tests).
  void stop_all();
  TargetStatus status(const std::string& volume) const;

  // The /dev/fuse descriptor of a volume attached through FUSE: kept here so the connection
  // outlives a crashed target, and handed to the target started after it (--fuse-fd).
  void keep_fuse(const std::string& volume, Fd fd);
  void drop_fuse(const std::string& volume);
  bool has_fuse(const std::string& volume) const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Watched {
    pid_t child = 0;  // our child, to reap; 0 when adopted or reaped
    pid_t pid = 0;
    std::string state;
    unsigned restarts = 0;
    std::chrono::seconds backoff{0};
    Clock::time_point since{};       // when the current state began
    Clock::time_point next_start{};  // restarting: when to try
    std::string last_event;
  };

  Result<pid_t> spawn(const std::string& volume, Watched& w);  // mutex_ held
  void watch();
  void check(const std::string& volume, Watched& w, Clock::time_point now);  // mutex_ held
  void note(const std::string& volume, Watched& w, const std::string& event);
  std::filesystem::path pidfile(const std::string& volume) const;

  Options options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::map<std::string, Watched> watched_;
  std::map<std::string, Fd> fuse_;
  std::thread watcher_;
};

}  // namespace maya::drivers::jiva
