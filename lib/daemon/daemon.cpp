#include "lib/daemon/daemon.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "drivers/registry.h"
#include "lib/common/files.h"
#include "lib/common/log.h"
#include "lib/common/time_format.h"
#include "lib/daemon/control_api.h"
#include "lib/daemon/discovery_chap.h"
#include "lib/daemon/listen_fds.h"
#include "lib/daemon/volume_api.h"
#include "lib/http/server.h"
#include "lib/iscsi/discovery.h"
#include "lib/iscsi_target/target.h"
#include "lib/process/pidfile.h"
#include "plugin/docker/docker_plugin.h"

namespace maya::daemon {
namespace {

namespace asio = boost::asio;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

// How long a clean shutdown may wait for in-flight requests before the loop is stopped.
constexpr auto kShutdownGrace = std::chrono::seconds(10);

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

// What a daemon that hands over to a new image leaves for the exec: its listening sockets
// (name, fd), the pidfile lock, the binary to run.
struct Handover {
  std::vector<std::pair<std::string, int>> sockets;
  int pidfile_fd = -1;
  std::string exe;
};

std::string random_instance() {
  std::random_device rd;
  char text[17];
  std::snprintf(text, sizeof text, "%08x%08x", rd(), rd());
  return text;
}

class Daemon {
 public:
  Daemon(config::Config config, PidFile pidfile, bool log_to_file,
         std::vector<InheritedSocket> inherited)
      : config_(std::move(config)),
        pidfile_(std::move(pidfile)),
        log_to_file_(log_to_file),
        inherited_(std::move(inherited)) {}
  ~Daemon() {
    for (const InheritedSocket& s : inherited_)
      if (s.fd >= 0) ::close(s.fd);
  }

  Result<void> start() {
    if (config_.role_storage) {
      MAYA_TRY(volumes, drivers::make_volume_driver(config_));
      volumes_ = std::move(*volumes);
      for (const std::string& note : volumes_->reconcile()) log::info("reconcile: " + note);
      for (drivers::TargetHost* host : volumes_->target_hosts()) {
        for (const std::string& note : host->start_targets()) log::info("targets: " + note);
      }
      // Without the discovery portal every volume still works (by its own portal); a port
      // another iSCSI target holds must not keep the host from serving its volumes.
      if (auto discovery = start_discovery(); !discovery) {
        discovery_error_ = discovery.error().message;
        log::error(discovery_error_);
      }
    }
    auto defaults = [this] {
      std::lock_guard lock(mutex_);
      return config_.volume_defaults;
    };

    http::ServerOptions control_options;
    control_options.socket_mode = 0600;
    control_options.make_error = json_error;
    ControlHooks hooks{
        [this] { return status(); },
        [this] { return reload_all(); },
        [this](bool stop_targets) -> Result<void> {
          if (stop_targets && volumes_) {
            for (drivers::TargetHost* host : volumes_->target_hosts()) {
              MAYA_TRY(stopped, host->stop_targets());
            }
          }
          asio::post(io_, [this] { stop("shutdown requested"); });
          return {};
        },
        [this](const std::string& exe) -> Result<nlohmann::json> {
          if (exe.empty() || exe.front() != '/' || ::access(exe.c_str(), X_OK) != 0)
            return fail("cannot restart as " + exe + ": not an executable absolute path");
          asio::post(io_, [this, exe] { begin_handover(exe); });
          return json{{"restarting", true}, {"pid", ::getpid()}, {"instance", instance_}};
        },
    };
    http::Router control_router = make_control_router(std::move(hooks));
    add_volume_routes(control_router, volumes_.get(), defaults);
    add_volume_ops_routes(control_router, volumes_.get());
    MAYA_TRY(control, serve_unix("control", config_.control_socket(), control_options,
                                 std::move(control_router)));
    control_ = std::move(*control);

    if (volumes_ && serves_docker()) {
      MAYA_TRY(dir, make_dirs(config_.plugin_socket.parent_path(), 0755));
      http::ServerOptions plugin_options;
      plugin_options.socket_mode = 0660;
      plugin_options.make_error = plugin::docker::docker_error;
      plugin_options.workers = 8;  // Docker sends requests in parallel; mounts can be slow
      MAYA_TRY(plugin, serve_unix("plugin", config_.plugin_socket, plugin_options,
                                  plugin::docker::make_router(*volumes_, defaults)));
      plugin_ = std::move(*plugin);
    }
    for (InheritedSocket& s : inherited_) {
      if (s.fd < 0) continue;
      log::warn("an inherited socket (" + (s.name.empty() ? "unnamed" : s.name) +
                ") matches nothing this config serves; closing it");
      ::close(std::exchange(s.fd, -1));
    }

    signals_.async_wait([this](auto ec, int sig) { on_signal(ec, sig); });
    return {};
  }

