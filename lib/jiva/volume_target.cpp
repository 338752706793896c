#include "lib/jiva/volume_target.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <mutex>
#include <thread>

#include "lib/block/file_backend.h"
#include "lib/common/files.h"
#include "lib/common/log.h"
#include "lib/common/names.h"
#include "lib/common/time_format.h"
#include "lib/http/json.h"
#include "lib/http/router.h"
#include "lib/http/server.h"
#include "lib/jiva/fuse_frontend.h"
#include "lib/jiva/manifest.h"
#include "lib/process/pidfile.h"
#include "lib/process/signals.h"
#include "lib/target/target.h"

namespace maya::jiva {
namespace {

namespace asio = boost::asio;
using nlohmann::json;

int failed(const std::string& message) {
  log::error(message);
  return 1;
}

// The control API's event loop on its own thread; handlers run on the server's workers.
class ControlLoop {
 public:
  ControlLoop() : work_(asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
  ~ControlLoop() {
    server_.reset();
    work_.reset();
    io_.stop();
    thread_.join();
  }
  Result<void> listen(const fs::path& socket, http::Router router) {
    http::ServerOptions options;
    options.socket_mode = 0600;
    options.make_error = http::json_error;
    options.workers = 2;
    MAYA_TRY(server, http::UnixServer::listen(io_, socket, options, std::move(router)));
    server_ = std::move(*server);
    return {};
  }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
  std::unique_ptr<http::UnixServer> server_;
};

// The volume's frontends and the rule that only one of them writes at a time.
class Frontends {
 public:
  Frontends(block::BlockBackend& backend, fs::path fuse_dir, std::string volume)
      : backend_(backend), fuse_dir_(std::move(fuse_dir)), volume_(std::move(volume)) {}

  void set_target(target::Target* t) { target_ = t; }
  bool admits_iscsi() const { return !local_.load(); }

  Result<void> resume_fuse(int fd) {
    std::lock_guard lock(mutex_);
    local_ = true;
    auto resumed = FuseFrontend::resume(Fd(fd), fuse_dir_, backend_);
    if (!resumed) {
      local_ = false;
      return std::unexpected(resumed.error());
    }
    fuse_ = std::move(*resumed);
    log::info("fuse: resumed serving " + fuse_->file().string());
    return {};
  }

  http::Response expose_fuse() {
    std::lock_guard lock(mutex_);
    if (!fuse_) {
      local_ = true;  // from now on no login completes; then check nobody is logged in
      if (std::size_t n = target_->normal_session_count(); n > 0) {
        local_ = false;
        return http::json_error(409, "volume " + volume_ + " has " + std::to_string(n) +
                                         " iSCSI session(s); it cannot be attached to this "
                                         "host while an initiator uses it");
      }
      auto mounted = FuseFrontend::mount(fuse_dir_, backend_, volume_);
      if (!mounted) {
        local_ = false;
        return http::json_error(500, mounted.error().message);
      }
      fuse_ = std::move(*mounted);
      log::info("fuse: serving " + fuse_->file().string());
    }
    return http::json_response(200, fuse_json());
  }

  http::Response withdraw_fuse() {
    std::lock_guard lock(mutex_);
    if (fuse_) {
      if (auto gone = fuse_->unmount(); !gone) return http::json_error(409, gone.error().message);
      fuse_.reset();
      log::info("fuse: unmounted " + fuse_dir_.string());
    }
    local_ = false;
    return http::json_response(200, {{"fuse", nullptr}});
  }

  json fuse_json() const {
    if (!fuse_) return nullptr;
    return {{"mountpoint", fuse_->mountpoint().string()},
            {"file", fuse_->file().string()},
            {"fd", fuse_->fd()},
            {"requests", fuse_->requests()}};
  }
  json status_fuse() {
    std::lock_guard lock(mutex_);
    return fuse_json();
  }

