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

fs::path PoolService::snapshot_dir_of(const fs::path& root, const fs::path& replica_dir) {
  return root / "snapshots" / replica_dir.filename();
}

Result<std::vector<std::string>> PoolService::snapshot_images(const std::string& name,
                                                              const fs::path& mp,
                                                              bool force) const {
  std::vector<std::string> out;
  std::error_code ec;
  auto unreadable = [&](const fs::path& dir, const std::error_code& why) {
    return fail("cannot read " + dir.string() + " of pool " + name + ": " + why.message() +
                "; --force destroys the pool without looking");
  };
  for (auto dir = fs::directory_iterator(mp / "snapshots", ec);
       !ec && dir != fs::directory_iterator(); dir.increment(ec)) {
    const std::string owner = dir->path().filename().string();  // VOLUME@ID
    const std::string volume = owner.substr(0, owner.find('@'));
    std::error_code inner;
    for (auto it = fs::directory_iterator(dir->path(), inner);
         !inner && it != fs::directory_iterator(); it.increment(inner)) {
      const std::string snapshot = it->path().stem().string();
      // The jiva driver's two places for a snapshot: the volume's, or kept after its deletion.
      for (const fs::path& link : {store_dir_ / volume / "snapshots" / (snapshot + ".img"),
                                   store_dir_ / ".snapshots" / volume / (snapshot + ".img")}) {
        std::error_code link_ec;
        if (validate_volume_name(volume) && fs::read_symlink(link, link_ec) == it->path())
          return fail("pool " + name + " holds snapshot " + snapshot + " of volume " + volume +
                      "; not even --force deletes it: `maya snapshot delete " + volume + "@" +
                      snapshot + "` takes it away first");
      }
      out.push_back("snapshot " + volume + "@" + snapshot);
    }
    if (inner && !force) return unreadable(dir->path(), inner);
  }
  if (ec && ec != std::errc::no_such_file_or_directory && !force)
    return unreadable(mp / "snapshots", ec);
  return out;
}

Result<void> PoolService::refuse_if_named(const std::string& name, const fs::path& mp) const {
  const std::string under = (mp / "").string();
  auto refuse = [&](const std::string& what) {
    return fail("pool " + name + " is not mounted, and " + what +
                " is on it; not even --force forgets it while that is so");
  };
  std::error_code ec;
  for (auto vol = fs::directory_iterator(store_dir_, ec); !ec && vol != fs::directory_iterator();
       vol.increment(ec)) {
    const std::string volume = vol->path().filename().string();
    // The jiva driver's layout: a volume's manifest and snapshots, and the kept ones of
    // deleted volumes in .snapshots/VOLUME/.
    std::vector<fs::path> snapshot_dirs = {vol->path() / "snapshots"};
    if (volume == ".snapshots") {
      snapshot_dirs.clear();
      std::error_code kept_ec;
      for (auto kept = fs::directory_iterator(vol->path(), kept_ec);
           !kept_ec && kept != fs::directory_iterator(); kept.increment(kept_ec))
        snapshot_dirs.push_back(kept->path());
    } else if (auto text = read_file(vol->path() / "jiva.json")) {
      auto manifest = nlohmann::json::parse(*text, nullptr, false);
      if (manifest.is_object() && manifest.contains("replicas") && manifest["replicas"].is_array())
        for (const auto& r : manifest["replicas"])
          if (r.is_object() && r.value("uri", "").starts_with("file://" + under))
            return refuse("replica " + r.value("id", "?") + " of volume " + volume);
    }
    for (const fs::path& dir : snapshot_dirs) {
      const std::string owner = dir.filename() == "snapshots" ? volume : dir.filename().string();
      std::error_code snap_ec;
      for (auto img = fs::directory_iterator(dir, snap_ec);
           !snap_ec && img != fs::directory_iterator(); img.increment(snap_ec)) {
        std::error_code link_ec;
        if (img->path().extension() == ".img" &&
            fs::read_symlink(img->path(), link_ec).string().starts_with(under))
          return refuse("snapshot " + img->path().stem().string() + " of volume " + owner);
      }
    }
  }
  return {};
}

Result<void> PoolService::destroy_replica(const std::string& pool, const std::string& name) {
  std::lock_guard lock(mutex_);
  MAYA_TRY(store, replicas_of(pool));
  MAYA_TRY(replica, store->get(name));
  if (auto holder = volume_holding(*replica))
    return fail("replica " + name + " belongs to " + *holder + "; `maya volume replica remove " +
                replica->volume + " ID` takes it away");
  std::error_code ec;
  if (std::filesystem::exists(replica->path.parent_path() / "share.json", ec))
    return fail("replica " + name + " is shared with other hosts; `maya replica unshare " + pool +
                " " + name + "` first");
  return store->destroy(name);
}

}  // namespace maya::drivers::pools
