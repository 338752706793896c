// VolumeDriver: the volume life cycle every front door uses (Docker plugin, CLI, later EBS/CSI).
// It composes a StorageDriver (blocks → device) and an OsDriver (device → mounted file system),
// with Docker's semantics: a reference count per (volume, mount ID), attach + mount on the
// first reference, unmount + detach on the last.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "drivers/storage_driver.h"
#include "drivers/volume_spec.h"
#include "lib/common/result.h"

namespace maya::drivers {

struct VolumeInfo {
  VolumeSpec spec;
  std::string created;                     // ISO 8601, UTC
  std::string state;                       // "detached" | "mounted" | "error" | "broken"
  std::string error;                       // why state is "error" or "broken" (+ remedy)
  std::filesystem::path mountpoint;        // empty unless mounted
  std::string device;                      // empty unless attached
  std::string attach;                      // how it is attached now (fuse, iscsi, loop), or ""
  std::string attach_mode;                 // how it attaches when mounted (auto, iscsi, fuse)
  std::string fuse_transport;              // attach fuse: "io_uring" or "dev_fuse" ("": unknown)
  std::uint64_t allocated_bytes = 0;       // space the data really uses
  std::map<std::string, unsigned> mounts;  // mount ID → references
  std::optional<IscsiExport> iscsi;        // set when the volume is an iSCSI target
  std::optional<ReplicationInfo> replication;
  std::vector<SnapshotInfo> snapshots;
  std::vector<std::string> warnings;  // from create: what the user should know (overcommit)
  // A realm volume (issue 16): its generation, and the host it is attached on ("" : none).
  std::optional<std::uint64_t> realm_generation;
  std::string realm_attached_on;
  std::string realm_attached_id;  // that host's id (the EBS API's instance id)
  std::string realm_ebs_id;       // the EBS id the realm records for it ("" : none recorded)
  std::string realm_zone;         // its zone in the realm
  unsigned mount_count() const {
    unsigned n = 0;
    for (const auto& [id, count] : mounts) n += count;
    return n;
  }
};

class VolumeDriver {
 public:
  virtual ~VolumeDriver() = default;

  virtual Result<VolumeInfo> create(const VolumeSpec& spec) = 0;
  // Refuses a mounted volume unless `force`, which unmounts it first.
  virtual Result<void> remove(const std::string& name, bool force) = 0;
  // The same; `with_snapshots` deletes the volume's snapshots too (by default they outlive it).
  virtual Result<void> remove(const std::string& name, bool force, bool with_snapshots) {
    (void)with_snapshots;
    return remove(name, force);
  }
  // Adds a reference for `id`; the first reference attaches and mounts. Returns the mountpoint.
  virtual Result<std::filesystem::path> mount(const std::string& name, const std::string& id) = 0;
  // Drops a reference of `id` (an unknown ID succeeds); the last one unmounts and detaches.
  virtual Result<void> unmount(const std::string& name, const std::string& id) = 0;
  // The mountpoint while mounted, else an empty path.
  virtual Result<std::filesystem::path> path(const std::string& name) = 0;
  virtual Result<VolumeInfo> get(const std::string& name) = 0;
  virtual Result<std::vector<VolumeInfo>> list() = 0;
};

}  // namespace maya::drivers