  // Returns what to exec when the daemon hands over to a new image, else nothing.
  std::optional<Handover> run() {
    log::info("maya " MAYA_VERSION " daemon started (pid " + std::to_string(::getpid()) +
              ", config " + config_.file.string() + ")");
    for (const std::string& note : adopted_) log::info(note);
    log::info("control API on " + config_.control_socket().string());
    if (plugin_) log::info("Docker volume plugin \"maya\" on " + config_.plugin_socket.string());
    if (discovery_)
      log::info("iSCSI discovery portal on " +
                iscsi_target::format_endpoint(discovery_->endpoint()));
    io_.run();
    {
      std::lock_guard lock(finished_mutex_);
      finished_ = true;
    }
    finished_cv_.notify_all();
    if (watchdog_.joinable()) watchdog_.join();
    control_.reset();  // joins its workers
    plugin_.reset();
    if (handover_) {
      // Its threads die with the exec; stop() would shut the shared listening socket down.
      (void)discovery_.release();
      handover_->pidfile_fd = pidfile_.keep_across_exec();
      log::info("handing the sockets over to " + handover_->exe);
      return std::move(handover_);
    }
    if (discovery_) discovery_->stop();
    pidfile_.release();
    log::info("maya daemon stopped");
    return std::nullopt;
  }

 private:
  void on_signal(boost::system::error_code ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      (void)reload_all();  // a broken file is logged and changes nothing
      signals_.async_wait([this](auto e, int s) { on_signal(e, s); });
      return;
    }
    stop(sig == SIGTERM ? "SIGTERM" : "SIGINT");
  }

  // The inherited socket serving `role` at `path`: named for it (by systemd or by the image
  // that handed over), or bound there.
  InheritedSocket* inherited_for(const std::string& role, const fs::path& path) {
    for (InheritedSocket& s : inherited_) {
      if (s.fd < 0 || !is_listening_socket(s.fd)) continue;
      auto bound = unix_socket_path(s.fd);
      bool named = s.name == role || s.name == "maya-" + role;
      if (bound ? bound->lexically_normal() == path.lexically_normal() : named) return &s;
    }
    return nullptr;
  }

  Result<std::unique_ptr<http::UnixServer>> serve_unix(const std::string& role,
                                                       const fs::path& path,
                                                       http::ServerOptions options,
                                                       http::Handler handler) {
    InheritedSocket* s = inherited_for(role, path);
    struct stat st {};
    if (s != nullptr && (::lstat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode))) {
      log::warn("the inherited " + role + " socket's file " + path.string() +
                " is gone; binding a new one");
      ::close(std::exchange(s->fd, -1));
      s = nullptr;
    }
    if (s == nullptr) {
      owned_[role] = true;
      return http::UnixServer::listen(io_, path, std::move(options), std::move(handler));
    }
    options.remove_on_close = s->owned_by_maya;
    owned_[role] = s->owned_by_maya;
    adopted_.push_back("serving the inherited " + role + " socket " + path.string() +
                       (s->owned_by_maya ? "" : " (held by the service manager)"));
    return http::UnixServer::adopt(io_, std::exchange(s->fd, -1), path, std::move(options),
                                   std::move(handler));
  }

  // A restart (`maya load --restart`): stop accepting, keep every listening socket open, let
  // in-flight requests finish, then run() returns the handover and the caller execs `exe`.
  // Clients that connect meanwhile wait in the sockets' backlogs: none is refused.
  void begin_handover(const std::string& exe) {
    if (stopping_) return;
    Handover h;
    h.exe = exe;
    auto keep = [&](const std::string& role, http::UnixServer* server) {
      if (!server) return;
      auto fd = server->hand_over();
      if (!fd) return log::error(fd.error().message);
      h.sockets.emplace_back((owned_[role] ? "maya-" : "") + role, *fd);
    };
    keep("control", control_.get());
    keep("plugin", plugin_.get());
    if (discovery_) {
      int fd = ::fcntl(discovery_->listener_fd(), F_DUPFD_CLOEXEC, 0);
      if (fd >= 0) h.sockets.emplace_back("maya-discovery", fd);
    }
    handover_ = std::move(h);
    stop("restart as " + exe);
  }

