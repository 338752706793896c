// Attaching a realm volume on this host, giving it up, and deleting it (realm_volumes.h).
#include <set>

#include "lib/common/files.h"
#include "lib/common/log.h"
#include "lib/common/time_format.h"
#include "lib/daemon/realm_volumes.h"
#include "lib/realm/host_record.h"

namespace maya::daemon {

using drivers::VolumeInfo;
using drivers::VolumeSpec;
using realm::Attachment;
using realm::VolumeRecord;

void RealmVolumes::save_taken() {
  nlohmann::json doc = nlohmann::json::object();
  for (const auto& [name, generation] : taken_) doc[name] = generation;
  if (auto saved = write_file_atomic(options_.state_file, doc.dump(2) + "\n", 0600); !saved)
    log::warn("realm: " + saved.error().message);
}

// The replicas' share URIs (secrets included) and ids, in the record's order: each replica's
// journal names its fellows by id, so the nexus gives them the ids the record keeps (r1..rN
// for a volume never drained), as every earlier owner did.
// A replica whose host is down is listed all the same: it fails to open, the volume attaches
// degraded, and its target brings it back when it answers. A replica never shared yet (its
// host has not seen the volume) cannot be listed, and the attach waits for it.
// A replica still joining (a drain's new one) is left out: it is no source, and counting it
// would raise the write quorum; the move adds it again (realm_drain.cpp).
Result<RealmVolumes::Children> RealmVolumes::share_uris(const VolumeRecord& volume) {
  MAYA_TRY(hosts, realm::list_hosts(agent_.store(), agent_.keys()));
  MAYA_TRY(shares, agent_.store().list(agent_.keys().shares(volume.name)));
  Children children;
  unsigned reachable = 0;
  for (std::size_t i = 0; i < volume.replicas.size(); ++i) {
    const realm::ReplicaPlace& r = volume.replicas[i];
    if (r.joining) continue;
    const std::string key = agent_.keys().share(volume.name, r.host_id);
    const realm::KeyValue* kv = nullptr;
    for (const auto& item : shares->items)
      if (item.key == key) kv = &item;
    if (!kv)
      return fail("volume " + volume.name + ": its replica on host " + r.host_id +
                  " is not shared yet (that host makes it when it sees the volume); try again");
    MAYA_TRY(share, realm::share_from_json(kv->value, kv->key));
    if (share->uid != volume.uid)
      return fail("volume " + volume.name + ": host " + r.host_id +
                  " still shares the replica of an earlier volume of that name (it makes this "
                  "one's when it sees the volume); try again");
    children.uris.push_back(share->uri);
    children.ids.push_back(realm::replica_id(volume, i));
    bool up = false;
    for (const auto& h : hosts->hosts) up = up || (h.record.id == r.host_id && h.up);
    if (up)
      ++reachable;
    else
      log::warn("volume " + volume.name + " attaches without its replica on host " + r.host_id +
                " (down) for now");
  }
  if (reachable == 0) return fail("volume " + volume.name + ": none of its replicas' hosts is up");
  return children;
}

Result<void> RealmVolumes::take(VolumeRecord volume, std::int64_t revision, bool for_drain) {
  const std::string& name = volume.name;
  const realm::LeaseId lease = agent_.lease();
  if (lease == 0)
    return fail("volume " + name +
                ": this host is not registered in its realm now (see `maya status`), so it "
                "cannot attach a realm volume");
  // One writer: the attachment lives under this host's lease; another host's attempt fails
  // while this host lives, and succeeds once its lease has expired.
  const Attachment mine{options_.host_id, options_.host_name, volume.generation + 1, iso8601(),
                        for_drain};
  auto& store = agent_.store();
  const std::string key = agent_.keys().attachment(name);
  MAYA_TRY(created, store.create(key, realm::attachment_json(mine).dump(), lease));
  if (!*created) {
    MAYA_TRY(kv, store.get(key));
    if (!*kv) return fail("volume " + name + " was being attached elsewhere; try again");
    MAYA_TRY(holder, realm::attachment_from_json((*kv)->value, key));
    if (holder->host_id != options_.host_id && holder->for_drain)
      return fail("volume " + name + " is attached on host " +
                  (holder->host_name.empty() ? holder->host_id : holder->host_name) +
                  " for now, only to move its replica off a drained host (`maya realm drain`); "
                  "it is given up there when the move is done: try again then");
    if (holder->host_id != options_.host_id)
      return fail("volume " + name + " is attached on host " +
                  (holder->host_name.empty() ? holder->host_id : holder->host_name) + " (since " +
                  holder->since +
                  "): one host at a time; detach it there, or, if that host is down, wait for "
                  "its lease to expire (`maya realm status`)");
    // This host's own key from an attach cut short: taken over only if unchanged since read.
    MAYA_TRY(replaced,
             store.replace(key, realm::attachment_json(mine).dump(), (*kv)->mod_revision, lease));
    if (!*replaced)
      return fail("volume " + name + " changed in the realm while attaching; try again");
  }
  // The replicas first (read only): an attach that cannot go on bumps nothing.
  auto children = share_uris(volume);
  if (!children) {
    (void)release_attachment(name);
    return std::unexpected(children.error());
  }
  // The new owner's generation: the record says who may write now.
  volume.generation = mine.generation;
  auto bumped =
      store.replace(agent_.keys().volume(name), realm::volume_json(volume).dump(), revision);
  if (!bumped || !*bumped) {
    (void)release_attachment(name);
    if (!bumped) return std::unexpected(bumped.error());
    return fail("volume " + name + " changed in the realm while attaching; try again");
  }
  // The nexus: a local jiva volume over the shares, none of its replicas here. It takes the
  // replicas over from the previous owner (a persistent-reservation preempt), once: an old
  // owner that comes back is fenced off.
  VolumeSpec spec;
  spec.name = name;
  spec.size_bytes = volume.size_bytes;
  spec.thin = volume.thin;
  spec.fstype = volume.fstype.empty() ? options_.default_fstype : volume.fstype;
  spec.storage_driver = "jiva";
  spec.attach = options_.attach_mode;
  spec.replicas = static_cast<unsigned>(children->uris.size());
  spec.remote_replicas = std::move(children->uris);
  spec.remote_replica_ids = std::move(children->ids);
  spec.claim_remote_replicas = true;
  spec.quorum_writes = true;  // so that a next owner may go on without a dead host's replica
  spec.realm_epoch = volume.generation;
  if (auto made = local_->create(spec); !made) {
    (void)release_attachment(name);
    return fail("volume " + name + ": attaching here", made.error());
  }
  taken_[name] = volume.generation;
  if (for_drain) drain_held_.insert(name);
  save_taken();
  log::info("realm volume " + name + " attached here (generation " +
            std::to_string(volume.generation) + ")");
  return {};
}

Result<void> RealmVolumes::release_attachment(const std::string& name) {
  MAYA_TRY(kv, agent_.store().get(agent_.keys().attachment(name)));
  if (!*kv) return {};
  MAYA_TRY(holder, realm::attachment_from_json((*kv)->value, (*kv)->key));
  if (holder->host_id != options_.host_id) return {};
  MAYA_TRY(removed, agent_.store().remove((*kv)->key, (*kv)->mod_revision));
  (void)removed;  // gone already: fine
  return {};
}

Result<void> RealmVolumes::give_up(const std::string& name) {
  // The nexus only: the replicas are the realm's (delete releases their reservations).
  MAYA_TRY_VOID(local_->remove(name, /*force=*/false, /*with_snapshots=*/false));
  taken_.erase(name);
  drain_held_.erase(name);
  save_taken();
  log::info("realm volume " + name + " given up here");
  return release_attachment(name);
}

Result<void> RealmVolumes::give_up_if_idle(const std::string& name) {
  std::lock_guard lock(mutex_);
  if (!taken_.contains(name)) {
    // Attached before a daemon restart: still a realm volume if etcd says so.
    auto rec = record(name);
    if (!rec || !*rec) return {};
  }
  if (using_.contains(name)) return {};  // a mount or attach on its way (mount() below)
  auto info = local_->get(name);
  if (!info || info->mount_count() > 0 || !info->device.empty()) return {};
  return give_up(name);
}

Result<void> RealmVolumes::ensure_here(const std::string& name, bool* took) {
  *took = false;
  std::lock_guard lock(mutex_);
  if (is_local(name)) {
    // A nexus here serves only while this host holds the volume: after a takeover elsewhere it
    // is stale (fenced) until the realm thread drops it. etcd away: it goes on serving.
    auto holder = attachment(name);
    if (holder && *holder && (*holder)->host_id != options_.host_id)
      return fail("volume " + name + " is attached on host " + (*holder)->host_name +
                  " now; this host's copy is stale and is being dropped");
    return {};
  }
  std::int64_t revision = 0;
  MAYA_TRY(rec, record(name, &revision));
  if (!*rec) return {};  // not a realm volume: the host's own answer follows
  MAYA_TRY_VOID(take(std::move(**rec), revision));
  *took = true;
  return {};
}

// Between ensure_here and the host's mount or attach the nexus is idle, and must not be given
// up meanwhile (the realm thread gives up a volume attached only for a drain once moved).
class RealmVolumes::Using {
 public:
  Using(RealmVolumes& self, const std::string& name) : self_(self), name_(name) {
    std::lock_guard lock(self_.mutex_);
    ++self_.using_[name_];
  }
  ~Using() {
    std::lock_guard lock(self_.mutex_);
    if (--self_.using_[name_] == 0) self_.using_.erase(name_);
  }
  Using(const Using&) = delete;
  Using& operator=(const Using&) = delete;

