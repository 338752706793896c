// Replicas and snapshots of a volume: what its storage driver's optional capabilities
// (ReplicaManager, SnapshotManager) offer, called under the volume service's rules (names
// checked, the volume's lock and idleness where the operation needs them), and the snapshots
// of the whole host, deleted volumes' kept ones too.
#include "drivers/volume/docker/docker_volume_driver.h"
#include "lib/common/names.h"

namespace maya::drivers::docker {
namespace {

// The volume's storage driver as capability C, or an error naming what it lacks.
template <class C>
Result<C*> capability(StorageDriver& storage, const std::string& volume, const char* what) {
  auto* c = dynamic_cast<C*>(&storage);
  if (c == nullptr)
    return fail("volume " + volume + " uses the " + std::string(storage.name()) +
                " driver, which has no " + what);
  return c;
}

}  // namespace

Result<std::string> DockerVolumeDriver::add_replica(const std::string& volume,
                                                    const std::string& pool) {
  MAYA_TRY(call, storage_call(volume, true));
  MAYA_TRY(m, capability<ReplicaManager>(*call->storage, volume, "replicas"));
  return (*m)->add_replica(volume, pool);
}

Result<void> DockerVolumeDriver::remove_replica(const std::string& volume, const std::string& id) {
  MAYA_TRY(call, storage_call(volume, true));
  MAYA_TRY(m, capability<ReplicaManager>(*call->storage, volume, "replicas"));
  return (*m)->remove_replica(volume, id);
}

Result<void> DockerVolumeDriver::fail_replica(const std::string& volume, const std::string& id,
                                              const std::string& reason) {
  MAYA_TRY(call, storage_call(volume, true));
  MAYA_TRY(m, capability<ReplicaManager>(*call->storage, volume, "replicas"));
  return (*m)->fail_replica(volume, id, reason);
}

Result<std::vector<std::string>> DockerVolumeDriver::rebuild(const std::string& volume) {
  MAYA_TRY(call, storage_call(volume, true));
  MAYA_TRY(m, capability<ReplicaManager>(*call->storage, volume, "replicas"));
  return (*m)->rebuild(volume);
}

Result<SnapshotInfo> DockerVolumeDriver::create_snapshot(const std::string& volume,
                                                         const std::string& snapshot) {
  MAYA_TRY(call, storage_call(volume, true));
  MAYA_TRY(m, capability<SnapshotManager>(*call->storage, volume, "snapshots"));
  // A mounted volume's file system is frozen for the instant of the point in time.
  SnapshotManager::Quiesce quiesce;
  if (call->record.references() > 0)
    quiesce = [this, volume](bool frozen) { return freeze(volume, frozen); };
  return (*m)->create_snapshot(volume, snapshot, quiesce);
}

Result<std::vector<SnapshotInfo>> DockerVolumeDriver::list_snapshots(const std::string& volume) {
  MAYA_TRY(call, storage_call(volume, true));
  MAYA_TRY(m, capability<SnapshotManager>(*call->storage, volume, "snapshots"));
  return (*m)->list_snapshots(volume);
}

Result<void> DockerVolumeDriver::delete_snapshot(const std::string& volume,
                                                 const std::string& snapshot) {
  MAYA_TRY(call, storage_call(volume, true));
  MAYA_TRY(m, capability<SnapshotManager>(*call->storage, volume, "snapshots"));
  return (*m)->delete_snapshot(volume, snapshot);
}

Result<void> DockerVolumeDriver::revert_snapshot(const std::string& volume,
                                                 const std::string& snapshot) {
  MAYA_TRY(call, storage_call(volume, false));  // the volume idle, its lock held
  MAYA_TRY(m, capability<SnapshotManager>(*call->storage, volume, "snapshots"));
  return (*m)->revert_snapshot(volume, snapshot);
}

Result<void> DockerVolumeDriver::freeze(const std::string& name, bool frozen) {
  if (!is_mounted(name)) return {};
  return os_->freeze(mountpoint(name), frozen);
}

Result<std::vector<HostSnapshot>> DockerVolumeDriver::all_snapshots() {
  std::vector<HostSnapshot> out;
  for (const VolumeRecord& record : records_.load_all(nullptr)) {
    auto storage = storage_for(record.spec);
    auto* m = storage ? dynamic_cast<SnapshotManager*>(*storage) : nullptr;
    if (m == nullptr) continue;
    if (auto listed = m->list_snapshots(record.spec.name))
      for (auto& snap : *listed) out.push_back({record.spec.name, std::move(snap), false});
  }
  for (const auto& [name, driver] : storage_) {
    auto* m = dynamic_cast<SnapshotManager*>(driver.get());
    if (m == nullptr) continue;
    MAYA_TRY(kept, m->kept_snapshots());
    for (auto& k : *kept) out.push_back({k.volume, std::move(k.info), true});
  }
  return out;
}

Result<void> DockerVolumeDriver::delete_any_snapshot(const std::string& volume,
                                                     const std::string& snapshot) {
  MAYA_TRY_VOID(validate_volume_name(volume));
  MAYA_TRY(all, all_snapshots());
  bool volume_known = records_.exists(volume);
  for (const HostSnapshot& s : *all) {
    if (s.volume != volume) continue;
    volume_known = true;
    if (s.info.name != snapshot) continue;
    if (!s.volume_deleted) return delete_snapshot(volume, snapshot);
    for (const auto& [name, driver] : storage_) {
      auto* m = dynamic_cast<SnapshotManager*>(driver.get());
      if (m == nullptr || !m->delete_kept_snapshot(volume, snapshot)) continue;
      if (!records_.exists(volume)) {
        auto left = all_snapshots();
        bool more = false;
        if (left)
          for (const HostSnapshot& l : *left) more = more || l.volume == volume;
        if (left && !more) (void)deleted_.erase(volume);  // nothing left to clone from
      }
      return {};
    }
  }
  if (!volume_known) return fail("no such volume: " + volume);
  return fail("volume " + volume + " has no snapshot " + snapshot);
}

}  // namespace maya::drivers::docker
