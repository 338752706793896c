// TargetSupervisor: keeps one `maya target run` process alive per jiva volume (the daemon is
// their keeper). Targets run detached, in their own session, so they outlive the daemon: a
// daemon restart never interrupts I/O. Whether a target runs is read from its pidfile's flock
// (<run>/targets/NAME.pid), so a new daemon adopts the targets an earlier one started.
//
// A watcher thread waits on a pidfd of every running target, so a death is seen at once (and
// looks at every target four times a second besides). What follows a death depends on how the
// target lived:
//   - it was serving (it answered on its control socket, then ran for 2 s): it is started
//     again at once, every time; its initiators wait for no backoff;
//   - it answered but died within those 2 s: started again at once, counted as a failed start;
//   - it died before it answered: a failed start, started again at once the first time, then
//     with a doubling delay (1 s, 2 s, ...).
// After kMaxFailedStarts failed starts in a row the volume is `broken` (the cause: the last
// line of its target.log) and is left down. A volume is also broken at once when the preflight
// check refuses it (its jiva.json does not parse, its port is another volume's); mark_broken()
// stops a target that still runs then. ensure()
// (maya load, create, attach, rebuild) gives a broken volume another chance.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
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
  std::string state;  // running | starting | restarting | stopped | broken
  unsigned restarts = 0;
  std::string last_event;  // "2026-11-30T07:00:00Z: pid 123 was killed by SIGKILL; restarted"
  std::string broken;      // state broken: why ("port 3261 is volume d1's", a target.log line)
  std::uint16_t port = 0;  // the port the running target serves on, once it answered
};

class TargetSupervisor {
 public:
  // How many failed starts in a row make a volume broken.
  static constexpr unsigned kMaxFailedStarts = 5;

  // Checked before every start: may `volume` start now? `serving` maps the volumes whose
  // targets run to the ports they serve on. An error makes the volume broken at once.
  using Preflight = std::function<Result<void>(
      const std::string& volume, const std::map<std::string, std::uint16_t>& serving)>;

  struct Options {
    std::vector<std::string> command;  // argv up to the volume: {"/usr/bin/maya", "target", "run"}
    std::filesystem::path store_dir;
    std::filesystem::path run_dir;
    std::string address;  // portal IP handed to every target
    // Appended to every target's arguments (e.g. the connection caps).
    std::vector<std::string> extra_args;
    Preflight preflight;  // optional
  };

  explicit TargetSupervisor(Options options);
  ~TargetSupervisor();  // stops watching; the targets keep running
  TargetSupervisor(const TargetSupervisor&) = delete;
  TargetSupervisor& operator=(const TargetSupervisor&) = delete;

  // Supervises `volume`: adopts its running target or starts one, and waits (at most 10 s)
  // until it answers on its control socket. Returns its pid. A broken volume gets another
  // chance (its count of failed starts starts again).
  Result<pid_t> ensure(const std::string& volume);
  // Marks `volume` broken: its target is not started again until ensure(). With `stop_running`
  // a target that runs now is stopped too (one on a port another volume owns: a damaged volume
  // stays down; a port clash's owner is never marked). Without it a running target is left to
  // serve what it opened before the damage (a mounted file system keeps its data path).
  void mark_broken(const std::string& volume, const std::string& cause, bool stop_running);
  // Stops supervising `volume` and stops its target: SIGTERM, SIGKILL after 5 s. Fine when
  // no target runs.
  Result<void> stop(const std::string& volume);
  // Stops every target of the store, supervised or not (unload --stop-targets, tests).
  void stop_all();
  TargetStatus status(const std::string& volume) const;
  // The ports that running targets serve on, by volume (those that answered so far).
  std::map<std::string, std::uint16_t> serving() const;

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
    Fd pidfd;  // of `pid` while it runs: readable when it exits
    std::string state;
    unsigned restarts = 0;
    unsigned failed_starts = 0;  // in a row
    std::chrono::seconds backoff{0};
    std::uint16_t port = 0;
    std::uint16_t served = 0;        // the port in its target.served (0: not written yet)
    bool unanswered = false;         // killed for not answering within kReadyTimeout
    Clock::time_point since{};       // when the current state began
    Clock::time_point next_start{};  // restarting: when to try
    std::string last_event;
    std::string broken;
  };

  Result<pid_t> spawn(const std::string& volume, Watched& w);  // mutex_ held
  void watch();
  void wake();
  // Whether `volume`'s target is starting and is to be asked now whether it answers.
  bool check(const std::string& volume, Watched& w, Clock::time_point now);  // mutex_ held
  void died(const std::string& volume, Watched& w, Clock::time_point now,
            const std::string& exit_text);                                        // mutex_ held
  void give_up(const std::string& volume, Watched& w, const std::string& cause);  // mutex_ held
  void note(const std::string& volume, Watched& w, const std::string& event);
  // SIGTERM to `pid`, SIGKILL after 5 s; waits until its pidfile is free (and `child`, if
  // not 0, is reaped). mutex_ not held.
  Result<void> terminate(const std::string& volume, pid_t pid, pid_t& child);
  // Its target answered, serving on `port`: target.served says so from now on (the port keeps
  // its owner while the target restarts, and across a daemon restart).
  void remember_served(const std::string& volume, Watched& w, std::uint16_t port);  // mutex_ held
  std::map<std::string, std::uint16_t> serving_locked() const;
  std::filesystem::path pidfile(const std::string& volume) const;

  Options options_;
  mutable std::mutex mutex_;
  Fd wake_fd_;  // an eventfd: stop, or a new target to watch
  bool stopping_ = false;
  std::map<std::string, Watched> watched_;
  std::map<std::string, Fd> fuse_;
  std::thread watcher_;
};

}  // namespace maya::drivers::jiva
