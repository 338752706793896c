// Bare replicas: the files of one pool that hold a replica's data, made by `maya replica create`
// and later served to volumes (here or, shared, on other hosts). One directory per replica:
//   <pool root>/replicas/NAME/data.img       thin: sparse; thick: every block allocated
//   <pool root>/replicas/NAME/pool-replica.json   {name, size_bytes, thin, created}
// (the pool `default`, the store directory, keeps them in <store>/.replicas: a volume name never
// starts with a dot, so no volume's directory can be that one).
//
// Crash order: data.img is made whole (sized, allocated, fsynced) before pool-replica.json is
// written atomically, and pool-replica.json goes first on destroy. So a replica is listed only when
// whole; a directory without pool-replica.json is what a crash cut short, swept by the next create
// of that name and never listed. A volume's replica (VOLUME@ID) gets its pool-replica.json, naming
// the volume, before its data: one that a crash cut short is listed with a volume that does not
// name it, and `replica destroy` takes it away.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/common/result.h"

namespace maya::drivers::pools {

struct PoolReplica {
  std::string pool;
  std::string name;
  std::uint64_t size_bytes = 0;
  std::uint64_t allocated_bytes = 0;  // blocks on disk: all of a thick one, what a thin one holds
  bool thin = false;
  std::string created;         // RFC 3339, UTC
  std::filesystem::path path;  // its data.img
  std::string volume;          // the volume it was made for (VOLUME@ID); empty for a bare one
};

// `replica list -o json`: pool, name, thin, size_bytes, allocated_bytes, created, path, volume.
nlohmann::json replica_json(const PoolReplica& replica);

class ReplicaStore {
 public:
  // The replicas of pool `pool`, kept under `dir` (<root>/replicas, or <store>/.replicas).
  ReplicaStore(std::string pool, std::filesystem::path dir)
      : pool_(std::move(pool)), dir_(std::move(dir)) {}

  // A new replica of `size_bytes` (a positive multiple of 4 KiB). A thick one that does not fit
  // in the pool's free space is refused with the figures, and leaves nothing behind.
  Result<PoolReplica> create(const std::string& name, std::uint64_t size_bytes, bool thin) const;
  // Every whole replica, by name. A damaged pool-replica.json is an error naming it.
  Result<std::vector<PoolReplica>> list() const;
  Result<PoolReplica> get(const std::string& name) const;
  // The directory of a replica of `volume`, VOLUME@ID, with its pool-replica.json (data.img is the
  // caller's to make). What an earlier volume of that name left there is cleared first.
  Result<std::filesystem::path> make_volume_replica(const std::string& volume,
                                                    const std::string& id, std::uint64_t size_bytes,
                                                    bool thin) const;
  Result<void> destroy(const std::string& name) const;

  // The sum of the replicas' sizes: what thin replicas may one day take, thick ones take now.
  std::uint64_t committed_bytes() const;

 private:
  Result<PoolReplica> read(const std::filesystem::path& replica_dir) const;

  std::string pool_;
  std::filesystem::path dir_;
};

// A bare replica's name: a volume name's rules.
Result<void> validate_replica_name(const std::string& name);
// A name of `replica destroy`: a bare replica's, or VOLUME@ID.
Result<void> validate_replica_ref(const std::string& name);

}  // namespace maya::drivers::pools
