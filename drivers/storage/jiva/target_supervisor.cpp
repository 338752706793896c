#include "drivers/storage/jiva/target_supervisor.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <future>
#include <optional>

#include "lib/common/files.h"
#include "lib/common/log.h"
#include "lib/common/time_format.h"
#include "lib/jiva/manifest.h"
#include "lib/jiva/port_claims.h"
#include "lib/jiva/target_client.h"
#include "lib/process/exec.h"
#include "lib/process/pidfile.h"

namespace maya::drivers::jiva {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr auto kPollInterval = 250ms;  // besides pidfds: starts, adoptions, missed events
constexpr auto kStartingPoll = 20ms;   // while a target starts: how soon its answer is seen
constexpr auto kReadyTimeout = 10s;
constexpr auto kStartGrace = 5s;  // a started target has this long to take its pidfile lock
constexpr auto kMaxBackoff = std::chrono::seconds(30);
// A target that answered and then ran this long was serving: its death is not a failed start.
constexpr auto kServingAfter = 2s;
constexpr auto kStopTimeout = 5s;
constexpr std::uintmax_t kMaxLogBytes = 4u << 20;

// The port a target serves on if it answers on its control socket (0: its status names none).
std::optional<std::uint16_t> answers(const fs::path& socket,
                                     std::chrono::milliseconds timeout = 500ms) {
  return maya::jiva::TargetClient(socket, socket.stem().string()).probe(timeout);
}

// The last non-empty line of a log, for error messages.
std::string last_line(const fs::path& file) {
  std::ifstream in(file);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return last;
}

// A log line without its time and level ("2026-…Z error volume v: …" → "volume v: …").
std::string message_of(std::string line) {
  if (line.empty() || line[0] < '0' || line[0] > '9') return line;
  for (int field = 0; field < 2; ++field) {
    auto space = line.find(' ');
    if (space == std::string::npos) return line;
    line.erase(0, line.find_first_not_of(' ', space));
  }
  return line;
}

// Keeps a target's log from growing without bound: one older generation is kept.
void rotate(const fs::path& log_file) {
  std::error_code ec;
  if (fs::file_size(log_file, ec) > kMaxLogBytes && !ec) {
    fs::rename(log_file, log_file.string() + ".1", ec);
  }
}

// A pidfd of `pid` (readable once it exits); invalid where the kernel has none.
Fd open_pidfd(pid_t pid) {
  if (pid <= 0) return Fd();
  return Fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
}

// Waits until no process holds `pidfile` and `child` (if any; set to 0 once reaped) exited.
bool wait_stopped(const fs::path& pidfile, pid_t& child, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    if (child > 0 && ::waitpid(child, &status, WNOHANG) == child) child = 0;
    if (child <= 0 && !PidFile::holder(pidfile)) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
}

}  // namespace

TargetSupervisor::TargetSupervisor(Options options)
    : options_(std::move(options)), wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  watcher_ = std::thread([this] { watch(); });
}

TargetSupervisor::~TargetSupervisor() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake();
  watcher_.join();
}

void TargetSupervisor::wake() {
  const std::uint64_t one = 1;
  if (wake_fd_.valid()) {
    ssize_t n = ::write(wake_fd_.get(), &one, sizeof one);
    (void)n;  // a full counter still wakes the watcher
  }
}

fs::path TargetSupervisor::pidfile(const std::string& volume) const {
  return maya::jiva::target_paths(options_.run_dir, volume).pidfile;
}

void TargetSupervisor::note(const std::string& volume, Watched& w, const std::string& event) {
  w.last_event = iso8601() + ": " + event;
  log::warn("target of volume " + volume + ": " + event);
}

void TargetSupervisor::remember_served(const std::string& volume, Watched& w, std::uint16_t port) {
  if (port == 0 || port == w.served) return;
  const fs::path dir = options_.store_dir / volume;
  if (maya::jiva::read_served_port(dir) != port) {
    if (auto written =
            write_file_atomic(maya::jiva::served_port_file(dir), std::to_string(port) + "\n");
        !written) {
      log::warn("volume " + volume + ": " + written.error().message);
      return;
    }
  }
  w.served = port;
}

