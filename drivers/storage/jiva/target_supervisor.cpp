#include "drivers/storage/jiva/target_supervisor.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cerrno>
#include <fstream>

#include "lib/common/files.h"
#include "lib/common/log.h"
#include "lib/common/time_format.h"
#include "lib/http/client.h"
#include "lib/jiva/manifest.h"
#include "lib/process/exec.h"
#include "lib/process/pidfile.h"

namespace maya::drivers::jiva {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr auto kPollInterval = 250ms;
constexpr auto kReadyTimeout = 10s;
constexpr auto kStartGrace = 5s;  // a started target has this long to take its pidfile lock
constexpr auto kMaxBackoff = std::chrono::seconds(30);
constexpr auto kHealthyAfter = 60s;
constexpr auto kStopTimeout = 5s;
constexpr std::uintmax_t kMaxLogBytes = 4u << 20;

bool answers(const fs::path& socket) {
  auto response = http::request(socket, {"GET", "/v1/status", ""}, 500ms);
  return response && response->status == 200;
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

// Keeps a target's log from growing without bound: one older generation is kept.
void rotate(const fs::path& log_file) {
  std::error_code ec;
  if (fs::file_size(log_file, ec) > kMaxLogBytes && !ec) {
    fs::rename(log_file, log_file.string() + ".1", ec);
  }
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
    : options_(std::move(options)), watcher_([this] { watch(); }) {}

TargetSupervisor::~TargetSupervisor() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  watcher_.join();
}

fs::path TargetSupervisor::pidfile(const std::string& volume) const {
  return maya::jiva::target_paths(options_.run_dir, volume).pidfile;
}

void TargetSupervisor::note(const std::string& volume, Watched& w, const std::string& event) {
  w.last_event = iso8601() + ": " + event;
  log::warn("target of volume " + volume + ": " + event);
}

Result<pid_t> TargetSupervisor::spawn(const std::string& volume, Watched& w) {
  const fs::path volume_dir = options_.store_dir / volume;
  const fs::path log_file = maya::jiva::target_log(volume_dir);
  MAYA_TRY(dirs, make_dirs(options_.run_dir / "targets", 0755));
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
  w.state = "starting";
  w.since = Clock::now();
  return *pid;
}

Result<pid_t> TargetSupervisor::ensure(const std::string& volume) {
  const auto paths = maya::jiva::target_paths(options_.run_dir, volume);
  {
    std::lock_guard lock(mutex_);
    Watched& w = watched_[volume];
    if (auto holder = PidFile::holder(paths.pidfile)) {
      if (w.state.empty() || w.state == "stopped") {
        w.state = "running";
        w.since = Clock::now();
      }
      if (*holder != 0) w.pid = *holder;
    } else if (w.state != "starting") {
      auto spawned = spawn(volume, w);
      if (!spawned) {
        watched_.erase(volume);
        return std::unexpected(spawned.error());
      }
    }
  }
  const auto deadline = Clock::now() + kReadyTimeout;
  for (;;) {
    if (answers(paths.socket)) {
      std::lock_guard lock(mutex_);
      auto it = watched_.find(volume);
      if (it == watched_.end()) return fail("volume " + volume + " was deleted meanwhile");
      if (auto holder = PidFile::holder(paths.pidfile); holder && *holder != 0) {
        it->second.pid = *holder;
      }
      if (it->second.state != "running") {
        it->second.state = "running";
        it->second.since = Clock::now();
      }
      return it->second.pid;
    }
    bool gave_up = false;
    {
      std::lock_guard lock(mutex_);
      auto it = watched_.find(volume);
      // The watcher saw it die (state went back to restarting): report why now.
      gave_up = it == watched_.end() || it->second.state == "restarting";
    }
    if (gave_up || Clock::now() >= deadline) {
      std::string why = last_line(maya::jiva::target_log(options_.store_dir / volume));
      return fail("the target of volume " + volume + " did not start" +
                  (why.empty() ? std::string(" within 10 s") : ": " + why));
    }
    std::this_thread::sleep_for(50ms);
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
  const fs::path file = pidfile(volume);
  auto holder = PidFile::holder(file);
  // A target that has not taken its pidfile yet is still our child: stop that one.
  const pid_t pid = holder && *holder > 0 ? *holder : child;
  if (pid <= 0) return {};
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
  }
  if (holder) {
    s.pid = *holder;
    if (s.state.empty() || s.state == "restarting") s.state = "running";
  } else if (s.state.empty() || s.state == "running") {
    s.state = "stopped";
  }
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

void TargetSupervisor::check(const std::string& volume, Watched& w, Clock::time_point now) {
  int status = 0;
  std::string exit_text;
  if (w.child > 0 && ::waitpid(w.child, &status, WNOHANG) == w.child) {
    exit_text = describe_status(status);
    w.child = 0;
  }
  auto holder = PidFile::holder(pidfile(volume));
  if (holder) {
    if (*holder != 0) w.pid = *holder;
    if (w.state != "running") {
      w.state = "running";
      w.since = now;
    }
    if (now - w.since >= kHealthyAfter) w.backoff = std::chrono::seconds(0);
    return;
  }
  if (w.state == "starting" && exit_text.empty() && now - w.since < kStartGrace) return;
  if (w.state == "running" || w.state == "starting") {
    note(volume, w,
         "pid " + std::to_string(w.pid) + " " + (exit_text.empty() ? "is gone" : exit_text) +
             (w.backoff.count() == 0
                  ? "; restarting it"
                  : "; restarting it in " + std::to_string(w.backoff.count()) + " s"));
    w.state = "restarting";
    w.pid = 0;
    w.next_start = now + w.backoff;
    w.backoff = std::min(kMaxBackoff, std::max(std::chrono::seconds(1), w.backoff * 2));
    return;
  }
  if (w.state == "restarting" && now >= w.next_start) {
    std::error_code ec;
    if (!fs::exists(maya::jiva::manifest_file(options_.store_dir / volume), ec)) {
      w.state = "stopped";  // the volume is gone: nothing to keep alive
      return;
    }
    ++w.restarts;
    if (auto spawned = spawn(volume, w); spawned) {
      log::info("target of volume " + volume + " started again (pid " + std::to_string(*spawned) +
                ", restart " + std::to_string(w.restarts) + ")");
    } else {
      note(volume, w, spawned.error().message);
      w.next_start = now + w.backoff;
    }
  }
}

void TargetSupervisor::watch() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, kPollInterval, [this] { return stopping_; });
    if (stopping_) break;
    const auto now = Clock::now();
    for (auto it = watched_.begin(); it != watched_.end();) {
      check(it->first, it->second, now);
      it = it->second.state == "stopped" ? watched_.erase(it) : std::next(it);
    }
  }
}

}  // namespace maya::drivers::jiva
