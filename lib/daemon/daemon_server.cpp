#include "lib/daemon/daemon_server.h"
#include "lib/realm/host_agent.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <cstdio>
#include <random>

#include "drivers/os/linux/linux_os_driver.h"
#include "drivers/registry.h"
#include "lib/common/files.h"
#include "lib/common/log.h"
#include "lib/daemon/control_api.h"
#include "lib/daemon/pool_api.h"
#include "lib/daemon/realm_requests.h"
#include "lib/daemon/volume_api.h"
#include "lib/ebs/api.h"
#include "plugin/docker/docker_plugin.h"

namespace maya::daemon {
namespace {

// How long a clean shutdown may wait for in-flight requests before the loop is stopped.
constexpr auto kShutdownGrace = std::chrono::seconds(10);

std::string random_instance() {
  std::random_device rd;
  char text[17];
  std::snprintf(text, sizeof text, "%08x%08x", rd(), rd());
  return text;
}

}  // namespace

Daemon::Daemon(config::Config config, PidFile pidfile, bool log_to_file,
               std::vector<InheritedSocket> inherited)
    : config_(std::move(config)),
      pidfile_(std::move(pidfile)),
      log_to_file_(log_to_file),
      inherited_(std::move(inherited)),
      instance_(random_instance()) {}

Daemon::~Daemon() {
  for (const InheritedSocket& s : inherited_)
    if (s.fd >= 0) ::close(s.fd);
}

Result<void> Daemon::start() {
  make_realm();
  if (config_.role_storage) {
    import_pools();
    MAYA_TRY_VOID(open_volumes());
  }
  make_api();
  MAYA_TRY_VOID(open_control_api());
  if (volumes_ && serves_docker()) MAYA_TRY_VOID(open_plugin());
  open_api();
  open_metrics();
  close_unclaimed_sockets();
  start_realm();
  await_signal();
  return {};
}

// Every known disk pool, found by its UUID wherever its disk is now, and mounted.
void Daemon::import_pools() {
  pool_os_ = std::make_unique<drivers::linux_os::LinuxOsDriver>();
  pools_ = std::make_unique<drivers::pools::PoolService>(*pool_os_, config_.state_dir,
                                                         config_.store_dir);
  for (const std::string& note : pools_->import_all()) log::info("pools: " + note);
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  drivers::pools::ReplicaShares::Options options;
  options.serve_command = {self.string(), "--config", config_.file.string(), "replica", "serve"};
  options.address = config_.iscsi_address;
  options.advertise = config_.iscsi_advertise;
  options.port_first = config_.iscsi_share_port_first;
  options.port_last = config_.iscsi_share_port_last;
  shares_ = std::make_unique<drivers::pools::ReplicaShares>(*pools_, std::move(options));
}

Result<void> Daemon::open_volumes() {
  MAYA_TRY(volumes, drivers::make_volume_driver(config_, pools_.get()));
  volumes_ = std::move(*volumes);
  wrap_volumes_for_realm();
  reconcile_at_start();
  start_targets();
  if (pools_) start_pool_watch();
  // Without the discovery portal every volume still works (by its own portal); a port another iSCSI
  // target holds must not keep the host from serving its volumes.
  if (auto discovery = start_discovery(); !discovery) {
    discovery_error_ = discovery.error().message;
    log::error(discovery_error_);
  }
  return {};
}

void Daemon::reconcile_at_start() {
  for (const std::string& note : volumes_->reconcile()) log::info("reconcile: " + note);
}

void Daemon::start_pool_watch() {
  config::VolumeDefaults defaults;
  {
    std::lock_guard lock(mutex_);
    defaults = config_.volume_defaults;
  }
  const PoolWatch::Options options{defaults.auto_replace, defaults.replace_after,
                                   std::chrono::seconds(2)};
  std::lock_guard lock(watch_mutex_);
  if (watch_closed_) return;
  if (pool_watch_) {  // a reload: new settings, the same memory of failed replicas
    pool_watch_->set_options(options);
    return;
  }
  drivers::pools::PoolService* pools = pools_.get();
  pool_watch_ = std::make_unique<PoolWatch>([pools] { return pools->list(); },
                                            [pools](std::map<std::string, std::string> errors) {
                                              pools->set_read_errors(std::move(errors));
                                            },
                                            *volumes_, volume_events_, options);
}

void Daemon::stop_pool_watch() {
  std::lock_guard lock(watch_mutex_);
  watch_closed_ = true;
  pool_watch_.reset();
}

void Daemon::start_targets() {
  for (drivers::TargetHost* host : volumes_->target_hosts()) {
    for (const std::string& note : host->start_targets()) log::info("targets: " + note);
  }
}

Result<void> Daemon::open_control_api() {
  http::ServerOptions options;
  options.socket_mode = 0600;
  options.make_error = json_error;
  http::Router router = make_control_router({
      [this] { return status(); },
      [this] { return reload_all(); },
      [this](bool stop_targets) { return shutdown(stop_targets); },
      [this](const std::string& exe) { return restart(exe); },
  });
  add_volume_routes(
      router, volumes_.get(), [this] { return volume_defaults(); }, ebs_ids(), &volume_events_);
  add_volume_ops_routes(router, volumes_.get());
  router.add("GET", "/v1/volumes/{name}/stats",
             [this](const http::Request&, const std::string& name) { return volume_stats(name); });
  add_pool_routes(router, pools_.get(), shares_.get());
  MAYA_TRY(control, serve_unix("control", config_.control_socket(), options,
                               counted(front_doors_.cli, std::move(router))));
  control_ = std::move(*control);
  return {};
}

Result<void> Daemon::open_plugin() {
  MAYA_TRY_VOID(make_dirs(config_.plugin_socket.parent_path(), 0755));
  http::ServerOptions options;
  options.socket_mode = 0660;
  options.make_error = plugin::docker::docker_error;
  options.workers = 8;  // Docker sends requests in parallel; mounts can be slow
  auto router = plugin::docker::make_router(
      *volumes_, [this] { return volume_defaults(); }, ebs_ids());
  MAYA_TRY(plugin, serve_unix("plugin", config_.plugin_socket, options,
                              counted(front_doors_.docker, std::move(router))));
  plugin_ = std::move(*plugin);
  return {};
}

void Daemon::close_unclaimed_sockets() {
  for (InheritedSocket& s : inherited_) {
    if (s.fd < 0) continue;
    log::warn("an inherited socket (" + (s.name.empty() ? "unnamed" : s.name) +
              ") matches nothing this config serves; closing it");
    ::close(std::exchange(s.fd, -1));
  }
}

void Daemon::await_signal() {
  signals_.async_wait([this](auto ec, int sig) { on_signal(ec, sig); });
}

std::optional<Handover> Daemon::run() {
  log_serving();
  io_.run();
  finish_requests();
  if (handover_) return hand_over();
  shut_down();
  return std::nullopt;
}

void Daemon::log_serving() const {
  log::info("maya " MAYA_VERSION " daemon started (pid " + std::to_string(::getpid()) +
            ", config " + config_.file.string() + ")");
  for (const std::string& note : adopted_) log::info(note);
  log::info("control API on " + config_.control_socket().string());
  if (plugin_) log::info("Docker volume plugin \"maya\" on " + config_.plugin_socket.string());
  if (discovery_)
    log::info("iSCSI discovery portal on " + iscsi_target::format_endpoint(discovery_->endpoint()));
  if (api_server_) log::info("EBS-compatible API on http://" + api_server_->endpoint());
  if (metrics_server_) log::info("metrics on http://" + metrics_server_->endpoint() + "/metrics");
}

// The loop ran out of work: the watchdog is let go, the servers join their workers.
void Daemon::finish_requests() {
  {
    std::lock_guard lock(finished_mutex_);
    finished_ = true;
  }
  finished_cv_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
  stop_pool_watch();  // before the requests' servers: it calls the volumes too
  stop_realm();       // it reads the pools
  control_.reset();   // joins its workers
  plugin_.reset();
  // Closed, not handed over: the next image binds [api] listen again.
  api_server_.reset();
  metrics_server_.reset();
}

Handover Daemon::hand_over() {
  // Its threads die with the exec; stop() would shut the shared listening socket down.
  (void)discovery_.release();
  handover_->pidfile_fd = pidfile_.keep_across_exec();
  log::info("handing the sockets over to " + handover_->exe);
  return std::move(*handover_);
}

void Daemon::shut_down() {
  if (discovery_) discovery_->stop();
  pidfile_.release();
  log::info("maya daemon stopped");
}

void Daemon::on_signal(boost::system::error_code ec, int sig) {
  if (ec) return;
  if (sig == SIGHUP) {
    (void)reload_all();  // a broken file is logged and changes nothing
    await_signal();
    return;
  }
  stop(sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

// POST /v1/shutdown: volume targets keep running unless `stop_targets`.
Result<void> Daemon::shutdown(bool stop_targets) {
  if (stop_targets && volumes_) {
    for (drivers::TargetHost* host : volumes_->target_hosts()) {
      MAYA_TRY(stopped, host->stop_targets());
    }
  }
  boost::asio::post(io_, [this] { stop("shutdown requested"); });
  return {};
}

// POST /v1/restart: the answer goes out before the handover begins.
Result<nlohmann::json> Daemon::restart(const std::string& exe) {
  if (exe.empty() || exe.front() != '/' || ::access(exe.c_str(), X_OK) != 0)
    return fail("cannot restart as " + exe + ": not an executable absolute path");
  boost::asio::post(io_, [this, exe] { begin_handover(exe); });
  return nlohmann::json{{"restarting", true}, {"pid", ::getpid()}, {"instance", instance_}};
}

// A restart (`maya load --restart`): stop accepting, keep every listening socket open, let
// in-flight requests finish, then run() returns the handover and the caller execs `exe`. Clients
// that connect meanwhile wait in the sockets' backlogs: none is refused.
void Daemon::begin_handover(const std::string& exe) {
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

void Daemon::stop(const std::string& why) {
  if (stopping_) return;
  stopping_ = true;
  log::info("shutting down (" + why + ")");
  signals_.cancel();
  if (control_) control_->close();
  if (plugin_) plugin_->close();
  if (api_server_) api_server_->close();
  if (metrics_server_) metrics_server_->close();
  // In-flight requests finish and the loop runs out of work; a watchdog bounds the wait.
  watchdog_ = std::thread([this] {
    std::unique_lock lock(finished_mutex_);
    if (!finished_cv_.wait_for(lock, kShutdownGrace, [this] { return finished_; })) {
      log::warn("requests still running after the grace period; stopping anyway");
      io_.stop();
    }
  });
}

}  // namespace maya::daemon
