// StorageDriver: where a volume's blocks live and how they become a block device on this host.
// Implementations live in drivers/storage/<name>/, one namespace each, and all pass the shared
// conformance suite in tests/conformance/.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "drivers/volume_spec.h"
#include "lib/common/result.h"

namespace maya::drivers {

// How a volume is served over iSCSI (drivers whose volumes are targets, such as jiva).
struct IscsiExport {
  std::string iqn;
  std::string portal;        // "ADDR:PORT" on which the volume's target answers
  pid_t target_pid = 0;      // 0 unless its target runs
  std::string target_state;  // running | starting | restarting | stopped | broken
  unsigned target_restarts = 0;
  std::string last_event;              // the last thing that happened to the target, with its time
  std::string chap_user, chap_secret;  // empty when the volume has no CHAP
  std::string target_log;              // the target process's log file
};

// Replicas of a volume, as its target sees them (drivers that replicate, such as jiva).
struct ReplicaInfo {
  std::string id;
  std::string uri;
  std::string pool;  // the pool that holds it ("default": the store)
  std::string mode;  // RW | WO | ERR, or "unknown" while the target does not answer
  std::uint64_t generation = 0;
  std::uint64_t revision = 0;
  std::string error;
};

struct RebuildInfo {
  std::string replica;
  std::string kind;  // full | regions
  std::uint64_t done_bytes = 0, total_bytes = 0;
  double rate_bytes_per_s = 0, eta_seconds = 0;
};

struct ReplicationInfo {
  std::string health;  // healthy | degraded | failed | offline (its target does not answer)
  std::vector<ReplicaInfo> replicas;
  std::string read_only;      // why the target refuses writes (e.g. no space for its journal)
  std::string space_warning;  // a replica's store is past [volume.defaults] space_warn_percent
  std::optional<unsigned> space_used_percent;  // of the fullest replica store
  std::optional<RebuildInfo> rebuild;
  std::optional<RebuildInfo> last_rebuild;  // the last that finished: done_bytes were copied
};

struct SnapshotInfo {
  std::string name;
  std::string created;  // ISO 8601, UTC
  std::uint64_t size_bytes = 0;
  std::string method;                 // reflink | copy
  std::uint64_t allocated_bytes = 0;  // space its image takes (blocks shared by reflinks count)
};

struct StorageVolume {
  std::string name;
  std::uint64_t size_bytes = 0;
  std::uint64_t allocated_bytes = 0;            // space really used (thin volumes)
  std::filesystem::path location;               // where the data lives (<store>/<name>/)
  std::optional<std::filesystem::path> device;  // set while attached ("/dev/loop3")
  std::string attach;       // how it is attached now: "fuse", "iscsi", "loop" (local); "" if not
  std::string attach_mode;  // how it attaches when asked: "auto", "iscsi", "fuse" (jiva)
  // attach "fuse": how the target takes FUSE requests, "io_uring" or "dev_fuse" ("" : unknown)
  std::string fuse_transport;
  std::optional<IscsiExport> iscsi;            // set when the volume is an iSCSI target
  std::optional<ReplicationInfo> replication;  // set when the driver replicates
  std::vector<SnapshotInfo> snapshots;
  // Why the volume cannot be served now, and the remedy; empty when nothing is wrong. Set for
  // a damaged volume (its description unreadable, its target failing to start): it is left
  // down until fixed, and never keeps the others from serving.
  std::string broken;
};

class StorageDriver {
 public:
  virtual ~StorageDriver() = default;
  virtual std::string_view name() const = 0;
  // How many copies of a volume the driver can keep (the spec's `replicas` is checked against it).
  virtual unsigned max_replicas() const { return 1; }

