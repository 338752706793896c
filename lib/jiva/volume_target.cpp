#include "lib/jiva/volume_target.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <mutex>
#include <thread>

#include "lib/common/files.h"
#include "lib/common/log.h"
#include "lib/common/names.h"
#include "lib/common/time_format.h"
#include "lib/http/json.h"
#include "lib/http/router.h"
#include "lib/http/server.h"
#include "lib/iscsi_target/target.h"
#include "lib/jiva/frontends.h"
#include "lib/jiva/manifest.h"
#include "lib/jiva/remote_rejoin.h"
#include "lib/jiva/remote_replicas.h"
#include "lib/jiva/replica_files.h"
#include "lib/jiva/target_api.h"
#include "lib/process/pidfile.h"
#include "lib/process/signals.h"
#include "lib/replica/replicator.h"

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

}  // namespace

int run_volume_target(const VolumeTargetOptions& options) {
  block_stop_signals();
  ::signal(SIGPIPE, SIG_IGN);
  // Idle connections must never take the descriptors the replicas and journal need.
  if (auto raised = iscsi_target::raise_descriptor_limit(); !raised)
    log::warn(raised.error().message);
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

  // This host owns the volume's remote replicas that nobody else holds. It never takes one
  // over from another owner by itself (a restart, a failed open would fence a live owner):
  // taking over is a decision of whoever moves the volume (IscsiFence::claim), which the realm
  // hands over as jiva.json's claim_remote, for one start only (below).
  const std::uint64_t key = options.owner.empty() ? 0 : owner_key(options.owner, options.volume);
  const bool claim = manifest->claim_remote && key != 0;
  replica::Replicator::Options replication;
  replication.size_bytes = manifest->size_bytes;
  replication.block_size = manifest->block_size;
  replication.thin = manifest->thin;
  replication.space_warn_percent = options.space_warn_percent;
  replication.quorum_writes = manifest->quorum;
  // Below 2^32 epochs and 2^32 membership changes per epoch, an owner's generations stay
  // above every older owner's.
  replication.min_generation = manifest->epoch < (1ull << 31) ? manifest->epoch << 32 : 0;
  auto replicator = replica::Replicator::open(
      open_replicas(*manifest, {volume_dir, options.io_timeout, key, claim}), replication);
  if (!replicator) return failed("volume " + options.volume + ": " + replicator.error().message);
  if (manifest->claim_remote) {
    // The claim was spent on this open. A later start of this target (kill -9, a daemon
    // restart, this host back after it was given up for dead) must never preempt again: by
    // then another host may own the volume, and this one must stay fenced off. So the flag
    // goes, durably (a power cut right after must not bring it back), before anything is
    // served. If it cannot go, nothing is served: serving with the flag left would arm the next
    // start to preempt whoever owns the volume by then. The replicas stay reserved under this
    // key, nothing writes to them, and the supervisor's next start (while the volume is being
    // created here, see the jiva driver's create) claims again, as the one who moved it asked.
    if (auto cleared = clear_claim_remote(volume_dir); !cleared) {
      (*replicator)->close();
      return failed("volume " + options.volume +
                    ": the remote replicas were claimed, but the claim cannot be cleared from "
                    "jiva.json, so the volume is not served: " +
                    cleared.error().message);
    }
    manifest->claim_remote = false;
    log::info("volume " + options.volume + ": " +
              (claim ? "its remote replicas were claimed (" + (*replicator)->health() + ")"
                     : std::string("no owner key, nothing to claim")) +
              "; the claim is cleared from jiva.json");
  }

  Frontends frontends(**replicator, paths.fuse_dir, options.volume, options.fuse_io_uring);
  auto chap = read_chap(volume_dir);
  if (!chap) return failed("volume " + options.volume + ": " + chap.error().message);
  iscsi_target::TargetOptions target_options;
  target_options.listen =
      iscsi_target::format_endpoint(iscsi_target::Endpoint{options.address, manifest->port});
  target_options.iqn = manifest->iqn;
  target_options.alias = options.volume;
  target_options.chap.user = chap->user;
  target_options.chap.secret = chap->secret;
  target_options.admit_normal = [&frontends] { return frontends.admits_iscsi(); };
  target_options.limits = {options.max_connections, options.max_connections_per_address};
  auto target = iscsi_target::Target::create(target_options, **replicator);
  if (!target) {
    return failed("volume " + options.volume + ": cannot serve on " + target_options.listen + ": " +
                  target.error().message);
  }
  frontends.set_target(target->get());
  if (options.fuse_fd >= 0) {
    if (auto resumed = frontends.resume_fuse(options.fuse_fd); !resumed)
      return failed("volume " + options.volume + ": " + resumed.error().message);
  }

  TargetState state;
  state.volume = options.volume;
  state.volume_dir = volume_dir;
  state.manifest = *manifest;
  state.target = target->get();
  state.replicator = replicator->get();
  state.frontends = &frontends;
  state.portal = iscsi_target::format_endpoint((*target)->endpoint());
  state.started_unix = std::time(nullptr);
  state.started_at = iso8601(static_cast<std::time_t>(state.started_unix));
  state.io_timeout = options.io_timeout;
  state.owner_key = key;
  ControlLoop control;
  if (auto listening = control.listen(paths.socket, make_target_router(state)); !listening)
    return failed("volume " + options.volume + ": " + listening.error().message);

  (*target)->start();
  auto rejoin = std::make_unique<RemoteRejoin>(state);
  log::info("target for volume " + options.volume + " (pid " + std::to_string(::getpid()) +
            "): serving " + manifest->iqn + " on " + state.portal +
            (chap->user.empty() ? "" : " with CHAP") + ", " +
            std::to_string(manifest->replicas.size()) + " replica(s), " + (*replicator)->health());
  std::printf("serving %s on %s\n", manifest->iqn.c_str(), state.portal.c_str());
  std::fflush(stdout);

  int sig = wait_for_stop_signal();
  log::info("target for volume " + options.volume + ": " + (sig == SIGINT ? "SIGINT" : "SIGTERM") +
            ", stopping");
  rejoin.reset();  // before the replicator closes: it adds replicas back
  (*target)->stop();
  frontends.stop_serving();  // the FUSE mount stays for the next target; no request runs now
  (*replicator)->close();
  return 0;
}

}  // namespace maya::jiva
