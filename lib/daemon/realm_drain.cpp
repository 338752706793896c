// Draining a host (`maya realm drain HOST`, realm_volumes.h): the owner of each of its volumes
// moves the replica there to another host, one step per pass of the realm thread, each step
// recorded in etcd before the next, so that a crash, a restart or a failover to another owner
// resumes where the move stood:
//   1. a new place is appended to the volume's record, `joining`, on a host placement picks
//      (not draining, not holding the volume, a zone without a replica first); its host makes
//      and shares the replica (RealmReplicas);
//   2. the owner adds the share to its nexus and records the replica's id; the nexus rebuilds it;
//   3. once it is RW, the drained replica leaves the nexus (its reservation released) and the
//      record (no longer joining; the drained host then destroys its replica).
// The volume keeps every replica it had until the new one is in sync. A drain cancelled
// (`maya realm undrain`) mid-move takes the joining replica back out instead.
#include <set>

#include "lib/common/log.h"
#include "lib/daemon/realm_volumes.h"
#include "lib/jiva/remote_replicas.h"
#include "lib/realm/placement.h"

namespace maya::daemon {

using drivers::ReplicaInfo;
using realm::VolumeRecord;

namespace {

constexpr std::size_t kNone = static_cast<std::size_t>(-1);

bool draining(const realm::HostList& hosts, const std::string& id) {
  for (const auto& h : hosts.hosts)
    if (h.record.id == id) return h.draining.has_value();
  return false;
}

std::string host_label(const realm::HostList& hosts, const std::string& id) {
  for (const auto& h : hosts.hosts)
    if (h.record.id == id && !h.record.name.empty()) return h.record.name;
  return id;
}

// The first replica on a draining host (kNone when none), and the joining one.
struct MoveState {
  std::size_t leaving = kNone;
  std::size_t joining = kNone;
};

MoveState move_state(const VolumeRecord& v, const realm::HostList& hosts) {
  MoveState s;
  for (std::size_t i = 0; i < v.replicas.size(); ++i) {
    if (v.replicas[i].joining) {
      if (s.joining == kNone) s.joining = i;
    } else if (s.leaving == kNone && draining(hosts, v.replicas[i].host_id)) {
      s.leaving = i;
    }
  }
  return s;
}

const ReplicaInfo* nexus_replica(const drivers::VolumeInfo& nexus, const std::string& id) {
  if (!nexus.replication) return nullptr;
  for (const ReplicaInfo& r : nexus.replication->replicas)
    if (r.id == id) return &r;
  return nullptr;
}

}  // namespace

Result<std::string> RealmVolumes::move_step(const std::string& name, const realm::HostList& hosts) {
  std::int64_t revision = 0;
  MAYA_TRY(found, record(name, &revision));
  if (!*found) return std::string();
  VolumeRecord v = std::move(**found);
  MoveState s = move_state(v, hosts);
  if (s.leaving == kNone && s.joining == kNone) return std::string();
  // Only the owner of the record's generation moves it: a host that lost the volume to a
  // takeover since its pass began must not change the record under the new owner's nexus (the
  // replace below fails if the record moved on meanwhile).
  if (auto held = taken_.find(name); held == taken_.end() || held->second != v.generation)
    return fail("not moved here: another host took it over (generation " +
                std::to_string(v.generation) + ")");
  MAYA_TRY(nexus, local_->get(name));
  auto& store = agent_.store();
  const std::string key = agent_.keys().volume(name);
  auto save = [&](const VolumeRecord& changed) -> Result<void> {
    MAYA_TRY(replaced, store.replace(key, realm::volume_json(changed).dump(), revision));
    if (!*replaced) return fail("volume " + name + " changed in the realm meanwhile");
    return {};
  };
  // Every replica named by its id from now on: removing one shifts the others' positions.
  for (std::size_t i = 0; i < v.replicas.size(); ++i)
    if (!v.replicas[i].joining) v.replicas[i].id = realm::replica_id(v, i);

  if (s.joining == kNone) {  // 1. a new home for the drained replica
    realm::PlacementRequest request;
    request.replicas = 1;
    request.size_bytes = v.thin ? 0 : v.size_bytes;
    request.draining_hosts = realm::draining_hosts(hosts);
    for (std::size_t i = 0; i < v.replicas.size(); ++i) {
      request.exclude_hosts.push_back(v.replicas[i].host_id);
      if (i == s.leaving) continue;
      for (const auto& h : hosts.hosts)
        if (h.record.id == v.replicas[i].host_id) request.zones_used.push_back(h.record.zone);
    }
    auto placed = realm::place(request, realm::pool_candidates(hosts));
    if (!placed)
      return fail("no host to move its replica on " +
                  host_label(hosts, v.replicas[s.leaving].host_id) +
                  " to: " + placed.error().message);
    const realm::Placement& to = placed->front();
    v.replicas.push_back({to.host_id, to.pool, "", true});
    MAYA_TRY_VOID(save(v));
    return "moving its replica on " + host_label(hosts, v.replicas[s.leaving].host_id) + " to " +
           host_label(hosts, to.host_id) + " (pool " + to.pool + ")";
  }

  realm::ReplicaPlace& joining = v.replicas[s.joining];
  // The joining replica in the nexus: by its recorded id, or by its share's URI when the step
  // that added it was cut short before recording the id.
  std::string in_nexus = !joining.id.empty() && nexus_replica(*nexus, joining.id) ? joining.id : "";
  std::optional<realm::RealmShare> share;
  if (in_nexus.empty()) {
    MAYA_TRY(kv, store.get(agent_.keys().share(name, joining.host_id)));
    if (*kv) {
      MAYA_TRY(published, realm::share_from_json((*kv)->value, (*kv)->key));
      if (published->uid == v.uid) share = *published;  // else: an earlier volume's, going
    }
    if (share) {
      MAYA_TRY(uri, maya::jiva::parse_remote_uri(share->uri));
      if (nexus->replication)
        for (const ReplicaInfo& r : nexus->replication->replicas)
          if (r.uri == uri->uri) in_nexus = r.id;
    }
  }
  if (s.leaving == kNone) {  // the drain was cancelled: the joining replica goes again
    if (!in_nexus.empty()) MAYA_TRY_VOID(local_->remove_replica(name, in_nexus));
    const std::string to = host_label(hosts, joining.host_id);
    v.replicas.erase(v.replicas.begin() + static_cast<std::ptrdiff_t>(s.joining));
    MAYA_TRY_VOID(save(v));
    return "drain cancelled: its new replica on " + to + " is taken out again";
  }

  if (in_nexus != joining.id || in_nexus.empty()) {  // 2. into the nexus, once it is shared
    std::string id = in_nexus;
    if (id.empty()) {
      if (!share) return std::string();  // its host has not shared it yet
      MAYA_TRY(made, local_->add_replica(name, share->uri));
      id = *made;
    }
    joining.id = id;
    MAYA_TRY_VOID(save(v));
    return "its new replica " + id + " on " + host_label(hosts, joining.host_id) +
           " is added; it is being rebuilt";
  }
  const ReplicaInfo* added = nexus_replica(*nexus, joining.id);
  if (added == nullptr || added->mode != "RW") return std::string();  // 3. waits for the rebuild

  const realm::ReplicaPlace leaving = v.replicas[s.leaving];
  if (nexus_replica(*nexus, leaving.id)) MAYA_TRY_VOID(local_->remove_replica(name, leaving.id));
  joining.joining = false;
  const std::string to = host_label(hosts, joining.host_id);
  v.replicas.erase(v.replicas.begin() + static_cast<std::ptrdiff_t>(s.leaving));
  MAYA_TRY_VOID(save(v));
  return "its replica on " + host_label(hosts, leaving.host_id) + " moved to " + to;
}

std::vector<std::string> RealmVolumes::move_off_drained() {
  std::vector<std::string> notes;
  auto hosts = realm::list_hosts(agent_.store(), agent_.keys());
  if (!hosts) return notes;
  auto volumes = agent_.store().list(agent_.keys().volumes());
  if (!volumes) return notes;
  std::map<std::string, realm::Attachment> attached;
  if (auto all = agent_.store().list(agent_.keys().attachments()); all) {
    for (const auto& kv : all->items)
      if (auto a = realm::attachment_from_json(kv.value, kv.key))
        attached.emplace(realm::RealmKeys::leaf(kv.key, agent_.keys().attachments()), *a);
  } else {
    return notes;
  }
  for (const auto& kv : volumes->items) {
    auto v = realm::volume_from_json(kv.value, kv.key);
    if (!v) continue;
    const MoveState s = move_state(*v, *hosts);
    auto holder = attached.find(v->name);
    const bool mine = holder != attached.end() && holder->second.host_id == options_.host_id;
    if (mine && holder->second.for_drain) {
      std::lock_guard lock(mutex_);
      drain_held_.insert(v->name);  // after a restart, from the attachment
    }
    if (s.leaving == kNone && s.joining == kNone) {
      // Moved: a volume attached only for its move is given up (unless used here meanwhile).
      bool held = false;
      {
        std::lock_guard lock(mutex_);
        held = mine && drain_held_.contains(v->name);
      }
      if (held)
        if (auto given = give_up_if_idle(v->name); !given)
          notes.push_back(v->name + ": " + given.error().message);
      continue;
    }
    if (holder != attached.end() && !mine) continue;  // its owner moves it
    std::lock_guard lock(mutex_);
    if (holder == attached.end()) {
      if (auto after = take_after_.find(v->name);
          after != take_after_.end() && std::chrono::steady_clock::now() < after->second)
        continue;
      // Detached: moved by the host that asked for the drain, which attaches it for that.
      bool asked_here = false;
      for (const auto& h : hosts->hosts)
        for (const auto& r : v->replicas)
          if (h.record.id == r.host_id && h.draining && h.draining->by == options_.host_id)
            asked_here = true;
      if (!asked_here || is_local(v->name)) continue;
      std::int64_t revision = 0;
      auto fresh = record(v->name, &revision);
      if (!fresh || !*fresh) continue;
      if (auto taken = take(std::move(**fresh), revision, /*for_drain=*/true); !taken) {
        take_after_[v->name] = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        const std::string why = "attaching it here to move its replica: " + taken.error().message;
        if (auto& last = move_errors_[v->name]; last != why) notes.push_back(v->name + ": " + why);
        move_errors_[v->name] = why;
        continue;
      }
      take_after_.erase(v->name);
      notes.push_back(v->name + ": attached here to move its replica off a drained host");
    }
    if (!is_local(v->name)) continue;  // attached here a moment ago, given up since
    auto step = move_step(v->name, *hosts);
    if (!step) {
      // Said once until it changes: a move that cannot go on is retried at every pass.
      if (auto& last = move_errors_[v->name]; last != step.error().message) {
        last = step.error().message;
        notes.push_back(v->name + ": " + last);
      }
      continue;
    }
    move_errors_.erase(v->name);
    if (!step->empty()) notes.push_back(v->name + ": " + *step);
  }
  return notes;
}

}  // namespace maya::daemon