  void stop(const std::string& why) {
    if (stopping_) return;
    stopping_ = true;
    log::info("shutting down (" + why + ")");
    signals_.cancel();
    if (control_) control_->close();
    if (plugin_) plugin_->close();
    // In-flight requests finish and the loop runs out of work; a watchdog bounds the wait.
    watchdog_ = std::thread([this] {
      std::unique_lock lock(finished_mutex_);
      if (!finished_cv_.wait_for(lock, kShutdownGrace, [this] { return finished_; })) {
        log::warn("requests still running after the grace period; stopping anyway");
        io_.stop();
      }
    });
  }

  // One portal that lists every volume's target (SendTargets), when a driver runs targets.
  Result<void> start_discovery() {
    auto hosts = volumes_->target_hosts();
    if (hosts.empty()) return {};
    iscsi_target::TargetOptions options;
    options.listen =
        iscsi_target::format_endpoint({config_.iscsi_address, config_.iscsi_discovery_port});
    options.limits = {config_.iscsi_max_connections, config_.iscsi_max_connections_per_address};
    if (config_.iscsi_chap) {
      // SendTargets lists every volume: it answers only a login with the host's own credentials.
      auto chap = ensure_discovery_chap(config_);
      if (!chap) return fail("cannot set up the discovery portal's CHAP credentials", chap.error());
      options.chap = *chap;
      options.discovery_auth = true;
    }
    const std::string address =
        config_.iscsi_advertise.empty() ? config_.iscsi_address : config_.iscsi_advertise;
    auto directory = [hosts, address](const std::string& local_host) {
      const bool wildcard = address == "0.0.0.0" || address == "::";
      std::vector<iscsi::TargetRecord> records;
      for (drivers::TargetHost* host : hosts) {
        for (const auto& t : host->iscsi_targets()) {
          records.push_back(
              {t.iqn, {iscsi::format_target_address(wildcard ? local_host : address, t.port, 1)}});
        }
      }
      return records;
    };
    for (InheritedSocket& s : inherited_) {
      if (s.fd >= 0 && is_listening_socket(s.fd) && !unix_socket_path(s.fd) &&
          (s.name == "discovery" || s.name == "maya-discovery")) {
        options.listen_fd = std::exchange(s.fd, -1);
        adopted_.push_back("serving the inherited iSCSI discovery portal");
        break;
      }
    }
    auto portal = iscsi_target::Target::create_discovery(options, std::move(directory));
    if (!portal) {
      return fail("cannot serve the iSCSI discovery portal on " + options.listen + " (set " +
                      "[iscsi] discovery_port, or 0 for any free port)",
                  portal.error());
    }
    discovery_ = std::move(*portal);
    discovery_->start();
    return {};
  }

  bool serves_docker() const {
    const auto& v = config_.volume_drivers;
    return std::find(v.begin(), v.end(), "docker") != v.end();
  }

