// What a volume is asked to be: from `maya volume create` flags, Docker -o opts or a spec file.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace maya::drivers {

// The largest volume maya makes or grows: 64 TiB, EBS's largest (io2 Block Express). Beyond it
// the replicas' region bitmaps alone would take hundreds of MiB.
inline constexpr std::uint64_t kMaxVolumeBytes = std::uint64_t{64} << 40;

struct VolumeSpec {
  std::string name;
  std::uint64_t size_bytes = 0;
  bool thin = true;
  unsigned replicas = 1;
  std::string storage_driver;  // "local"
  std::string fstype;          // "ext4" | "xfs"
  std::string mount_options;   // comma-separated, passed to mount(2) via libmount
  std::optional<uid_t> uid;    // owner of the file system root
  std::optional<gid_t> gid;
  std::string from;    // "VOLUME@SNAPSHOT": a clone of that snapshot (size 0: the snapshot's)
  std::string attach;  // auto | iscsi | fuse (jiva)
  // The pools of its replicas, one per replica (jiva); empty: placement chooses.
  std::vector<std::string> pools;
  bool allow_same_pool = false;  // two replicas may share a pool
  // A realm volume's hosts (names or ids), in order of preference, one replica each on the
  // first that qualify; empty: placement chooses. Create-time only, never saved.
  std::vector<std::string> hosts;
  // Replicas other hosts share (iscsi://USER:SECRET@HOST:PORT/IQN/LUN), counted in `replicas`:
  // the others are made here. Never saved with the spec (the secrets are the volume's).
  std::vector<std::string> remote_replicas;
  // The replica ids ("r1", "r4"...) of remote_replicas, one each, or empty: r(N+1).. by
  // position. Set by the realm, whose record keeps each replica's id across owners.
  std::vector<std::string> remote_replica_ids;
  // Take the remote replicas over from another owner (preempt its reservation) when the
  // volume's target first opens them: the realm moving a volume from a dead host. Only the
  // daemon sets it (the control API's "claim_remote_replicas"), never Docker's or the CLI's
  // options; never saved with the spec, and spent by that first open (jiva.json claim_remote).
  bool claim_remote_replicas = false;
  // Writes need a majority of the replicas (the realm's volumes): with fewer RW replicas the
  // volume refuses writes rather than go on alone, so a new owner that reaches a majority
  // knows it holds every acknowledged write. Set by the daemon's realm code only; saved in
  // jiva.json ("quorum").
  bool quorum_writes = false;
  // The realm owner's epoch (the volume's generation in etcd when this host took it): the
  // replicas' generations start above epoch << 32, so that nothing an older owner writes
  // after it was fenced (its own replica's membership) can tie or beat this owner's. Saved in
  // jiva.json ("epoch").
  std::uint64_t realm_epoch = 0;
  // A realm volume's EBS id and zone, as the EBS API's CreateVolume gives them (recorded in
  // etcd, so that every host shows the same); "" : the realm makes an id, the creating host's
  // zone. Not saved with the spec.
  std::string ebs_id;
  std::string zone;
  // The keys the options or spec file set (not saved): a clone inherits the others from its
  // source volume.
  std::set<std::string> given;
};

}  // namespace maya::drivers