std::map<std::string, std::uint16_t> TargetSupervisor::serving_locked() const {
  std::map<std::string, std::uint16_t> ports;
  for (const auto& [volume, w] : watched_) {
    if (w.pid != 0 && w.port != 0) ports[volume] = w.port;
  }
  return ports;
}

std::map<std::string, std::uint16_t> TargetSupervisor::serving() const {
  std::lock_guard lock(mutex_);
  return serving_locked();
}

void TargetSupervisor::give_up(const std::string& volume, Watched& w, const std::string& cause) {
  w.state = "broken";
  w.broken = cause;
  w.since = Clock::now();
  note(volume, w, "broken, not started again: " + cause);
}

Result<pid_t> TargetSupervisor::spawn(const std::string& volume, Watched& w) {
  if (options_.preflight) {
    if (auto cleared = options_.preflight(volume, serving_locked()); !cleared) {
      give_up(volume, w, cleared.error().message);
      return fail("volume " + volume + " is broken: " + cleared.error().message);
    }
  }
  const fs::path volume_dir = options_.store_dir / volume;
  const fs::path log_file = maya::jiva::target_log(volume_dir);
  MAYA_TRY_VOID(make_dirs(options_.run_dir / "targets", 0755));
  rotate(log_file);
  std::vector<std::string> argv = options_.command;
  argv.insert(argv.end(), {"--volume", volume, "--store", options_.store_dir.string(), "--run",
                           options_.run_dir.string(), "--address", options_.address});
  argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
  int fuse_fd = -1;
  if (auto kept = fuse_.find(volume); kept != fuse_.end()) {
    fuse_fd = kept->second.get();
    argv.insert(argv.end(), {"--fuse-fd", "3"});
  }
  MAYA_TRY(pid, spawn_detached(std::move(argv), log_file, fuse_fd));
  w.child = *pid;
  w.pid = *pid;
  w.pidfd = open_pidfd(*pid);
  w.port = 0;
  w.unanswered = false;
  w.state = "starting";
  w.since = Clock::now();
  wake();  // the watcher waits on the new pidfd from now on
  return *pid;
}

Result<pid_t> TargetSupervisor::ensure(const std::string& volume) {
  const auto paths = maya::jiva::target_paths(options_.run_dir, volume);
  {
    std::lock_guard lock(mutex_);
    Watched& w = watched_[volume];
    if (w.state == "broken") {  // another chance, from a clean slate
      w.state.clear();
      w.broken.clear();
      w.failed_starts = 0;
      w.backoff = std::chrono::seconds(0);
    }
    if (auto holder = PidFile::holder(paths.pidfile)) {
      if (w.state.empty() || w.state == "stopped" || w.state == "restarting") {
        w.state = "starting";  // adopted: running once it answers
        w.since = Clock::now();
      }
      if (*holder != 0) w.pid = *holder;
      if (!w.pidfd.valid()) w.pidfd = open_pidfd(w.pid);
      wake();
    } else if (w.state != "starting") {
      auto spawned = spawn(volume, w);
      if (!spawned) {
        if (w.state != "broken") watched_.erase(volume);
        return std::unexpected(spawned.error());
      }
    }
  }
  const auto deadline = Clock::now() + kReadyTimeout;
  for (;;) {
    if (auto port = answers(paths.socket)) {
      std::lock_guard lock(mutex_);
      auto it = watched_.find(volume);
      if (it == watched_.end()) return fail("volume " + volume + " was deleted meanwhile");
      Watched& w = it->second;
      if (auto holder = PidFile::holder(paths.pidfile); holder && *holder != 0) w.pid = *holder;
      if (*port != 0) w.port = *port;
      remember_served(volume, w, *port);
      if (w.state != "running") {
        w.state = "running";
        w.since = Clock::now();
      }
      return w.pid;
    }
    std::string broken;
    bool gave_up = false;
    {
      std::lock_guard lock(mutex_);
      auto it = watched_.find(volume);
      // The watcher saw it die (state went back to restarting): report why now.
      gave_up =
          it == watched_.end() || it->second.state == "restarting" || it->second.state == "broken";
      if (it != watched_.end()) broken = it->second.broken;
    }
    if (!broken.empty()) return fail("volume " + volume + " is broken: " + broken);
    if (gave_up || Clock::now() >= deadline) {
      std::string why = last_line(maya::jiva::target_log(options_.store_dir / volume));
      return fail("the target of volume " + volume + " did not start" +
                  (why.empty() ? std::string(" within 10 s") : ": " + why));
    }
    std::this_thread::sleep_for(20ms);
  }
}