 private:
  block::BlockBackend& backend_;
  const fs::path fuse_dir_;
  const std::string volume_;
  target::Target* target_ = nullptr;
  std::mutex mutex_;
  std::atomic<bool> local_{false};
  std::unique_ptr<FuseFrontend> fuse_;
};

}  // namespace

int run_volume_target(const VolumeTargetOptions& options) {
  block_stop_signals();
  ::signal(SIGPIPE, SIG_IGN);
  if (auto valid = validate_volume_name(options.volume); !valid)
    return failed(valid.error().message);
  const fs::path volume_dir = options.store_dir / options.volume;
  auto manifest = read_manifest(volume_dir);
  if (!manifest) return failed("volume " + options.volume + ": " + manifest.error().message);
  const TargetPaths paths = target_paths(options.run_dir, options.volume);
  if (auto made = make_dirs(paths.pidfile.parent_path(), 0755); !made)
    return failed(made.error().message);
  auto pidfile = PidFile::acquire(paths.pidfile, "the target of volume " + options.volume);
  if (!pidfile) return failed(pidfile.error().message);

  auto dir = replica_dir(manifest->replicas.front());
  if (!dir) return failed("volume " + options.volume + ": " + dir.error().message);
  block::FileBackendOptions file_options;
  file_options.size = manifest->size_bytes;
  file_options.block_size = manifest->block_size;
  auto backend = block::FileBackend::open(replica_data(*dir), file_options);
  if (!backend) return failed("volume " + options.volume + ": " + backend.error().message);

  Frontends frontends(**backend, paths.fuse_dir, options.volume);
  auto chap = read_chap(volume_dir);
  if (!chap) return failed("volume " + options.volume + ": " + chap.error().message);
  target::TargetOptions target_options;
  target_options.listen =
      target::format_endpoint(target::Endpoint{options.address, manifest->port});
  target_options.iqn = manifest->iqn;
  target_options.alias = options.volume;
  target_options.chap.user = chap->user;
  target_options.chap.secret = chap->secret;
  target_options.admit_normal = [&frontends] { return frontends.admits_iscsi(); };
  auto target = target::Target::create(target_options, **backend);
  if (!target) {
    return failed("volume " + options.volume + ": cannot serve on " + target_options.listen + ": " +
                  target.error().message);
  }
  frontends.set_target(target->get());
  if (options.fuse_fd >= 0) {
    if (auto resumed = frontends.resume_fuse(options.fuse_fd); !resumed)
      return failed("volume " + options.volume + ": " + resumed.error().message);
  }
  const std::string portal = target::format_endpoint((*target)->endpoint());
  const std::string started_at = iso8601();

  http::Router router(http::json_error);
  router.add("GET", "/v1/status", [&](const http::Request&, const std::string&) {
    json replicas = json::array();
    for (const auto& r : manifest->replicas)
      replicas.push_back({{"id", r.id}, {"uri", r.uri}, {"mode", "RW"}});
    return http::json_response(200, {{"volume", options.volume},
                                     {"pid", ::getpid()},
                                     {"iqn", manifest->iqn},
                                     {"portal", portal},
                                     {"started_at", started_at},
                                     {"size_bytes", manifest->size_bytes},
                                     {"connections", (*target)->connection_count()},
                                     {"sessions", (*target)->normal_session_count()},
                                     {"replicas", replicas},
                                     {"fuse", frontends.status_fuse()}});
  });
  router.add("POST", "/v1/frontend/fuse",
             [&](const http::Request&, const std::string&) { return frontends.expose_fuse(); });
  router.add("DELETE", "/v1/frontend/fuse",
             [&](const http::Request&, const std::string&) { return frontends.withdraw_fuse(); });
  ControlLoop control;
  if (auto listening = control.listen(paths.socket, std::move(router)); !listening)
    return failed("volume " + options.volume + ": " + listening.error().message);

  (*target)->start();
  log::info("target for volume " + options.volume + " (pid " + std::to_string(::getpid()) +
            "): serving " + manifest->iqn + " on " + portal +
            (chap->user.empty() ? "" : " with CHAP"));
  std::printf("serving %s on %s\n", manifest->iqn.c_str(), portal.c_str());
  std::fflush(stdout);

  int sig = wait_for_stop_signal();
  log::info("target for volume " + options.volume + ": " + (sig == SIGINT ? "SIGINT" : "SIGTERM") +
            ", stopping");
  (*target)->stop();
  return 0;
}

}  // namespace maya::jiva
