// The host's pools: `default` (the [paths] store directory, a directory pool) and the disk
// pools of the registry, each one XFS (reflink=1) on one disk, mounted at <state>/pools/NAME.
//
// Crash order of create: the record goes to pools.json as `creating` (name, disk, a fresh
// UUID) before mkfs runs, so a disk maya has begun to format is never a stranger: a crash
// before mkfs finished leaves a `creating` record, which start-up finishes when the disk holds
// the UUID (mkfs completed) and otherwise shows as `incomplete` until `pool destroy`. Then
// mkfs.xfs with that UUID, the mount, and the record becomes `ready`.
#pragma once

#include <sys/statvfs.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "drivers/os_driver.h"
#include "drivers/pools/pool_registry.h"
#include "drivers/pools/replica_store.h"
#include "drivers/replica_placer.h"
#include "lib/common/result.h"

namespace maya::drivers::pools {

struct PoolInfo {
  std::string name;
  std::string kind;  // "disk" or "directory"
  // online, degraded (a replica on it failed a read), missing, faulted, incomplete; unknown
  // when the mount table cannot be read
  std::string state;
  std::string error;  // why it is not online; empty when it is
  std::string disk;   // the block device (or the directory of a directory pool)
  std::string backing_file;
  std::string uuid;
  std::filesystem::path mountpoint;
  std::uint64_t capacity_bytes = 0;
  std::uint64_t used_bytes = 0;
  std::uint64_t committed_bytes = 0;  // the sizes of its replicas (thin ones in full)
};

// The `pool inspect -o json` object: name, kind, state, error, disk, backing_file, uuid,
// mountpoint, capacity_bytes, used_bytes, committed_bytes.
nlohmann::json pool_json(const PoolInfo& pool);

struct DestroyResult {
  std::string name;
  std::vector<std::string> deleted;  // the entries of its directory removed by --force
  std::string detached;              // the loop device maya detached, if any
};

class PoolService final : public ReplicaPlacer {
 public:
  // `os` mounts and unmounts (the linux OS driver); pools.json lives in `state_dir`, the
  // mounts under state_dir/pools.
  PoolService(OsDriver& os, std::filesystem::path state_dir, std::filesystem::path store_dir);

  // Finds every known disk pool by its UUID wherever its disk now is and mounts it; finishes a
  // `creating` record whose disk holds its UUID. Returns one line per pool for the log.
  std::vector<std::string> import_all();

  Result<PoolInfo> create(const std::string& name, const std::vector<std::string>& disks,
                          bool force);
  Result<std::vector<PoolInfo>> list();
  // For a metrics scrape, which must not wait for a create (it holds the lock through mkfs,
  // minutes): the list as list() makes it when nothing holds the lock, else the last one made
  // here (nullopt before any).
  std::optional<std::vector<PoolInfo>> list_without_waiting();
  Result<PoolInfo> get(const std::string& name);
  Result<DestroyResult> destroy(const std::string& name, bool force);

  std::filesystem::path mountpoint(const std::string& name) const;

  // Bare replicas (pool_replicas.cpp), in an online pool.
  Result<PoolReplica> create_replica(const std::string& pool, const std::string& name,
                                     std::uint64_t size_bytes, bool thin);
  // The replicas of every online pool, or of `pool` alone when it is not empty.
  Result<std::vector<PoolReplica>> list_replicas(const std::string& pool);
  // Refused for a replica of a volume that still names it (it says which).
  Result<void> destroy_replica(const std::string& pool, const std::string& name);

  // ReplicaPlacer (pool_placement.cpp).
  Result<std::vector<ReplicaPlacement>> place(const PlacementRequest& request) override;
  std::string pool_of(const std::filesystem::path& replica_dir) override;

  // The pools where replicas failed reads (pool → what failed), from the pools' watch: an
  // online pool among them shows `degraded`, and takes no new replicas. Replaces the last set.
  void set_read_errors(std::map<std::string, std::string> errors);

 private:
  // The replicas of the pool `name` when it is online (its state and error otherwise).
  Result<ReplicaStore> replicas_of(const std::string& name);
  ReplicaStore replica_store(const std::string& name, const std::filesystem::path& root) const;
  // "volume V (its replica rN)" while V's manifest names the replica, or while V exists and
  // its manifest cannot be read (it may): such a replica is never deleted from the pool side.
  std::optional<std::string> volume_holding(const PoolReplica& replica) const;
  // <pool>/snapshots/VOLUME@ID: where snapshots taken from the volume replica in `replica_dir`
  // go, on its file system (so that they are reflinks).
  static std::filesystem::path snapshot_dir_of(const std::filesystem::path& root,
                                               const std::filesystem::path& replica_dir);
  // The snapshot images pool `name` holds at `mp`, as "snapshot VOLUME@SNAPSHOT"; an error
  // naming one that a volume's snapshot (or a deleted volume's kept one) still links to: such
  // an image is never deleted from the pool side. A directory that cannot be read is an error
  // too, unless `force`.
  Result<std::vector<std::string>> snapshot_images(const std::string& name,
                                                   const std::filesystem::path& mp,
                                                   bool force) const;
  // For a pool that is not mounted (its disk missing or gone): an error naming a volume whose
  // manifest names a replica under `mp`, or a snapshot that links to an image under it.
  Result<void> refuse_if_named(const std::string& name, const std::filesystem::path& mp) const;
  Result<void> import(PoolRecord& record, std::vector<std::string>& notes);
  PoolInfo describe(const PoolRecord& record);
  PoolInfo describe_default();
  // A mounted pool whose file system answers (`st`): its figures, online or degraded.
  void describe_online(PoolInfo& p, const struct statvfs& st) const;
  Result<void> refuse_known(const std::vector<PoolRecord>& records,
                            const std::filesystem::path& disk, const std::filesystem::path& device);
  Result<void> format_and_mount(PoolRecord& record);
  Result<void> empty_for_destroy(const std::string& name, const std::filesystem::path& mp,
                                 bool force, std::vector<std::string>& deleted);

  OsDriver& os_;
  std::filesystem::path state_dir_;
  std::filesystem::path store_dir_;
  PoolRegistry registry_;
  std::mutex mutex_;       // one change at a time; list and get too (they read mounts)
  std::mutex last_mutex_;  // guards last_listed_
  std::optional<std::vector<PoolInfo>> last_listed_;  // list_without_waiting's last answer
  // Why a pool whose disk was found could not be imported (a failed mount): it is faulted.
  std::map<std::string, std::string> import_errors_;
  std::map<std::string, std::string> read_errors_;  // set_read_errors
};

}  // namespace maya::drivers::pools
