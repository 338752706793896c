// Where a volume's replicas live: the storage drivers ask, the pools answer (PoolService). A
// replica on the pool `default` lives in the volume's own directory in the store, as before
// pools; one on a disk pool in a directory of that pool, <pool>/replicas/VOLUME@ID, whose
// pool-replica.json names the volume.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "lib/common/result.h"

namespace maya::drivers {

struct ReplicaPlacement {
  std::string pool;
  std::filesystem::path dir;  // empty for the pool `default`: the volume's directory holds it
  // Where snapshots taken from it go, on the same file system (empty for `default`).
  std::filesystem::path snapshots_dir;
};

struct PlacementRequest {
  std::string volume;
  std::vector<std::string> ids;  // one placement per id, in this order
  std::uint64_t size_bytes = 0;
  bool thin = true;
  std::vector<std::string> pools;  // asked for by name (one per id); empty: chosen here
  bool allow_same_pool = false;
  std::vector<std::string> in_use;  // the pools the volume's other replicas are on
};

class ReplicaPlacer {
 public:
  virtual ~ReplicaPlacer() = default;
  // Chooses a pool per id: those asked for, else the online disk pools with the most free
  // space, one replica per pool unless allow_same_pool (`default`, the store's disk, only when
  // asked for). A thick replica goes only where it fits. A host without disk pools keeps every
  // replica in `default`, as before pools. Makes the
  // directories on disk pools (the caller makes data.img in them, and removes them on failure).
  virtual Result<std::vector<ReplicaPlacement>> place(const PlacementRequest& request) = 0;
  // The pool a replica directory is on, by its path: a disk pool's name (also of a pool
  // destroyed since), else `default`.
  virtual std::string pool_of(const std::filesystem::path& replica_dir) = 0;
};

}  // namespace maya::drivers