  json status() {
    std::lock_guard lock(mutex_);
    auto uptime = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started_);
    json roles = json::array();
    if (config_.role_storage) roles.push_back("storage");
    if (config_.role_orchestration) roles.push_back("orchestration");
    std::error_code ignored;
    json sockets = {{"control", config_.control_socket().string()}};
    if (plugin_) sockets["plugin"] = config_.plugin_socket.string();
    // Who keeps the plugin socket open when this daemon stops: systemd's maya.socket, or nobody.
    json plugin_held = plugin_ ? json(owned_.at("plugin") ? "maya" : "service manager") : json();
    if (discovery_)
      sockets["iscsi_discovery"] = iscsi_target::format_endpoint(discovery_->endpoint());
    json status = {
        {"pid", ::getpid()},
        {"instance", instance_},
        {"binary", fs::read_symlink("/proc/self/exe", ignored).string()},
        {"version", MAYA_VERSION},
        {"started_at", iso8601(started_wall_)},
        {"uptime_seconds", uptime.count()},
        {"config", config_.file.string()},
        {"config_loaded_at", iso8601(loaded_wall_)},
        {"host", {{"name", config_.host_name}, {"id", config_.host_id}}},
        {"roles", roles},
        {"sockets", sockets},
        {"plugin_socket_held_by", plugin_held},
        {"log_level", std::string(log::level_name(config_.log_level))},
        {"log_file", log_to_file_ ? json(config_.log_file().string()) : json(nullptr)},
        {"volumes", count_volumes()},
    };
    json warnings = json::array();
    if (!discovery_error_.empty()) warnings.push_back(discovery_error_);
    status["store"] = store_space(warnings);
    if (!warnings.empty()) status["warnings"] = warnings;
    return status;
  }

  // Room on the store (where replicas live), a warning past space_warn_percent, and what its
  // thin volumes may grow to (committed; more than is free: overcommitted).
  json store_space(json& warnings) const {
    struct statvfs st {};
    if (::statvfs(config_.store_dir.c_str(), &st) != 0 || st.f_blocks == 0) return nullptr;
    const std::uint64_t total = static_cast<std::uint64_t>(st.f_blocks) * st.f_frsize;
    const std::uint64_t free = static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
    const auto used_percent = static_cast<unsigned>((total - std::min(free, total)) * 100 / total);
    const unsigned warn = config_.volume_defaults.space_warn_percent;
    if (warn > 0 && used_percent >= warn)
      warnings.push_back("the store " + config_.store_dir.string() + " is " +
                         std::to_string(used_percent) + "% full (warning at " +
                         std::to_string(warn) + "%): writes to volumes fail once it is full");
    json store = {{"path", config_.store_dir.string()},
                  {"total_bytes", total},
                  {"free_bytes", free},
                  {"used_percent", used_percent},
                  {"warn_percent", warn},
                  {"committed_bytes", nullptr},
                  {"overcommitted", nullptr}};
    if (volumes_) {
      if (auto space = volumes_->store_space(); space) {
        store["committed_bytes"] = space->committed_bytes;
        store["overcommitted"] = space->committed_bytes > space->free_bytes;
      }
    }
    return store;
  }

  std::size_t count_volumes() const {
    std::error_code ec;
    std::size_t n = 0;
    for (auto it = fs::directory_iterator(config_.state_dir / "volumes", ec);
         !ec && it != fs::directory_iterator(); it.increment(ec)) {
      if (it->path().extension() == ".json") ++n;
    }
    return n;
  }

  // reload(), then every volume's target again (no lock held: that can take seconds): the
  // ones that run are adopted, stopped ones start, broken ones get another chance, and ports
  // are checked again. What is wrong comes back as warnings.
  Result<json> reload_all() {
    MAYA_TRY(answer, reload());
    if (volumes_) {
      for (drivers::TargetHost* host : volumes_->target_hosts()) {
        for (const std::string& note : host->start_targets()) {
          log::info("targets: " + note);
          if (note.find(" is broken") != std::string::npos ||
              note.find(" did not start") != std::string::npos)
            (*answer)["warnings"].push_back(note);
        }
      }
    }
    return answer;
  }

  // Re-reads the config file. A broken file changes nothing; settings that need a restart
  // (paths, sockets) are kept and reported.
  Result<json> reload() {
    std::lock_guard lock(mutex_);
    auto fresh = config::load(config_.file);
    if (!fresh) {
      log::error("reload refused, keeping the running configuration: " + fresh.error().message);
      return std::unexpected(fresh.error());
    }
    json warnings = json::array();
    auto keep = [&](auto& field, const auto& current, const char* key) {
      if (field != current) {
        warnings.push_back(std::string(key) +
                           " changed; it takes effect after `maya unload` and `maya load`");
        field = current;
      }
    };
    keep(fresh->store_dir, config_.store_dir, "[paths] store");
    keep(fresh->state_dir, config_.state_dir, "[paths] state");
    keep(fresh->run_dir, config_.run_dir, "[paths] run");
    keep(fresh->plugin_socket, config_.plugin_socket, "[plugin] socket");
    keep(fresh->api_listen, config_.api_listen, "[api] listen");
    keep(fresh->iscsi_address, config_.iscsi_address, "[iscsi] address");
    keep(fresh->iscsi_discovery_port, config_.iscsi_discovery_port, "[iscsi] discovery_port");
    keep(fresh->iscsi_port_first, config_.iscsi_port_first, "[iscsi] target_ports");
    keep(fresh->iscsi_port_last, config_.iscsi_port_last, "[iscsi] target_ports");
    keep(fresh->iscsi_advertise, config_.iscsi_advertise, "[iscsi] advertise");
    keep(fresh->iscsi_chap, config_.iscsi_chap, "[iscsi] chap");
    keep(fresh->iscsi_max_connections, config_.iscsi_max_connections, "[iscsi] max_connections");
    keep(fresh->iscsi_max_connections_per_address, config_.iscsi_max_connections_per_address,
         "[iscsi] max_connections_per_address");
    keep(fresh->storage_drivers, config_.storage_drivers, "[drivers] storage");
    bool changed = !(*fresh == config_);
    config_ = std::move(*fresh);
    if (volumes_) volumes_->configure({config_.volume_defaults.keep_lost_found, config_.store_dir});
    loaded_wall_ = std::time(nullptr);
    log::set_level(config_.log_level);
    log::info(std::string("configuration reloaded from ") + config_.file.string() +
              (changed ? "" : " (no changes)"));
    for (const auto& w : warnings) log::warn(w.get<std::string>());
    return json{
        {"reloaded", true}, {"changed", changed}, {"warnings", warnings}, {"pid", ::getpid()}};
  }

  asio::io_context io_;
  asio::signal_set signals_{io_, SIGTERM, SIGINT, SIGHUP};
  std::thread watchdog_;
  std::mutex finished_mutex_;
  std::condition_variable finished_cv_;
  bool finished_ = false;
  std::mutex mutex_;  // guards config_ against handlers on worker threads
  config::Config config_;
  PidFile pidfile_;
  bool log_to_file_;
  bool stopping_ = false;
  Clock::time_point started_ = Clock::now();
  std::time_t started_wall_ = std::time(nullptr);
  std::time_t loaded_wall_ = std::time(nullptr);
  std::unique_ptr<drivers::VolumeService> volumes_;
  std::unique_ptr<http::UnixServer> control_;
  std::unique_ptr<http::UnixServer> plugin_;
  std::unique_ptr<iscsi_target::Target> discovery_;
  std::string discovery_error_;
  std::vector<InheritedSocket> inherited_;
  std::map<std::string, bool> owned_;  // role → maya removes the socket file at stop
  std::vector<std::string> adopted_;   // logged once the daemon runs
  std::optional<Handover> handover_;
  const std::string instance_ = random_instance();  // changes with every exec
};