 private:
  RealmVolumes& self_;
  const std::string name_;
};

Result<std::filesystem::path> RealmVolumes::mount(const std::string& name, const std::string& id) {
  Using in_use(*this, name);
  bool took = false;
  MAYA_TRY_VOID(ensure_here(name, &took));
  auto mounted = local_->mount(name, id);
  if (!mounted && took) {
    std::lock_guard lock(mutex_);
    (void)give_up(name);
  }
  return mounted;
}

Result<void> RealmVolumes::unmount(const std::string& name, const std::string& id) {
  MAYA_TRY_VOID(local_->unmount(name, id));
  return give_up_if_idle(name);
}

Result<std::filesystem::path> RealmVolumes::attach(const std::string& name) {
  Using in_use(*this, name);
  bool took = false;
  MAYA_TRY_VOID(ensure_here(name, &took));
  auto attached = local_->attach(name);
  if (!attached && took) {
    std::lock_guard lock(mutex_);
    (void)give_up(name);
  }
  return attached;
}

Result<void> RealmVolumes::detach(const std::string& name) {
  MAYA_TRY_VOID(local_->detach(name));
  return give_up_if_idle(name);
}

Result<void> RealmVolumes::remove(const std::string& name, bool force) {
  return remove(name, force, false);
}

Result<void> RealmVolumes::remove(const std::string& name, bool force, bool with_snapshots) {
  std::int64_t revision = 0;
  MAYA_TRY(rec, record(name, &revision));
  if (!*rec) return local_->remove(name, force, with_snapshots);
  MAYA_TRY(holder, attachment(name));
  if (*holder && (*holder)->host_id != options_.host_id)
    return fail("volume " + name + " is attached on host " + (*holder)->host_name +
                ": detach it there first");
  {
    std::lock_guard lock(mutex_);
    if (is_local(name)) {
      MAYA_TRY_VOID(local_->remove(name, force, with_snapshots));
      taken_.erase(name);
      save_taken();
      MAYA_TRY_VOID(release_attachment(name));
    }
  }
  // The replicas' hosts destroy them when they see the record gone (RealmReplicas).
  MAYA_TRY(removed, agent_.store().remove(agent_.keys().volume(name), revision));
  if (!*removed) return fail("volume " + name + " changed in the realm while deleting; try again");
  log::info("realm volume " + name + " deleted");
  return {};
}

std::vector<std::string> RealmVolumes::drop_stale() {
  std::vector<std::string> notes;
  auto locals = local_->list();
  if (!locals) return notes;
  std::lock_guard lock(mutex_);
  std::set<std::string> here;
  for (const VolumeInfo& v : *locals) {
    const std::string& name = v.spec.name;
    here.insert(name);
    if (!realm_driver(v.spec.storage_driver)) continue;
    auto rec = record(name);
    auto holder = attachment(name);
    if (!rec || !holder) {
      const Error& e = !rec ? rec.error() : holder.error();
      if (e.code == errno_code(ECONNREFUSED) || e.code == errno_code(ETIMEDOUT)) return notes;
      continue;  // one unreadable key: the others are still looked at
    }
    auto mine = taken_.find(name);
    if (!*rec) {
      if (mine == taken_.end()) continue;  // a volume of this host's own
      notes.push_back(name + ": deleted from the realm; its nexus here goes");
    } else if (*holder && (*holder)->host_id == options_.host_id) {
      if (taken_.try_emplace(name, (*holder)->generation).second) save_taken();
      continue;
    } else if (!*holder) {
      if (mine == taken_.end()) continue;  // not known as the realm's here: leave it
      if (mine->second == (*rec)->generation) {
        // The attachment went with an expired lease (etcd away, this host partitioned) and
        // nobody took the volume meanwhile: take it again, or try on the next pass. Never drop
        // a nexus in use for want of a lease.
        const realm::LeaseId lease = agent_.lease();
        const Attachment again{options_.host_id, options_.host_name, mine->second, iso8601(),
                               drain_held_.contains(name)};
        if (lease != 0) {
          auto made = agent_.store().create(agent_.keys().attachment(name),
                                            realm::attachment_json(again).dump(), lease);
          if (made && *made)
            notes.push_back(name + ": attached here again (generation " +
                            std::to_string(mine->second) + ")");
        }
        continue;
      }
      notes.push_back(name + ": another host took it over meanwhile (generation " +
                      std::to_string((*rec)->generation) + "); its nexus here goes");
    } else {
      notes.push_back(name + ": attached on host " + (*holder)->host_name +
                      " now; the stale nexus here goes");
    }
    // Stale: its target stops, its mounts go (lazily), the replicas are left to the owner.
    if (auto removed = local_->remove(name, /*force=*/true, false); !removed)
      notes.back() += " (failed: " + removed.error().message + ")";
    taken_.erase(name);
    save_taken();
  }
  // Attachment keys of this host without a nexus here (an attach or give-up cut short): they
  // would keep the volume from every other host while this one lives.
  if (auto all = agent_.store().list(agent_.keys().attachments())) {
    for (const auto& kv : all->items) {
      auto a = realm::attachment_from_json(kv.value, kv.key);
      const std::string name(realm::RealmKeys::leaf(kv.key, agent_.keys().attachments()));
      if (!a || a->host_id != options_.host_id || here.contains(name)) continue;
      if (auto gone = agent_.store().remove(kv.key, kv.mod_revision); gone && *gone)
        notes.push_back(name + ": attachment without a nexus here released");
    }
  }
  return notes;
}

}  // namespace maya::daemon
