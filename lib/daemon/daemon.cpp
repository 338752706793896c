#include "lib/daemon/daemon.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <thread>

#include "drivers/registry.h"
#include "lib/common/files.h"
#include "lib/common/log.h"
#include "lib/common/time_format.h"
#include "lib/daemon/control_api.h"
#include "lib/daemon/volume_api.h"
#include "lib/http/server.h"
#include "lib/iscsi/discovery.h"
#include "lib/process/pidfile.h"
#include "lib/target/target.h"
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

class Daemon {
 public:
  Daemon(config::Config config, PidFile pidfile, bool log_to_file)
      : config_(std::move(config)), pidfile_(std::move(pidfile)), log_to_file_(log_to_file) {}

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
    };
    http::Router control_router = make_control_router(std::move(hooks));
    add_volume_routes(control_router, volumes_.get(), defaults);
    add_volume_ops_routes(control_router, volumes_.get());
    MAYA_TRY(control, http::UnixServer::listen(io_, config_.control_socket(), control_options,
                                               std::move(control_router)));
    control_ = std::move(*control);

    if (volumes_ && serves_docker()) {
      MAYA_TRY(dir, make_dirs(config_.plugin_socket.parent_path(), 0755));
      http::ServerOptions plugin_options;
      plugin_options.socket_mode = 0660;
      plugin_options.make_error = plugin::docker::docker_error;
      plugin_options.workers = 8;  // Docker sends requests in parallel; mounts can be slow
      MAYA_TRY(plugin, http::UnixServer::listen(io_, config_.plugin_socket, plugin_options,
                                                plugin::docker::make_router(*volumes_, defaults)));
      plugin_ = std::move(*plugin);
    }

    signals_.async_wait([this](auto ec, int sig) { on_signal(ec, sig); });
    return {};
  }

  void run() {
    log::info("maya " MAYA_VERSION " daemon started (pid " + std::to_string(::getpid()) +
              ", config " + config_.file.string() + ")");
    log::info("control API on " + config_.control_socket().string());
    if (plugin_) log::info("Docker volume plugin \"maya\" on " + config_.plugin_socket.string());
    if (discovery_)
      log::info("iSCSI discovery portal on " + target::format_endpoint(discovery_->endpoint()));
    io_.run();
    {
      std::lock_guard lock(finished_mutex_);
      finished_ = true;
    }
    finished_cv_.notify_all();
    if (watchdog_.joinable()) watchdog_.join();
    control_.reset();  // joins its workers
    plugin_.reset();
    if (discovery_) discovery_->stop();
    pidfile_.release();
    log::info("maya daemon stopped");
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
    target::TargetOptions options;
    options.listen = target::format_endpoint({config_.iscsi_address, config_.iscsi_discovery_port});
    options.limits = {config_.iscsi_max_connections, config_.iscsi_max_connections_per_address};
    const std::string address = config_.iscsi_address;
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
    auto portal = target::Target::create_discovery(options, std::move(directory));
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
    json sockets = {{"control", config_.control_socket().string()}};
    if (plugin_) sockets["plugin"] = config_.plugin_socket.string();
    if (discovery_) sockets["iscsi_discovery"] = target::format_endpoint(discovery_->endpoint());
    json status = {
        {"pid", ::getpid()},
        {"version", MAYA_VERSION},
        {"started_at", iso8601(started_wall_)},
        {"uptime_seconds", uptime.count()},
        {"config", config_.file.string()},
        {"config_loaded_at", iso8601(loaded_wall_)},
        {"host", {{"name", config_.host_name}, {"id", config_.host_id}}},
        {"roles", roles},
        {"sockets", sockets},
        {"log_level", std::string(log::level_name(config_.log_level))},
        {"log_file", log_to_file_ ? json(config_.log_file().string()) : json(nullptr)},
        {"volumes", count_volumes()},
    };
    if (!discovery_error_.empty()) status["warnings"] = json::array({discovery_error_});
    status["store"] = store_json();
    return status;
  }

  // The store's free space against what its thin volumes may grow to (null: no storage role).
  json store_json() {
    if (!volumes_) return nullptr;
    auto space = volumes_->store_space();
    if (!space) return {{"path", config_.store_dir.string()}, {"error", space.error().message}};
    return {{"path", space->store.string()},
            {"committed_bytes", space->committed_bytes},
            {"free_bytes", space->free_bytes},
            {"total_bytes", space->total_bytes},
            {"overcommitted", space->committed_bytes > space->free_bytes}};
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
  std::unique_ptr<drivers::docker::DockerVolumeDriver> volumes_;
  std::unique_ptr<http::UnixServer> control_;
  std::unique_ptr<http::UnixServer> plugin_;
  std::unique_ptr<target::Target> discovery_;
  std::string discovery_error_;
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

}  // namespace

int run(config::Config config, const Options& options) {
  ReadyPipe ready(options.ready_fd);
  auto start_error = [&](const std::string& message) {
    log::error(message);
    ready.send("error: " + message + "\n");
    return 1;
  };
  log::set_level(config.log_level);
  for (const fs::path& dir : {config.run_dir, config.state_dir}) {
    if (auto made = make_dirs(dir, 0755); !made) return start_error(made.error().message);
  }
  if (options.log_to_file) {
    if (auto opened = open_log_file(config.log_file()); !opened)
      return start_error(opened.error().message);
  }
  auto pidfile = PidFile::acquire(config.pidfile());
  if (!pidfile) return start_error(pidfile.error().message);

  Result<void> started;
  {
    Daemon daemon(std::move(config), std::move(*pidfile), options.log_to_file);
    started = daemon.start();
    if (started) {
      ready.send("ready\n");
      daemon.run();
      return 0;
    }
  }
  // Reported once the half-started daemon is gone (pidfile, sockets, threads), so that
  // `maya load` returns to a clean slate.
  return start_error(started.error().message);
}

}  // namespace maya::daemon
