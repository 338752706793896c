// PoolService as the ReplicaPlacer of volumes: which pool holds each replica of a volume.
#include <sys/statvfs.h>

#include <algorithm>
#include <map>

#include "drivers/pools/pool_service.h"
#include "lib/common/log.h"
#include "lib/common/size.h"

namespace maya::drivers::pools {
namespace fs = std::filesystem;

namespace {

struct Candidate {
  std::string name;
  fs::path root;
  std::uint64_t free_bytes = 0;
};

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none" : out;
}

}  // namespace

Result<std::vector<ReplicaPlacement>> PoolService::place(const PlacementRequest& request) {
  std::lock_guard lock(mutex_);
  MAYA_TRY(records, registry_.load());
  const std::size_t count = request.ids.size();
  // A host without disk pools keeps its volumes' replicas together in the store, as it did
  // before pools (asking for `default` by name is the same).
  if (request.pools.empty() && records->empty())
    return std::vector<ReplicaPlacement>(count, ReplicaPlacement{"default", {}});

  std::map<std::string, Candidate> online;
  std::vector<std::string> offline;
  auto consider = [&](const PoolInfo& p) {
    if (p.state != "online") {
      offline.push_back(p.name + " (" + p.state + ")");
      return;
    }
    struct statvfs st {};
    const std::uint64_t free =
        ::statvfs(p.mountpoint.c_str(), &st) == 0 ? std::uint64_t(st.f_bavail) * st.f_frsize : 0;
    online[p.name] = Candidate{p.name, p.mountpoint, free};
  };
  consider(describe_default());
  for (const PoolRecord& r : *records) consider(describe(r));

  std::vector<std::string> chosen;
  std::map<std::string, unsigned> uses;
  for (const auto& p : request.in_use) ++uses[p];
  auto fits = [&](const Candidate& c) {
    // A thick replica takes its size now; those chosen here on the same pool count too.
    const std::uint64_t wanted = request.thin ? 0 : request.size_bytes;
    const std::uint64_t placed_here =
        request.thin
            ? 0
            : std::uint64_t(std::count(chosen.begin(), chosen.end(), c.name)) * request.size_bytes;
    return c.free_bytes >= wanted + placed_here;
  };
  if (!request.pools.empty()) {
    if (request.pools.size() != count)
      return fail("volume " + request.volume + ": " + std::to_string(request.pools.size()) +
                  " pools named for " + std::to_string(count) + " replicas; name one per replica");
    for (const std::string& name : request.pools) {
      auto it = online.find(name);
      if (it == online.end()) {
        const bool known =
            name == "default" || std::any_of(records->begin(), records->end(),
                                             [&](const PoolRecord& r) { return r.name == name; });
        return fail(known ? "pool " + name + " is not online; `maya pool list` says why"
                          : "no pool named " + name);
      }
      if (uses[name] > 0 && !request.allow_same_pool)
        return fail("volume " + request.volume + " would have two replicas on pool " + name +
                    "; name distinct pools, or pass --allow-same-pool");
      if (!fits(it->second))
        return fail("pool " + name + " has " + format_size_approx(it->second.free_bytes) +
                    " free: a thick replica of " + format_size_approx(request.size_bytes) +
                    " does not fit (thin ones take space as written)");
      chosen.push_back(name);
      ++uses[name];
    }
  } else {
    // Chosen among the disk pools: the store's disk (`default`) only when named.
    std::vector<Candidate> by_free;
    for (const auto& [name, c] : online)
      if (name != "default") by_free.push_back(c);
    std::stable_sort(by_free.begin(), by_free.end(), [](const Candidate& a, const Candidate& b) {
      return a.free_bytes > b.free_bytes;
    });
    while (chosen.size() < count) {
      const Candidate* pick = nullptr;
      for (const Candidate& c : by_free) {
        if (!fits(c)) continue;
        if (uses[c.name] > 0 && !request.allow_same_pool) continue;
        // With --allow-same-pool, the least used pool first, then the most free.
        if (pick == nullptr || uses[c.name] < uses[pick->name]) pick = &c;
      }
      if (pick == nullptr) {
        std::vector<std::string> with_room;
        for (const Candidate& c : by_free)
          if (fits(c) && uses[c.name] == 0) with_room.push_back(c.name);
        return fail("volume " + request.volume + " needs " + std::to_string(count) +
                    " replica(s) on pools of their own" +
                    (request.in_use.empty() ? "" : " (beside " + joined(request.in_use) + ")") +
                    ", and " + std::to_string(chosen.size() + with_room.size()) +
                    " online pool(s) have room: " + joined(chosen) +
                    (with_room.empty() ? "" : ", " + joined(with_room)) +
                    (offline.empty() ? "" : "; not online: " + joined(offline)) +
                    ". Add pools (`maya pool create`), ask for fewer replicas, or pass "
                    "--allow-same-pool");
      }
      chosen.push_back(pick->name);
      ++uses[pick->name];
    }
  }

  std::vector<ReplicaPlacement> placed;
  for (std::size_t i = 0; i < count; ++i) {
    const Candidate& c = online.at(chosen[i]);
    if (c.name == "default") {
      placed.push_back({c.name, {}, {}});
      continue;
    }
    auto dir =
        replica_store(c.name, c.root)
            .make_volume_replica(request.volume, request.ids[i], request.size_bytes, request.thin);
    if (!dir) {
      std::error_code ec;
      for (const auto& p : placed)
        if (!p.dir.empty()) fs::remove_all(p.dir, ec);
      return std::unexpected(dir.error());
    }
    placed.push_back({c.name, *dir, snapshot_dir_of(c.root, *dir)});
  }
  return placed;
}

std::string PoolService::pool_of(const fs::path& replica_dir) {
  // By its path alone (<state>/pools/NAME/...): no lock, no file read, and a pool destroyed
  // since is still named (its replicas are on no pool that exists).
  const fs::path rel = replica_dir.lexically_normal().lexically_relative(state_dir_ / "pools");
  if (rel.empty() || *rel.begin() == ".." || *rel.begin() == ".") return "default";
  return rel.begin()->string();
}

}  // namespace maya::drivers::pools
