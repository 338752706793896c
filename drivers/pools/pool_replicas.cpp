// PoolService: the bare replicas of its pools (replica_store.h holds their layout).
#include <algorithm>

#include <nlohmann/json.hpp>

#include "drivers/pools/pool_service.h"
#include "lib/common/files.h"

namespace maya::drivers::pools {
namespace fs = std::filesystem;

ReplicaStore PoolService::replica_store(const std::string& name, const fs::path& root) const {
  return ReplicaStore(name, root / (name == "default" ? ".replicas" : "replicas"));
}

Result<ReplicaStore> PoolService::replicas_of(const std::string& name) {
  PoolInfo pool;
  if (name == "default") {
    pool = describe_default();
  } else {
    MAYA_TRY(records, registry_.load());
    auto it = std::find_if(records->begin(), records->end(),
                           [&](const PoolRecord& r) { return r.name == name; });
    if (it == records->end()) return fail("no pool named " + name);
    pool = describe(*it);
  }
  if (pool.state != "online")
    return fail("pool " + name + " is " + pool.state + (pool.error.empty() ? "" : ": ") +
                pool.error);
  return replica_store(name, pool.mountpoint);
}

Result<PoolReplica> PoolService::create_replica(const std::string& pool, const std::string& name,
                                                std::uint64_t size_bytes, bool thin) {
  std::lock_guard lock(mutex_);
  MAYA_TRY(store, replicas_of(pool));
  return store->create(name, size_bytes, thin);
}

Result<std::vector<PoolReplica>> PoolService::list_replicas(const std::string& pool) {
  std::lock_guard lock(mutex_);
  std::vector<std::string> names;
  if (!pool.empty()) {
    names.push_back(pool);
  } else {
    names.push_back("default");
    MAYA_TRY(records, registry_.load());
    for (const PoolRecord& r : *records) names.push_back(r.name);
  }
  std::vector<PoolReplica> all;
  for (const std::string& name : names) {
    auto store = replicas_of(name);
    if (!store) {
      if (!pool.empty()) return std::unexpected(store.error());
      continue;  // a pool that is not online shows in `pool list`, with why
    }
    MAYA_TRY(replicas, store->list());
    all.insert(all.end(), replicas->begin(), replicas->end());
  }
  return all;
}

namespace {

// Whether the volume's manifest (<store>/VOLUME/jiva.json) still names `replica_dir` as one of
// its replicas; a volume that does not exist (or cannot be read) names none.
bool volume_names_replica(const fs::path& store, const std::string& volume,
                          const fs::path& replica_dir, std::string& id) {
  auto text = read_file(store / volume / "jiva.json");
  if (!text) return false;
  auto manifest = nlohmann::json::parse(*text, nullptr, false);
  if (manifest.is_discarded() || !manifest.contains("replicas") || !manifest["replicas"].is_array())
    return false;
  for (const auto& r : manifest["replicas"]) {
    if (r.value("uri", "") == "file://" + replica_dir.string()) {
      id = r.value("id", "");
      return true;
    }
  }
  return false;
}

}  // namespace

Result<void> PoolService::destroy_replica(const std::string& pool, const std::string& name) {
  std::lock_guard lock(mutex_);
  MAYA_TRY(store, replicas_of(pool));
  MAYA_TRY(replica, store->get(name));
  std::string id;
  if (!replica->volume.empty() &&
      volume_names_replica(store_dir_, replica->volume, replica->path.parent_path(), id))
    return fail("replica " + name + " belongs to volume " + replica->volume + " (its replica " +
                id + "); `maya volume replica remove " + replica->volume + " " + id +
                "` takes it away");
  return store->destroy(name);
}

}  // namespace maya::drivers::pools