void TargetSupervisor::mark_broken(const std::string& volume, const std::string& cause,
                                   bool stop_running) {
  pid_t pid = 0;
  {
    std::lock_guard lock(mutex_);
    Watched& w = watched_[volume];
    if (auto holder = PidFile::holder(pidfile(volume)); holder && *holder != 0) {
      pid = *holder;
      w.pid = *holder;
      if (!w.pidfd.valid()) w.pidfd = open_pidfd(w.pid);
    }
    if (w.state != "broken" || w.broken != cause) give_up(volume, w, cause);
  }
  if (pid <= 0) return;
  if (!stop_running) {
    log::warn("volume " + volume + " is broken (" + cause + "); its running target (pid " +
              std::to_string(pid) + ") keeps serving what it opened, but is not restarted");
    return;
  }
  // A damaged volume stays down: a target still running from before the damage (on the port
  // it had then) would keep serving a volume whose manifest says otherwise. The watcher reaps
  // it if it is our child.
  pid_t not_ours = 0;
  if (auto stopped = terminate(volume, pid, not_ours); !stopped) {
    log::warn(stopped.error().message);
  } else {
    log::info("target of volume " + volume + " (pid " + std::to_string(pid) +
              ") stopped: the volume is broken");
  }
}

Result<void> TargetSupervisor::stop(const std::string& volume) {
  pid_t child = 0;
  {
    std::lock_guard lock(mutex_);
    if (auto it = watched_.find(volume); it != watched_.end()) {
      child = it->second.child;
      watched_.erase(it);
    }
    fuse_.erase(volume);
  }
  auto holder = PidFile::holder(pidfile(volume));
  // A target that has not taken its pidfile yet is still our child: stop that one.
  const pid_t pid = holder && *holder > 0 ? *holder : child;
  if (pid <= 0) return {};
  return terminate(volume, pid, child);
}

Result<void> TargetSupervisor::terminate(const std::string& volume, pid_t pid, pid_t& child) {
  const fs::path file = pidfile(volume);
  ::kill(pid, SIGTERM);
  if (wait_stopped(file, child, kStopTimeout)) return {};
  log::warn("target of volume " + volume + " (pid " + std::to_string(pid) +
            ") ignored SIGTERM for 5 s; killing it");
  ::kill(pid, SIGKILL);
  if (!wait_stopped(file, child, 2s))
    return fail("the target of volume " + volume + " (pid " + std::to_string(pid) +
                ") does not stop");
  return {};
}

void TargetSupervisor::stop_all() {
  std::vector<std::string> volumes;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [volume, w] : watched_) volumes.push_back(volume);
  }
  std::error_code ec;
  for (auto it = fs::directory_iterator(options_.run_dir / "targets", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (it->path().extension() == ".pid") volumes.push_back(it->path().stem().string());
  }
  for (const auto& volume : volumes) {
    if (auto stopped = stop(volume); !stopped) log::warn(stopped.error().message);
  }
}

TargetStatus TargetSupervisor::status(const std::string& volume) const {
  TargetStatus s;
  auto holder = PidFile::holder(pidfile(volume));
  std::lock_guard lock(mutex_);
  auto it = watched_.find(volume);
  if (it != watched_.end()) {
    s.state = it->second.state;
    s.restarts = it->second.restarts;
    s.last_event = it->second.last_event;
    s.broken = it->second.broken;
    s.port = it->second.port;
  }
  if (holder) {
    s.pid = *holder;
    if (s.state.empty() || s.state == "restarting") s.state = "running";
  } else if (s.state.empty() || s.state == "running") {
    s.state = "stopped";
  }
  if (!holder) s.port = 0;
  return s;
}

