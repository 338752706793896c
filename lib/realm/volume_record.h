// A realm volume as etcd keeps it (volumes/NAME): its size, where its replicas live (one per
// host: a bare replica in a pool there, shared over iSCSI), and its generation, which every new
// owner bumps. The replicas' share URIs, secret included, are published by the hosts that hold
// them, under shares/NAME/HOST_ID (RealmShare): only the realm's hosts read them (etcd auth).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "lib/common/result.h"

namespace maya::realm {

struct ReplicaPlace {
  std::string host_id;
  std::string pool;
  // The replica's id in the volume ("r1", "r4"): its journal names its fellows by id, so every
  // owner's nexus gives it the same one. Empty in records from before ids were kept: r(N) by
  // position (1-based), which held while no replica had been moved.
  std::string id;
  // Being added (a drain moving a replica here): made and shared by its host, then added to the
  // owner's nexus (which sets `id`) and rebuilt; it counts as a replica once that is done.
  bool joining = false;
  bool operator==(const ReplicaPlace&) const = default;
};

struct VolumeRecord {
  std::string name;
  std::uint64_t size_bytes = 0;
  bool thin = true;
  std::string fstype;  // "" : the attaching host's default
  std::vector<ReplicaPlace> replicas;
  std::uint64_t generation = 1;  // bumped by every new owner (attach after another host)
  std::string created_on;        // host id
  std::string created_at;        // ISO 8601 UTC
  // This incarnation of the name (16 random hex digits; "" in records from before uids): a
  // replica or share left from an earlier volume of the same name never passes for this one's.
  std::string uid;
  // The EBS API's id (vol-…), the same on every host; "" in records made before it was kept.
  std::string ebs_id;
  std::string zone;  // its availability zone: the zone asked for, else the creating host's
  bool operator==(const VolumeRecord&) const = default;
};

// A new volume's uid: 16 random hex digits (getrandom).
std::string new_volume_uid();

// The id of the replica at `index`: its own, or r(index+1) for a record without ids ("" for a
// joining replica no owner has added yet).
std::string replica_id(const VolumeRecord& volume, std::size_t index);

nlohmann::json volume_json(const VolumeRecord& volume);
Result<VolumeRecord> volume_from_json(std::string_view text, std::string_view key);

// The bare replica that holds a realm volume's data on a host: in the placed pool, named after
// the volume.
inline std::string realm_replica_name(std::string_view volume) {
  return std::string(volume);
}

struct RealmShare {
  std::string host_id;
  std::string pool;
  std::string uri;  // iscsi://USER:SECRET@HOST:PORT/IQN/0
  std::string uid;  // the volume's uid when the replica was made for it
  bool operator==(const RealmShare&) const = default;
};

nlohmann::json share_json(const RealmShare& share);
Result<RealmShare> share_from_json(std::string_view text, std::string_view key);

// Who a volume is attached on (attachments/NAME, under that host's lease).
struct Attachment {
  std::string host_id;
  std::string host_name;
  std::uint64_t generation = 0;  // the volume's generation this attachment took
  std::string since;
  bool for_drain = false;  // taken only to move a replica off a drained host, then given up
  bool operator==(const Attachment&) const = default;
};

nlohmann::json attachment_json(const Attachment& attachment);
Result<Attachment> attachment_from_json(std::string_view text, std::string_view key);

}  // namespace maya::realm