  // Creates the volume's storage; an existing volume of that name is an error.
  virtual Result<StorageVolume> create(const VolumeSpec& spec) = 0;
  // Deletes the storage; refuses while attached. Deleting a missing volume is an error.
  virtual Result<void> remove(const std::string& name) = 0;
  virtual Result<StorageVolume> inspect(const std::string& name) = 0;
  virtual Result<std::vector<StorageVolume>> list() = 0;
  // Makes the volume a block device; attaching an attached volume returns the same device.
  virtual Result<std::filesystem::path> attach(const std::string& name) = 0;
  // Releases the block device; detaching a detached volume succeeds.
  virtual Result<void> detach(const std::string& name) = 0;
  // DetachVolume's Force, for a device that is still held: the kernel releases it when the last
  // holder closes it (a loop device's autoclear), and those who hold it keep working on the
  // volume's data until then. detach() finishes afterwards. Refused, changing nothing, where
  // the device cannot be let go of that way (the default; an iSCSI disk would be pulled from
  // under its holders).
  virtual Result<void> release_when_closed(const std::string& name) {
    return fail("volume " + name + ": the " + std::string(this->name()) +
                " driver cannot release a device while it is held");
  }
};

// Optional capability of drivers whose volumes are served by target processes: the daemon
// adopts or starts them when it starts, lists them on the discovery portal, and stops them
// only when asked to (they outlive the daemon so that its restarts never interrupt I/O).
class TargetHost {
 public:
  struct Target {
    std::string iqn;
    std::uint16_t port = 0;
  };
  virtual ~TargetHost() = default;
  // Adopts the running target of every volume and starts the others; one note per event.
  virtual std::vector<std::string> start_targets() = 0;
  // Stops every target; refuses (stopping none) while a volume is attached to this host.
  virtual Result<void> stop_targets() = 0;
  virtual std::vector<Target> iscsi_targets() = 0;
};

// Optional capability: drivers that keep several replicas of a volume.
class ReplicaManager {
 public:
  virtual ~ReplicaManager() = default;
  // Adds an empty replica that is rebuilt from the others, on `pool` (empty: the pool chosen
  // for it), or the replica another host shares when `pool` is an iscsi:// URI; returns its id.
  virtual Result<std::string> add_replica(const std::string& volume, const std::string& pool) = 0;
  // Removes a replica and its files; the last one that holds the data cannot go.
  virtual Result<void> remove_replica(const std::string& volume, const std::string& id) = 0;
  // Takes a replica out of the volume's I/O path at once (its pool faulted); `reason` becomes
  // its error. It stays in the volume until removed.
  virtual Result<void> fail_replica(const std::string& volume, const std::string& id,
                                    const std::string& reason) = 0;
  // Brings back every replica that is away (failed, unreadable); returns their ids.
  virtual Result<std::vector<std::string>> rebuild(const std::string& volume) = 0;
};

// Optional capability: growing a volume, attached or not. A driver grows the storage (every
// replica) and the block device of an attached volume, never the file system on it (the volume
// service does that). Growing to the current size succeeds and changes nothing; a smaller size
// is refused.
class VolumeGrower {
 public:
  virtual ~VolumeGrower() = default;
  // Returns the size the volume has now (`size_bytes` rounded up to the driver's sector size).
  virtual Result<std::uint64_t> grow(const std::string& name, std::uint64_t size_bytes) = 0;
};

// Optional capability: point-in-time snapshots, revert, and clones (VolumeSpec::from).
class SnapshotManager {
 public:
  virtual ~SnapshotManager() = default;
  // Returns once the snapshot is complete (the point in time is taken at once). `quiesce`, if
  // set, is called with true just before the point in time and with false right after (to
  // freeze and thaw a mounted file system).
  using Quiesce = std::function<Result<void>(bool)>;
  virtual Result<SnapshotInfo> create_snapshot(const std::string& volume,
                                               const std::string& snapshot,
                                               const Quiesce& quiesce = {}) = 0;
  virtual Result<std::vector<SnapshotInfo>> list_snapshots(const std::string& volume) = 0;
  virtual Result<void> delete_snapshot(const std::string& volume, const std::string& snapshot) = 0;
  // The volume's data becomes the snapshot's; refused while the volume is in use.
  virtual Result<void> revert_snapshot(const std::string& volume, const std::string& snapshot) = 0;

  // Snapshots outlive their volume: removing a volume keeps them (as on EBS), listed here and
  // clonable (VolumeSpec::from) until deleted themselves.
  struct KeptSnapshot {
    std::string volume;  // the deleted volume it was taken of
    SnapshotInfo info;
  };
  virtual Result<std::vector<KeptSnapshot>> kept_snapshots() = 0;
  virtual Result<void> delete_kept_snapshot(const std::string& volume,
                                            const std::string& snapshot) = 0;
};

}  // namespace maya::drivers