// Replaces this process by `h.exe load --foreground`, the sockets and the pidfile lock
// inherited. Returns only on failure.
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
  log::error("restart failed, the daemon stops: cannot run " + h.exe + ": " + std::strerror(errno));
  return 1;
}

// Detached daemons log to <state>/maya.log; stderr goes there too so nothing is lost.
Result<void> open_log_file(const fs::path& file) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return fail("cannot open log file " + file.string());
  ::dup2(fd, STDERR_FILENO);
  ::close(fd);
  log::set_sink(stderr);
  return {};
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
  // The discovery portal's connections must never take the descriptors the daemon needs; the
  // targets it starts inherit the raised limit.
  if (auto raised = iscsi_target::raise_descriptor_limit(); !raised)
    log::warn(raised.error().message);
  for (const fs::path& dir : {config.run_dir, config.state_dir}) {
    if (auto made = make_dirs(dir, 0755); !made) return start_error(made.error().message);
  }
  if (options.log_to_file) {
    if (auto opened = open_log_file(config.log_file()); !opened)
      return start_error(opened.error().message);
  }
  std::vector<InheritedSocket> inherited = take_inherited_sockets();
  // After a restart the lock comes along (held throughout, so no second daemon slips in).
  Result<PidFile> pidfile = [&] {
    const char* kept = std::getenv("MAYA_PIDFILE_FD");
    if (kept == nullptr) return PidFile::acquire(config.pidfile());
    int fd = std::atoi(kept);
    ::unsetenv("MAYA_PIDFILE_FD");
    return PidFile::adopt(config.pidfile(), fd);
  }();
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
  // Reported once the half-started daemon is gone (pidfile, sockets, threads), so that
  // `maya load` returns to a clean slate.
  return start_error(started.error().message);
}

}  // namespace maya::daemon