void TargetSupervisor::keep_fuse(const std::string& volume, Fd fd) {
  std::lock_guard lock(mutex_);
  fuse_[volume] = std::move(fd);
}

void TargetSupervisor::drop_fuse(const std::string& volume) {
  std::lock_guard lock(mutex_);
  fuse_.erase(volume);
}

bool TargetSupervisor::has_fuse(const std::string& volume) const {
  std::lock_guard lock(mutex_);
  return fuse_.contains(volume);
}

void TargetSupervisor::died(const std::string& volume, Watched& w, Clock::time_point now,
                            const std::string& exit_text) {
  const std::string what =
      "pid " + std::to_string(w.pid) + " " + (exit_text.empty() ? "is gone" : exit_text);
  const bool answered = w.state == "running";
  const bool was_serving = answered && now - w.since >= kServingAfter;
  w.unanswered = false;
  w.pid = 0;
  w.port = 0;
  w.pidfd.reset();
  w.state = "restarting";
  if (was_serving) {
    // Its initiators are waiting: no backoff, however often it happens. A target that crashes
    // every few seconds still serves in between.
    w.failed_starts = 0;
    w.backoff = std::chrono::seconds(0);
    w.next_start = now;
    note(volume, w, what + " while serving; restarting it at once");
    return;
  }
  // Died before it answered, or right after: a failed start. Enough of them in a row and the
  // volume is broken (a bad replica.json, a port another program holds, a crash on open).
  ++w.failed_starts;
  const std::string count =
      "failed start " + std::to_string(w.failed_starts) + " of " + std::to_string(kMaxFailedStarts);
  if (w.failed_starts >= kMaxFailedStarts) {
    std::string why = message_of(last_line(maya::jiva::target_log(options_.store_dir / volume)));
    give_up(volume, w,
            "its target failed to start " + std::to_string(w.failed_starts) +
                " times in a row (last: " + what + ")" + (why.empty() ? "" : ": " + why));
    return;
  }
  if (answered) {  // it had answered: someone may be waiting on it, so no delay yet
    w.next_start = now;
    note(volume, w, what + " right after it started (" + count + "); restarting it at once");
    return;
  }
  w.next_start = now + w.backoff;
  note(volume, w,
       what + " before it served (" + count + "); " +
           (w.backoff.count() == 0
                ? std::string("restarting it at once")
                : "backing off: restarting it in " + std::to_string(w.backoff.count()) + " s"));
  w.backoff = std::min(kMaxBackoff, std::max(std::chrono::seconds(1), w.backoff * 2));
}

bool TargetSupervisor::check(const std::string& volume, Watched& w, Clock::time_point now) {
  int status = 0;
  std::string exit_text;
  if (w.child > 0 && ::waitpid(w.child, &status, WNOHANG) == w.child) {
    exit_text = describe_status(status);
    w.child = 0;
  }
  auto holder = PidFile::holder(pidfile(volume));
  if (w.state == "broken") {  // left alone; a target that still runs is only followed
    w.pid = holder ? *holder : 0;
    if (!holder) {
      w.pidfd.reset();
      w.port = 0;
    }
    return false;
  }
  if (holder) {
    if (*holder != 0 && *holder != w.pid) {
      w.pid = *holder;
      w.pidfd = open_pidfd(w.pid);
    }
    if (w.state != "running" && w.state != "starting") {
      w.state = "starting";
      w.since = now;
    }
    if (w.state == "starting") {
      // Ready once it answers (its portal listens by then): watch() asks it, without the lock.
      // One that holds its pidfile but never answers (stopped, stuck opening its replicas) is
      // killed after kReadyTimeout: its death is then a failed start like any other.
      if (now - w.since < kReadyTimeout) return true;
      if (w.pid > 0 && !w.unanswered) {
        w.unanswered = true;
        note(volume, w,
             "pid " + std::to_string(w.pid) + " did not answer within " +
                 std::to_string(
                     std::chrono::duration_cast<std::chrono::seconds>(kReadyTimeout).count()) +
                 " s of its start; killing it");
        ::kill(w.pid, SIGKILL);
      }
    } else if (now - w.since >= kServingAfter) {
      w.failed_starts = 0;
      w.backoff = std::chrono::seconds(0);
    }
    return false;
  }
  if (w.state == "starting" && exit_text.empty() && w.child > 0 && now - w.since < kStartGrace)
    return false;
  if (w.state == "running" || w.state == "starting") {
    died(volume, w, now, exit_text);
    if (w.state != "restarting" || now < w.next_start) return false;
  }
  if (w.state == "restarting" && now >= w.next_start) {
    std::error_code ec;
    if (!fs::exists(maya::jiva::manifest_file(options_.store_dir / volume), ec)) {
      w.state = "stopped";  // the volume is gone: nothing to keep alive
      return false;
    }
    ++w.restarts;
    if (auto spawned = spawn(volume, w); spawned) {
      log::info("target of volume " + volume + " started again (pid " + std::to_string(*spawned) +
                ", restart " + std::to_string(w.restarts) + ")");
    } else if (w.state != "broken") {
      note(volume, w, spawned.error().message);
      w.next_start = now + std::max(std::chrono::seconds(1), w.backoff);
    }
  }
  return false;
}

