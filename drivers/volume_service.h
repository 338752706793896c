// VolumeService: the one volume service of a host, behind every front door (the Docker plugin
// and the control API today, the EBS API and CSI later). It is the VolumeDriver life cycle
// plus small interfaces for what some front doors offer beyond it (replicas, snapshots, a
// volume as a block device) and what the daemon itself runs (reconcile at start, the targets,
// settings a reload changes). Results are plain structs: each front door turns them into its
// own wire format (drivers/volume/volume_json, lib/daemon/volume_api, plugin/docker).
// registry.h makes one; nothing else names the class that implements it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "drivers/storage_driver.h"
#include "drivers/volume_driver.h"
#include "lib/common/result.h"

namespace maya::drivers {

// Replicas of volumes whose storage driver keeps several (ReplicaManager); refused, naming the
// driver, for the others. Allowed while the volume is mounted.
class VolumeReplicas {
 public:
  virtual ~VolumeReplicas() = default;
  // Adds an empty replica, rebuilt from the others, on `pool` (empty: chosen), or the replica
  // another host shares when `pool` is an iscsi:// URI; returns its id.
  virtual Result<std::string> add_replica(const std::string& volume, const std::string& pool) = 0;
  virtual Result<void> remove_replica(const std::string& volume, const std::string& id) = 0;
  // Takes a replica out of the volume's I/O path at once (its pool faulted); `reason` becomes
  // its error. It stays in the volume until removed.
  virtual Result<void> fail_replica(const std::string& volume, const std::string& id,
                                    const std::string& reason) = 0;
  // Brings back every replica that is away; returns their ids.
  virtual Result<std::vector<std::string>> rebuild(const std::string& volume) = 0;
};

// A snapshot of some volume on this host: of an existing volume, or kept from a deleted one.
struct HostSnapshot {
  std::string volume;
  SnapshotInfo info;
  bool volume_deleted = false;
};

// Snapshots of volumes whose storage driver takes them (SnapshotManager); refused, naming the
// driver, for the others.
class VolumeSnapshots {
 public:
  virtual ~VolumeSnapshots() = default;
  // Returns once complete; a mounted volume's file system is frozen for the point in time.
  virtual Result<SnapshotInfo> create_snapshot(const std::string& volume,
                                               const std::string& snapshot) = 0;
  virtual Result<std::vector<SnapshotInfo>> list_snapshots(const std::string& volume) = 0;
  virtual Result<void> delete_snapshot(const std::string& volume, const std::string& snapshot) = 0;
  // The volume's data becomes the snapshot's; refused while the volume is in use.
  virtual Result<void> revert_snapshot(const std::string& volume, const std::string& snapshot) = 0;
  // Every snapshot on this host: of existing volumes and those deleted volumes kept.
  virtual Result<std::vector<HostSnapshot>> all_snapshots() = 0;
  // Deletes VOLUME@SNAPSHOT, whether its volume exists or was deleted.
  virtual Result<void> delete_any_snapshot(const std::string& volume,
                                           const std::string& snapshot) = 0;
};

// Host settings from the config that a reload may change.
struct VolumeSettings {
  bool keep_lost_found = false;     // keep ext4's empty lost+found after the first format
  std::filesystem::path store_dir;  // whose free space thin volumes are committed against
};

// The store's space against what its thin volumes may grow to (size × replicas each; thick
// volumes hold their space already, so free space has counted them).
struct StoreSpace {
  std::filesystem::path store;
  std::uint64_t committed_bytes = 0;  // thin volumes' size × replicas
  std::uint64_t free_bytes = 0;       // statvfs: available to maya
  std::uint64_t total_bytes = 0;
};

// What a resize did.
struct ResizeInfo {
  std::uint64_t previous_bytes = 0;
  std::uint64_t size_bytes = 0;
  // The mounted file system grown with the volume ("ext4 at /var/lib/maya/mounts/db"), or ""
  // when none is mounted (an attached or idle volume: its user grows what is on it).
  std::string filesystem;
  // Why the mounted file system did not grow now (it grows before the volume's next mount).
  std::string filesystem_deferred;
};

class VolumeService : public VolumeDriver, public VolumeReplicas, public VolumeSnapshots {
 public:
  // `maya volume attach`: the volume as a block device on this host, neither formatted nor
  // mounted. Refused while containers mount it; Docker's Mount, a delete without --force and
  // operations that need the volume idle are refused while it is attached. Attaching an
  // attached volume gives its device again; detach of a detached one is a no-op.
  virtual Result<std::filesystem::path> attach(const std::string& name) = 0;
  virtual Result<void> detach(const std::string& name) = 0;
  // Grows a volume, online: its storage (every replica), its device while attached or mounted,
  // and a mounted file system (resize2fs, xfs_growfs). Shrinking is refused; the current size
  // is a no-op. Refused for drivers that cannot grow.
  virtual Result<ResizeInfo> resize(const std::string& name, std::uint64_t size_bytes) = 0;
  // DetachVolume's Force: detach() when nobody holds the device. A held device is let go of
  // without pulling it from under its holders: its mounts in this mount namespace are unmounted
  // lazily (MNT_DETACH), and the kernel releases the device when the last holder closes it
  // (loop devices: local, and jiva through FUSE). The volume stays attached until then, so
  // nothing else takes it meanwhile; a detach() once it is released finishes (it is refused
  // while it is still held). Returns the holders it waits for: empty when detached now.
  // Refused, changing nothing, where the device cannot be released so (an iSCSI disk).
  virtual Result<std::vector<std::string>> detach_when_released(const std::string& name) = 0;
  // Freezes or thaws the file system of a mounted volume (no-op when not mounted).
  virtual Result<void> freeze(const std::string& name, bool frozen) = 0;

  // What the daemon runs. Brings records and the host together after a start: mounts that
  // records need are restored, mounts and loop devices nobody references are released,
  // references from an earlier boot are dropped. Returns what it did, one line each, for the log.
  virtual std::vector<std::string> reconcile() = 0;
  // The enabled storage drivers that run target processes (jiva).
  virtual std::vector<TargetHost*> target_hosts() const = 0;
  virtual void configure(VolumeSettings settings) = 0;
  virtual Result<StoreSpace> store_space() = 0;
};

}  // namespace maya::drivers
