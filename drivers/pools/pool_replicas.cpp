// PoolService: the bare replicas of its pools (replica_store.h holds their layout).
#include <algorithm>
#include <optional>

#include <nlohmann/json.hpp>

#include "drivers/pools/pool_service.h"
#include "lib/common/files.h"
#include "lib/common/names.h"

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

std::optional<std::string> PoolService::volume_holding(const PoolReplica& replica) const {
  if (replica.volume.empty() || !validate_volume_name(replica.volume)) return std::nullopt;
  const fs::path dir = store_dir_ / replica.volume;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return std::nullopt;  // its volume is gone: an orphan
  const std::string volume = "volume " + replica.volume;
  auto text = read_file(dir / "jiva.json");
  if (!text) return volume + " (its manifest cannot be read: " + text.error().message + ")";
  auto manifest = nlohmann::json::parse(*text, nullptr, false);
  if (manifest.is_discarded() || !manifest.is_object() || !manifest.contains("replicas") ||
      !manifest["replicas"].is_array())
    return volume + " (its manifest " + (dir / "jiva.json").string() + " is damaged)";
  const std::string uri = "file://" + replica.path.parent_path().string();
  for (const auto& r : manifest["replicas"]) {
    if (r.is_object() && r.value("uri", "") == uri)
      return volume + " (its replica " + r.value("id", "?") + ")";
  }
  return std::nullopt;
}

Result<void> PoolService::destroy_replica(const std::string& pool, const std::string& name) {
  std::lock_guard lock(mutex_);
  MAYA_TRY(store, replicas_of(pool));
  MAYA_TRY(replica, store->get(name));
  if (auto holder = volume_holding(*replica))
    return fail("replica " + name + " belongs to " + *holder + "; `maya volume replica remove " +
                replica->volume + " ID` takes it away");
  return store->destroy(name);
}

}  // namespace maya::drivers::pools
