// The EBS catalog: which EC2 id (vol-…, snap-…) names which maya volume or snapshot, with what
// only the API knows of them (tags, the requested volume type, ClientToken, the Device an
// attachment named). One JSON file in the state directory (<state>/ebs-catalog.json), written
// atomically on every change. Volumes and snapshots made through the other front doors (maya
// volume create, Docker) get an id the first time the API sees them, kept across restarts;
// entries whose volume or snapshot is gone are dropped.
//
// Not thread-safe by itself: the API holds its mutex around every use.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "lib/common/result.h"

namespace maya::ebs {

using Tags = std::map<std::string, std::string>;
using TimePoint = std::chrono::system_clock::time_point;

// A ModifyVolume and how it went (DescribeVolumesModifications); the latest one is kept.
struct Modification {
  std::string state;  // modifying | optimizing | completed | failed
  std::string status_message;
  std::uint64_t original_size_gib = 0, target_size_gib = 0;
  std::string original_type, target_type;
  std::int64_t original_iops = 0, target_iops = 0;  // 0: none
  std::int64_t original_throughput = 0, target_throughput = 0;
  unsigned progress = 0;  // percent
  TimePoint start_time{}, end_time{};
};

struct VolumeEntry {
  std::string id;    // vol-…
  std::string name;  // the maya volume
  TimePoint created{};
  Tags tags;
  std::string volume_type = "gp2";
  std::int64_t iops = 0;              // CreateVolume's (volume_performance.h); 0: none
  std::int64_t throughput = 0;        // MiB/s; 0: none
  std::string snapshot_id;            // the snapshot it was made from, or ""
  std::string client_token;           // CreateVolume's, or ""
  std::uint64_t client_size_gib = 0;  // the parameters the token was used with
  std::string client_zone;
  // Set while attached through the API: what AttachVolume asked for.
  std::string device;
  std::string instance_id;
  TimePoint attach_time{};
  // DetachVolume with Force left the device to its holders: the attachment is "detaching"
  // until the kernel releases it, then the next look finishes the detach.
  bool detaching = false;
  bool pending = false;  // CreateVolume is making it (not saved)
  std::optional<Modification> modification;
};

struct SnapshotEntry {
  std::string id;        // snap-…
  std::string volume;    // the maya volume it is of
  std::string snapshot;  // its maya name (the snap- id for snapshots made through the API)
  std::string volume_id;
  std::string description;
  TimePoint created{};
  Tags tags;
};

class Catalog {
 public:
  explicit Catalog(std::filesystem::path file) : file_(std::move(file)) {}

  // Reads the file (absent: an empty catalog). A damaged file is an error: nothing is served
  // from a catalog that would give volumes new ids.
  Result<void> load();
  Result<void> save() const;
  const std::filesystem::path& file() const { return file_; }

  VolumeEntry* volume_by_id(const std::string& id);
  VolumeEntry* volume_by_name(const std::string& name);
  VolumeEntry* volume_by_token(const std::string& client_token);
  VolumeEntry& add_volume(VolumeEntry entry);
  void remove_volume(const std::string& id);
  // Gives every volume in `names` an entry (created at `created_of(name)`) and drops entries of
  // volumes not in it, pending ones aside. A volume in `ids` (a realm volume: the id its record
  // keeps, the same on every host) has that id, its entry moved to it if it had another. True
  // when something changed.
  bool sync_volumes(const std::map<std::string, TimePoint>& names,
                    const std::map<std::string, std::string>& ids = {});

  SnapshotEntry* snapshot_by_id(const std::string& id);
  SnapshotEntry* snapshot_of(const std::string& volume, const std::string& snapshot);
  SnapshotEntry& add_snapshot(SnapshotEntry entry);
  void remove_snapshot(const std::string& id);
  // The same for snapshots, keyed by (volume, snapshot).
  bool sync_snapshots(const std::map<std::pair<std::string, std::string>, TimePoint>& snapshots);

  std::map<std::string, VolumeEntry>& volumes() { return volumes_; }  // by id
  std::map<std::string, SnapshotEntry>& snapshots() { return snapshots_; }

 private:
  std::filesystem::path file_;
  std::map<std::string, VolumeEntry> volumes_;
  std::map<std::string, SnapshotEntry> snapshots_;
};

// "2026-12-06T07:00:00Z" (maya's created times) to a time point; nothing when unreadable.
std::optional<TimePoint> parse_iso8601(const std::string& text);

}  // namespace maya::ebs