void TargetSupervisor::watch() {
  std::unique_lock lock(mutex_);
  std::vector<pollfd> fds;
  while (!stopping_) {
    fds.clear();
    fds.push_back({wake_fd_.get(), POLLIN, 0});
    auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(kPollInterval);
    const auto now = Clock::now();
    for (const auto& [volume, w] : watched_) {
      if (w.pidfd.valid()) fds.push_back({w.pidfd.get(), POLLIN, 0});
      if (w.state == "starting")
        timeout = std::min<std::chrono::milliseconds>(timeout, kStartingPoll);
      if (w.state == "restarting") {
        auto due = std::chrono::duration_cast<std::chrono::milliseconds>(w.next_start - now);
        timeout = std::clamp<std::chrono::milliseconds>(due, 0ms, timeout);
      }
    }
    lock.unlock();
    // A pidfd closed meanwhile by stop() at worst wakes us early: every target is checked anyway.
    ::poll(fds.data(), fds.size(), static_cast<int>(timeout.count()));
    std::uint64_t count = 0;
    ssize_t drained = ::read(wake_fd_.get(), &count, sizeof count);
    (void)drained;  // EAGAIN when nobody woke us
    lock.lock();
    if (stopping_) break;
    const auto checked = Clock::now();
    struct Probe {
      std::string volume;
      pid_t pid;
      fs::path socket;
      std::optional<std::uint16_t> port;
    };
    std::vector<Probe> probes;
    for (auto it = watched_.begin(); it != watched_.end();) {
      if (check(it->first, it->second, checked))
        probes.push_back({it->first,
                          it->second.pid,
                          maya::jiva::target_paths(options_.run_dir, it->first).socket,
                          {}});
      it = it->second.state == "stopped" ? watched_.erase(it) : std::next(it);
    }
    if (probes.empty()) continue;
    // A probe takes up to 200 ms (a target that accepts but never answers): ensure(), status()
    // and serving() of every other volume must not wait for it.
    // The probes run side by side, so several stuck targets delay the restarts this thread
    // does by 200 ms, not 200 ms each.
    lock.unlock();
    std::vector<std::future<std::optional<std::uint16_t>>> asked;
    for (auto& probe : probes)
      asked.push_back(
          std::async(std::launch::async, [&probe] { return answers(probe.socket, 200ms); }));
    for (std::size_t i = 0; i < probes.size(); ++i) probes[i].port = asked[i].get();
    lock.lock();
    const auto answered_at = Clock::now();
    for (auto& probe : probes) {
      auto it = watched_.find(probe.volume);
      if (!probe.port || it == watched_.end()) continue;
      Watched& w = it->second;
      if (w.state != "starting" || w.pid != probe.pid || w.unanswered) continue;  // moved on
      w.state = "running";
      w.since = answered_at;
      if (*probe.port != 0) w.port = *probe.port;
      remember_served(probe.volume, w, *probe.port);
    }
  }
}

}  // namespace maya::drivers::jiva
