#include "lib/daemon/realm_replicas.h"

#include <algorithm>

#include "lib/realm/volume_record.h"

namespace maya::daemon {

using realm::KeyValue;

RealmReplicas::RealmReplicas(realm::HostAgent& agent, drivers::pools::PoolService& pools,
                             drivers::pools::ReplicaShares& shares, std::string host_id)
    : agent_(agent), pools_(pools), shares_(shares), host_id_(std::move(host_id)) {}

void RealmReplicas::note_error(const std::string& volume, const std::string& error,
                               std::vector<std::string>& notes) {
  auto& last = errors_[volume];
  if (last != error) notes.push_back(volume + ": " + error);
  last = error;
}

// The volume's replica here, made and shared if need be; returns its URI with the secret.
// `listed`: each pool's replicas, read once per pass (not once per volume).
// A replica this host published for another uid is left from an earlier volume of that name
// (deleted while this host was away, or re-created before this host's pass): it is destroyed,
// in whichever pool it is, and made again, never served with its old data. One never
// published (no share key: made, then cut short) no nexus has used; it is kept, as is any
// replica when the keys are missing or either side has no uid (records and shares from before
// uids, or a host of an older maya rewriting a record), rather than risk data on a guess.
Result<std::string> RealmReplicas::hold(const realm::VolumeRecord& v, const std::string& pool,
                                        const realm::RealmShare* published, PoolListings& listed,
                                        std::vector<std::string>& notes) {
  const std::string& volume = v.name;
  const std::uint64_t size_bytes = v.size_bytes;
  const std::string name = realm::realm_replica_name(volume);
  auto in_pool = listed.find(pool);
  if (in_pool == listed.end()) {
    MAYA_TRY(replicas, pools_.list_replicas(pool));
    in_pool = listed.emplace(pool, std::move(*replicas)).first;
  }
  const bool earlier =
      published && !published->uid.empty() && !v.uid.empty() && published->uid != v.uid;
  if (earlier) {
    // The earlier volume's replica is where its share said, maybe another pool than this one's.
    for (const std::string& p : {published->pool, pool}) {
      auto listing = listed.find(p);
      if (listing == listed.end()) {
        auto replicas = pools_.list_replicas(p);
        if (!replicas) continue;  // a pool gone: nothing of it to serve
        listing = listed.emplace(p, std::move(*replicas)).first;
      }
      auto& replicas = listing->second;
      if (std::none_of(replicas.begin(), replicas.end(),
                       [&](const auto& r) { return r.name == name; }))
        continue;
      if (auto un = shares_.unshare(p, name); !un)
        return fail("an earlier replica " + p + "/" + name +
                    " is in the way: " + un.error().message);
      MAYA_TRY_VOID(pools_.destroy_replica(p, name));
      notes.push_back(volume + ": a replica left from an earlier volume of that name (pool " + p +
                      ") destroyed");
      replicas.erase(std::remove_if(replicas.begin(), replicas.end(),
                                    [&](const auto& r) { return r.name == name; }),
                     replicas.end());
    }
    in_pool = listed.find(pool);
  }
  const drivers::pools::PoolReplica* found = nullptr;
  for (const auto& r : in_pool->second)
    if (r.name == name) found = &r;
  if (found) {
    if (found->size_bytes < size_bytes)
      return fail("replica " + pool + "/" + name + " is smaller than the volume");
    if (auto share = shares_.share_of(*found)) return share->uri_with_secret;
  } else {
    MAYA_TRY(made, pools_.create_replica(pool, name, size_bytes, v.thin));
    notes.push_back(volume + ": replica made in pool " + pool);
  }
  MAYA_TRY(shared, shares_.share(pool, name, std::nullopt));
  notes.push_back(volume + ": replica shared (" + shared->uri + ")");
  return shared->uri_with_secret;
}

std::vector<std::string> RealmReplicas::reconcile(std::int64_t& revision) {
  std::vector<std::string> notes;
  revision = 0;
  auto& store = agent_.store();
  const auto& keys = agent_.keys();
  auto volumes = store.list(keys.volumes());
  if (!volumes) return notes;  // etcd away: the agent says so
  revision = volumes->revision;
  std::map<std::string, std::string> mine;  // volume → pool, for its replica here
  PoolListings listed;
  // This host's published shares, read once: a share already published as it is costs nothing.
  std::map<std::string, realm::RealmShare> published;
  if (auto all = store.list(keys.root() + "shares/"); all) {
    for (const KeyValue& kv : all->items)
      if (auto share = realm::share_from_json(kv.value, kv.key);
          share && share->host_id == host_id_)
        published.emplace(kv.key, *share);
  } else {
    return notes;
  }
  for (const KeyValue& kv : volumes->items) {
    auto volume = realm::volume_from_json(kv.value, kv.key);
    if (volume && volume->name != realm::RealmKeys::leaf(kv.key, keys.volumes()))
      volume = fail(kv.key + ": names volume " + volume->name + ", not its key's");
    if (!volume) {
      note_error(kv.key, volume.error().message, notes);
      continue;
    }
    for (const realm::ReplicaPlace& r : volume->replicas) {
      if (r.host_id != host_id_) continue;
      mine[volume->name] = r.pool;
      const std::string key = keys.share(volume->name, host_id_);
      const auto current = published.find(key);
      auto uri = hold(*volume, r.pool, current == published.end() ? nullptr : &current->second,
                      listed, notes);
      if (!uri) {
        note_error(volume->name, uri.error().message, notes);
        continue;
      }
      const realm::RealmShare share{host_id_, r.pool, *uri, volume->uid};
      if (current != published.end() && current->second == share) {
        errors_.erase(volume->name);
        continue;
      }
      if (auto put = store.put(key, realm::share_json(share).dump()); !put)
        note_error(volume->name, put.error().message, notes);
      else
        errors_.erase(volume->name);
    }
  }
  drop_orphans(mine, notes);
  return notes;
}

// Share keys of this host whose volume is gone from etcd, or no longer places a replica here (a
// drain moved it): the replica goes.
void RealmReplicas::drop_orphans(const std::map<std::string, std::string>& mine,
                                 std::vector<std::string>& notes) {
  auto& store = agent_.store();
  const std::string prefix = agent_.keys().root() + "shares/";
  auto shares = store.list(prefix);
  if (!shares) return;
  const std::string suffix = "/" + host_id_;
  for (const KeyValue& kv : shares->items) {
    if (kv.key.size() <= prefix.size() + suffix.size() || !kv.key.ends_with(suffix)) continue;
    const std::string volume =
        kv.key.substr(prefix.size(), kv.key.size() - prefix.size() - suffix.size());
    if (mine.contains(volume)) continue;
    auto share = realm::share_from_json(kv.value, kv.key);
    if (!share) continue;
    // Checked again right before destroying: a volume created (or placed here) meanwhile keeps
    // its replica.
    auto still = store.get(agent_.keys().volume(volume));
    if (!still) continue;
    bool moved = false;
    if (*still) {
      auto record = realm::volume_from_json((**still).value, (**still).key);
      if (!record) continue;
      moved = std::none_of(record->replicas.begin(), record->replicas.end(),
                           [&](const realm::ReplicaPlace& r) { return r.host_id == host_id_; });
      if (!moved) continue;
    }
    const std::string name = realm::realm_replica_name(volume);
    if (auto un = shares_.unshare(share->pool, name); !un) {
      note_error(volume, un.error().message, notes);
      continue;
    }
    if (auto gone = pools_.destroy_replica(share->pool, name); !gone) {
      note_error(volume, gone.error().message, notes);
      continue;
    }
    (void)store.remove(kv.key, kv.mod_revision);
    errors_.erase(volume);
    notes.push_back(volume + (moved ? ": its replica moved off this host; destroyed here"
                                    : ": deleted from the realm; its replica here destroyed"));
  }
}

}  // namespace maya::daemon
