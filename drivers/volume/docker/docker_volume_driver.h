// The volume driver of every front door, with Docker's semantics (REX-Ray calls this the
// "docker" integration driver): references per (volume, mount ID), attach + mount on the first,
// unmount + detach on the last, counts persisted so they survive daemon restarts.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "drivers/os_driver.h"
#include "drivers/storage_driver.h"
#include "drivers/volume/volume_records.h"
#include "drivers/volume_driver.h"

namespace maya::drivers::docker {

class DockerVolumeDriver final : public VolumeDriver {
 public:
  using StorageDrivers = std::map<std::string, std::unique_ptr<StorageDriver>, std::less<>>;

  // Host settings from the config that a reload may change.
  struct Settings {
    bool keep_lost_found = false;     // keep ext4's empty lost+found after the first format
    std::filesystem::path store_dir;  // whose free space thin volumes are committed against
  };

  // Mountpoints go to <state_dir>/mounts/<name>, records to <state_dir>/volumes/.
  DockerVolumeDriver(StorageDrivers storage, std::unique_ptr<OsDriver> os,
                     std::filesystem::path state_dir);

  void configure(Settings settings);
  Settings settings();

  // The store's space against what its thin volumes may grow to (size × replicas each; thick
  // volumes hold their space already, so free space has counted them).
  struct StoreSpace {
    std::filesystem::path store;
    std::uint64_t committed_bytes = 0;  // thin volumes' size × replicas
    std::uint64_t free_bytes = 0;       // statvfs: available to maya
    std::uint64_t total_bytes = 0;
  };
  Result<StoreSpace> store_space();

  // Brings records and the host together after a start: mounts that records need are
  // restored, mounts and loop devices nobody references are released, references from an
  // earlier boot are dropped. Returns what it did, one line each, for the log.
  std::vector<std::string> reconcile();
  // The enabled storage drivers that run target processes (jiva).
  std::vector<TargetHost*> target_hosts() const;
  // Runs `op` on the storage driver of volume `name` (for its optional capabilities: replicas,
  // snapshots). Unless `in_use_ok`, it holds the volume's lock and refuses a mounted volume.
  using StorageOp = std::function<Result<nlohmann::json>(StorageDriver&, const VolumeRecord&)>;
  // Freezes or thaws the file system of a mounted volume (no-op when not mounted).
  Result<void> freeze(const std::string& name, bool frozen);
  Result<nlohmann::json> with_storage(const std::string& name, bool in_use_ok, const StorageOp& op);

  Result<VolumeInfo> create(const VolumeSpec& spec) override;
  // Keeps the volume's snapshots (SnapshotManager::kept_snapshots) unless `with_snapshots`.
  Result<void> remove(const std::string& name, bool force) override;
  Result<void> remove(const std::string& name, bool force, bool with_snapshots) override;
  Result<std::filesystem::path> mount(const std::string& name, const std::string& id) override;
  Result<void> unmount(const std::string& name, const std::string& id) override;
  Result<std::filesystem::path> path(const std::string& name) override;
  Result<VolumeInfo> get(const std::string& name) override;
  Result<std::vector<VolumeInfo>> list() override;

  // Every snapshot on this host: of existing volumes and those deleted volumes kept.
  struct HostSnapshot {
    std::string volume;
    SnapshotInfo info;
    bool volume_deleted = false;
  };
  Result<std::vector<HostSnapshot>> all_snapshots();
  // Deletes VOLUME@SNAPSHOT, whether its volume exists or was deleted.
  Result<void> delete_any_snapshot(const std::string& volume, const std::string& snapshot);

  // `maya volume attach`: the volume as a block device on this host, neither formatted nor
  // mounted (host_attach.cpp). Refused while containers mount it; Docker's Mount, a delete
  // without --force and operations that need the volume idle are refused while it is attached.
  // Attaching an attached volume gives its device again; detach of a detached one is a no-op.
  Result<std::filesystem::path> attach(const std::string& name);
  Result<void> detach(const std::string& name);

 private:
  std::shared_ptr<std::mutex> lock_for(const std::string& name);
  // What to tell whoever creates a volume when the store is overcommitted.
  std::optional<std::string> overcommit_warning();
  Result<StorageDriver*> storage_for(const VolumeSpec& spec);
  std::filesystem::path mountpoint(const std::string& name) const;
  bool is_mounted(const std::string& name);
  // Attach, format if blank, mount, set the root's owner. Undoes its own steps on failure.
  Result<std::filesystem::path> bring_up(const VolumeSpec& spec);
  // Unmount and detach.
  Result<void> bring_down(const VolumeSpec& spec);
  // Fails, naming them and saying `remedy`, when anyone but our own mount holds the volume's
  // device (another mount namespace's copy of the mount, an open file): checked before a
  // delete or a detach changes anything.
  Result<void> refuse_if_held(StorageDriver& storage, const std::string& name,
                              const std::string& remedy);
  VolumeInfo describe(const VolumeRecord& record);
  // At start: an attachment from an earlier boot is gone (the record is cleared); one from this
  // boot is attached again if its device went away. Returns a line for the log.
  std::string reconcile_host_attach(VolumeRecord& record);
  // A clone takes what its options did not set from its source volume's spec (the volume, or
  // the record kept when it was deleted); "no such volume" when neither exists.
  Result<void> inherit(VolumeSpec& spec);

  StorageDrivers storage_;
  std::unique_ptr<OsDriver> os_;
  std::filesystem::path state_dir_;
  VolumeRecords records_;
  VolumeRecords deleted_;  // <state>/deleted-volumes: specs of deleted volumes that kept snapshots
  std::string boot_id_;
  std::mutex settings_mutex_;
  Settings settings_;
  std::mutex locks_mutex_;
  std::map<std::string, std::shared_ptr<std::mutex>> locks_;
};

}  // namespace maya::drivers::docker
