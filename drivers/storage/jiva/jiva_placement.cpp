// The jiva driver and the host's pools: where each replica of a volume lives.
#include <algorithm>

#include <nlohmann/json.hpp>
#include "drivers/storage/jiva/jiva_storage_driver.h"

#include "lib/common/files.h"
#include "lib/common/log.h"
#include "lib/jiva/manifest.h"
#include "lib/jiva/remote_replicas.h"

namespace maya::drivers::jiva {
namespace fs = std::filesystem;

Result<std::vector<ReplicaPlacement>> JivaStorageDriver::place_replicas(
    const std::string& volume, const std::vector<std::string>& ids, std::uint64_t size, bool thin,
    const std::vector<std::string>& pools, bool allow_same_pool,
    const maya::jiva::Manifest* existing) {
  if (options_.placer == nullptr) {
    if (std::any_of(pools.begin(), pools.end(), [](const auto& p) { return p != "default"; }))
      return fail("this host keeps volumes in its store only: it has no pools");
    return std::vector<ReplicaPlacement>(ids.size(), ReplicaPlacement{"default", {}});
  }
  PlacementRequest request{volume, ids, size, thin, pools, allow_same_pool, {}};
  if (existing)
    for (const auto& r : existing->replicas) request.in_use.push_back(pool_of(r));
  return options_.placer->place(request);
}

std::string JivaStorageDriver::pool_of(const maya::jiva::ReplicaRef& replica) {
  if (maya::jiva::is_remote_uri(replica.uri)) return {};  // on another host's pool
  auto dir = maya::jiva::replica_dir(replica);
  if (!dir || options_.placer == nullptr) return "default";
  return options_.placer->pool_of(*dir);
}

void JivaStorageDriver::remove_pool_replicas(const maya::jiva::Manifest& m) {
  const std::string own = (volume_dir(m.name) / "").string();
  for (const auto& r : m.replicas) {
    auto dir = maya::jiva::replica_dir(r);
    if (!dir || dir->string().starts_with(own)) continue;
    // Only a pool's replica made for this volume (its pool-replica.json says so), never a
    // directory a hand-edited manifest happens to name.
    auto about = read_file(*dir / "pool-replica.json");
    auto meta = about ? nlohmann::json::parse(*about, nullptr, false) : nlohmann::json();
    if (!meta.is_object() || meta.value("volume", "") != m.name) {
      std::error_code exists_ec;
      if (fs::exists(*dir, exists_ec))
        log::warn("volume " + m.name + ": " + dir->string() +
                  " is not a pool replica of it; left in place");
      continue;
    }
    std::error_code ec;
    fs::remove_all(*dir, ec);
    if (ec)
      log::warn("volume " + m.name + ": its replica " + r.id + " stays at " + dir->string() + " (" +
                ec.message() +
                "); `maya replica destroy` takes it away once its pool "
                "is back");
  }
}

}  // namespace maya::drivers::jiva
