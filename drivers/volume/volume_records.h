// One JSON record per volume under <state>/volumes/<name>.json, written atomically: the spec,
// when it was made, and the mount references Docker holds, so they survive daemon restarts.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "drivers/volume_spec.h"
#include "lib/common/result.h"

namespace maya::drivers {

struct VolumeRecord {
  VolumeSpec spec;
  std::string created;                     // ISO 8601, UTC
  std::map<std::string, unsigned> mounts;  // mount ID → references
  std::string boot_id;                     // the boot the references were taken in
  bool host_attached = false;  // `maya volume attach`: a block device on this host, not mounted
  // The volume grew while its file system could not (a mounted ext4 without CAP_SYS_RESOURCE):
  // it is grown before the next mount.
  bool grow_filesystem = false;

  unsigned references() const;
};

class VolumeRecords {
 public:
  explicit VolumeRecords(std::filesystem::path dir) : dir_(std::move(dir)) {}

  Result<void> save(const VolumeRecord& record) const;
  Result<VolumeRecord> load(const std::string& name) const;
  bool exists(const std::string& name) const;
  Result<void> erase(const std::string& name) const;
  // Every record; unreadable ones are reported through `bad` (name → why) instead of failing.
  std::vector<VolumeRecord> load_all(std::map<std::string, std::string>* bad = nullptr) const;

 private:
  std::filesystem::path file(const std::string& name) const { return dir_ / (name + ".json"); }
  std::filesystem::path dir_;
};

// The kernel's id of this boot: references from another boot are stale (nothing is mounted).
std::string current_boot_id();

}  // namespace maya::drivers
