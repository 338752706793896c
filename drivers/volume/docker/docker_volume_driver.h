// The volume service of every front door (VolumeService), with Docker's semantics (REX-Ray
// calls this the "docker" integration driver): references per (volume, mount ID), attach +
// mount on the first, unmount + detach on the last, counts persisted so they survive daemon
// restarts. Only drivers/registry.cpp (and tests) name this class.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "drivers/os_driver.h"
#include "drivers/storage_driver.h"
#include "drivers/volume/volume_records.h"
#include "drivers/volume_service.h"

namespace maya::drivers::docker {

class DockerVolumeDriver final : public VolumeService {
 public:
  using StorageDrivers = std::map<std::string, std::unique_ptr<StorageDriver>, std::less<>>;

  // Mountpoints go to <state_dir>/mounts/<name>, records to <state_dir>/volumes/.
  DockerVolumeDriver(StorageDrivers storage, std::unique_ptr<OsDriver> os,
                     std::filesystem::path state_dir);

  Result<VolumeInfo> create(const VolumeSpec& spec) override;
  // Keeps the volume's snapshots (SnapshotManager::kept_snapshots) unless `with_snapshots`.
  Result<void> remove(const std::string& name, bool force) override;
  Result<void> remove(const std::string& name, bool force, bool with_snapshots) override;
  Result<std::filesystem::path> mount(const std::string& name, const std::string& id) override;
  Result<void> unmount(const std::string& name, const std::string& id) override;
  Result<std::filesystem::path> path(const std::string& name) override;
  Result<VolumeInfo> get(const std::string& name) override;
  Result<std::vector<VolumeInfo>> list() override;

  // Replicas and snapshots go to the volume's storage driver; freeze is their quiesce
  // (volume_ops.cpp).
  Result<std::string> add_replica(const std::string& volume, const std::string& pool) override;
  Result<void> remove_replica(const std::string& volume, const std::string& id) override;
  Result<void> fail_replica(const std::string& volume, const std::string& id,
                            const std::string& reason) override;
  Result<std::vector<std::string>> rebuild(const std::string& volume) override;
  Result<SnapshotInfo> create_snapshot(const std::string& volume,
                                       const std::string& snapshot) override;
  Result<std::vector<SnapshotInfo>> list_snapshots(const std::string& volume) override;
  Result<void> delete_snapshot(const std::string& volume, const std::string& snapshot) override;
  Result<void> revert_snapshot(const std::string& volume, const std::string& snapshot) override;
  Result<std::vector<HostSnapshot>> all_snapshots() override;
  Result<void> delete_any_snapshot(const std::string& volume, const std::string& snapshot) override;
  Result<void> freeze(const std::string& name, bool frozen) override;
  // volume_resize.cpp
  Result<ResizeInfo> resize(const std::string& name, std::uint64_t size_bytes) override;

  // host_attach.cpp
  Result<std::filesystem::path> attach(const std::string& name) override;
  Result<void> detach(const std::string& name) override;
  Result<std::vector<std::string>> detach_when_released(const std::string& name) override;

  std::vector<std::string> reconcile() override;
  std::vector<TargetHost*> target_hosts() const override;
  void configure(VolumeSettings settings) override;
  Result<StoreSpace> store_space() override;

 private:
  std::shared_ptr<std::mutex> lock_for(const std::string& name);
  VolumeSettings settings();
  // A volume's record and storage driver, for an operation of its storage driver's optional
  // capabilities; unless `in_use_ok`, the volume's lock is held (in `guard`) and a volume in
  // use (mounted, or attached to this host) is refused.
  struct StorageCall {
    std::shared_ptr<std::mutex> lock;
    std::unique_lock<std::mutex> guard;
    VolumeRecord record;
    StorageDriver* storage = nullptr;
  };
  Result<StorageCall> storage_call(const std::string& name, bool in_use_ok);
  // What to tell whoever creates a volume when the store is overcommitted.
  std::optional<std::string> overcommit_warning();
  Result<StorageDriver*> storage_for(const VolumeSpec& spec);
  std::filesystem::path mountpoint(const std::string& name) const;
  bool is_mounted(const std::string& name);
  // Attach, format if blank, mount, set the root's owner. Undoes its own steps on failure.
  // With `grow_filesystem` (a record's flag, after a resize), the file system first grows to
  // fill the device and the flag is cleared once it has: an ext4 that cannot grow offline is
  // not mounted (it may need a person's e2fsck); an xfs that cannot grow is mounted, flag kept.
  Result<std::filesystem::path> bring_up(const VolumeSpec& spec, bool* grow_filesystem = nullptr);
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
  VolumeSettings settings_;
  std::mutex locks_mutex_;
  std::map<std::string, std::shared_ptr<std::mutex>> locks_;
};

}  // namespace maya::drivers::docker
