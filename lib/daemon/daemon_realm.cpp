// The host's part in its realm ([realm] etcd set): the HostAgent registers it, keeps its lease
// and publishes its pools; RealmVolumes makes jiva volumes the realm's; the realm thread keeps
// the replicas placed here made and shared (RealmReplicas) and drops nexuses that another host
// took over. `maya status` shows the membership. Single-host mode (no etcd) runs none of it.
#include "lib/common/log.h"
#include "lib/daemon/daemon_server.h"
#include "lib/daemon/realm_replicas.h"
#include "lib/daemon/realm_requests.h"
#include "lib/daemon/realm_volumes.h"
#include "lib/ebs/ids.h"
#include "lib/realm/host_agent.h"
#include "lib/realm/realm_config.h"

namespace maya::daemon {

using namespace std::chrono_literals;

void Daemon::make_realm() {
  if (!config_.in_realm()) return;
  auto store = realm::open_store(config_);
  if (!store) {
    realm_error_ = store.error().message;
    log::error("realm " + config_.realm_name + ": " + realm_error_);
    return;
  }
  realm_ = std::make_unique<realm::HostAgent>(
      std::move(*store), config_.realm_name, config_.realm_lease_ttl,
      [this] { return describe_host(); }, config_.state_dir / "realm-lease");
}

void Daemon::wrap_volumes_for_realm() {
  if (!realm_) return;
  RealmVolumes::Options options;
  options.host_id = config_.host_id;
  options.host_name = config_.host_name;
  options.default_fstype = config_.volume_defaults.fstype;
  options.attach_mode = config_.volume_defaults.attach;
  options.state_file = config_.state_dir / "realm-attached.json";
  options.new_ebs_id = [] { return ebs::new_volume_id(); };
  auto wrapped = std::make_unique<RealmVolumes>(std::move(volumes_), *realm_, options);
  realm_volumes_ = wrapped.get();
  volumes_ = std::move(wrapped);
}

void Daemon::start_realm() {
  if (!realm_) return;
  realm_->start();
  if (api_ && volumes_)
    realm_requests_ = std::make_unique<RealmRequests>(*realm_, *api_, config_.host_id);
  realm_thread_ = std::thread([this] { realm_loop(); });
}

// Woken by etcd's watch on the realm (a volume created, deleted, attached elsewhere), else
// every 2 s; etcd away: it waits and tries again.
void Daemon::realm_loop() {
  std::unique_ptr<RealmReplicas> replicas;
  if (pools_ && shares_)
    replicas = std::make_unique<RealmReplicas>(*realm_, *pools_, *shares_, config_.host_id);
  auto stopping = [this] {
    std::lock_guard lock(realm_mutex_);
    return realm_stopping_;
  };
  while (!stopping()) {
    std::int64_t revision = 0;
    if (replicas)
      for (const std::string& note : replicas->reconcile(revision))
        log::info("realm replicas: " + note);
    if (realm_volumes_)
      for (const std::string& note : realm_volumes_->drop_stale())
        log::info("realm volumes: " + note);
    if (realm_volumes_)
      for (const std::string& note : realm_volumes_->move_off_drained())
        log::info("realm drain: " + note);
    serve_ebs_requests();
    // A change wakes the next pass at once; a watch that saw none waited its 2 s already.
    if (revision != 0 && realm_->store().wait_changes(realm_->keys().root(), revision, 2s))
      continue;
    std::unique_lock lock(realm_mutex_);
    realm_cv_.wait_for(lock, revision != 0 ? 200ms : 2s, [this] { return realm_stopping_; });
  }
}

// A handover keeps the lease: the next image takes it back (realm-lease), so the host never
// shows down across `maya load --restart`.
void Daemon::stop_realm() {
  if (!realm_) return;
  {
    std::lock_guard lock(realm_mutex_);
    realm_stopping_ = true;
  }
  realm_cv_.notify_all();
  if (realm_thread_.joinable()) realm_thread_.join();
  realm_->stop(/*revoke=*/!handover_.has_value());
}

realm::HostRecord Daemon::describe_host() {
  realm::HostRecord host;
  {
    std::lock_guard lock(mutex_);
    host = realm::host_basics(config_);
  }
  host.volumes = count_volumes();
  if (!pools_) return host;
  auto pools = pools_->list();
  if (!pools) return host;
  for (const auto& p : *pools) {
    const std::uint64_t used = std::min(p.used_bytes, p.capacity_bytes);
    // Coarse (1 % of the pool, at least 64 MiB): the record is republished, and every host's
    // realm thread woken, when the free space moves by that much, not at every write.
    const std::uint64_t grain = std::max<std::uint64_t>(64ull << 20, p.capacity_bytes / 100);
    const std::uint64_t free = (p.capacity_bytes - used) / grain * grain;
    host.pools.push_back({p.name, p.state, p.capacity_bytes, free});
  }
  return host;
}

nlohmann::json Daemon::realm_json() const {
  if (!config_.in_realm()) return nullptr;
  if (realm_) return realm_->status();
  return {{"name", config_.realm_name}, {"registered", false}, {"error", realm_error_}};
}

}  // namespace maya::daemon
