#include "lib/daemon/realm_volumes.h"

#include <algorithm>
#include <map>
#include <thread>

#include "lib/common/json_file.h"
#include "lib/common/log.h"
#include "lib/common/time_format.h"
#include "lib/realm/host_record.h"
#include "lib/realm/placement.h"

namespace maya::daemon {

using drivers::VolumeInfo;
using drivers::VolumeSpec;
using realm::Attachment;
using realm::VolumeRecord;
using namespace std::chrono_literals;

namespace {

Result<void> refuse_unsupported(const VolumeSpec& spec) {
  auto no = [&](const std::string& what) {
    return fail("volume " + spec.name + ": " + what +
                " is not supported for realm volumes yet (placement picks their hosts and pools)");
  };
  if (!spec.pools.empty()) return no("--pools");
  if (!spec.remote_replicas.empty()) return no("--replica URI");
  if (!spec.from.empty()) return no("a clone (--from)");
  // Write quorums over 4 or more replicas can wedge a volume whose only source is rebuilding
  // the others (two in sync are no majority of four): not offered until that is solved.
  if (spec.replicas > 3)
    return fail("volume " + spec.name + ": realm volumes have at most 3 replicas for now (asked " +
                std::to_string(spec.replicas) + ")");
  return {};
}

}  // namespace

RealmVolumes::RealmVolumes(std::unique_ptr<drivers::VolumeService> local, realm::HostAgent& agent,
                           Options options)
    : local_(std::move(local)), agent_(agent), options_(std::move(options)) {
  // The volumes this host attached, across a daemon restart: a broken file is logged and read
  // as none (drop_stale then leaves their nexuses alone rather than guess).
  if (!std::filesystem::exists(options_.state_file)) return;
  auto doc = read_json_file({options_.state_file, "realm attachments"});
  if (!doc) {
    log::warn("realm: " + doc.error().message);
    return;
  }
  for (const auto& [name, generation] : doc->items())
    if (generation.is_number_unsigned()) taken_[name] = generation.get<std::uint64_t>();
}

Result<std::optional<VolumeRecord>> RealmVolumes::record(const std::string& name,
                                                         std::int64_t* revision) {
  MAYA_TRY(kv, agent_.store().get(agent_.keys().volume(name)));
  if (!*kv) return std::nullopt;
  if (revision) *revision = (*kv)->mod_revision;
  MAYA_TRY(volume, realm::volume_from_json((*kv)->value, (*kv)->key));
  if (volume->name != name) return fail((*kv)->key + ": names volume " + volume->name);
  return std::optional<VolumeRecord>(std::move(*volume));
}

Result<std::optional<Attachment>> RealmVolumes::attachment(const std::string& name) {
  MAYA_TRY(kv, agent_.store().get(agent_.keys().attachment(name)));
  if (!*kv) return std::nullopt;
  MAYA_TRY(attached, realm::attachment_from_json((*kv)->value, (*kv)->key));
  return std::optional<Attachment>(std::move(*attached));
}

bool RealmVolumes::is_local(const std::string& name) {
  return local_->get(name).has_value();
}

// ---- create -------------------------------------------------------------------------------

Result<VolumeRecord> RealmVolumes::place(const VolumeSpec& spec) {
  MAYA_TRY(hosts, realm::list_hosts(agent_.store(), agent_.keys()));
  const std::vector<realm::PoolCandidate> candidates = realm::pool_candidates(*hosts);
  realm::PlacementRequest request;
  request.draining_hosts = realm::draining_hosts(*hosts);
  // Hosts the volume names, by name or id.
  for (const std::string& wanted : spec.hosts) {
    std::string id = wanted;
    for (const auto& h : hosts->hosts)
      if (h.record.name == wanted || h.record.id == wanted) id = h.record.id;
    request.hosts.push_back(id);
  }
  request.replicas = spec.replicas;
  std::string zone = spec.zone;  // else the creating host's
  for (const auto& h : hosts->hosts)
    if (zone.empty() && h.record.id == options_.host_id) zone = h.record.zone;
  request.first_zone = zone;
  // A thin volume takes space as it is written: any pool with room may hold it, the freest
  // first. A thick one needs its size free.
  request.size_bytes = spec.thin ? 0 : spec.size_bytes;
  MAYA_TRY(placed, realm::place(request, candidates));
  VolumeRecord volume;
  volume.name = spec.name;
  volume.size_bytes = spec.size_bytes;
  volume.thin = spec.thin;
  volume.fstype = spec.fstype;
  for (const realm::Placement& p : *placed)
    volume.replicas.push_back(
        {p.host_id, p.pool, "r" + std::to_string(volume.replicas.size() + 1), false});
  volume.created_on = options_.host_id;
  volume.created_at = iso8601();
  volume.uid = realm::new_volume_uid();
  volume.ebs_id = spec.ebs_id;
  if (volume.ebs_id.empty() && options_.new_ebs_id) volume.ebs_id = options_.new_ebs_id();
  volume.zone = zone;
  return volume;
}

Result<VolumeInfo> RealmVolumes::create(const VolumeSpec& spec) {
  if (!realm_driver(spec.storage_driver)) return local_->create(spec);
  MAYA_TRY_VOID(refuse_unsupported(spec));
  if (is_local(spec.name)) return fail("volume " + spec.name + " already exists");
  MAYA_TRY(existing, record(spec.name));
  if (*existing) return fail("volume " + spec.name + " already exists in the realm");
  MAYA_TRY(volume, place(spec));
  MAYA_TRY(created, agent_.store().create(agent_.keys().volume(spec.name),
                                          realm::volume_json(*volume).dump()));
  if (!*created) return fail("volume " + spec.name + " already exists in the realm");
  log::info("realm volume " + spec.name + " created: " + std::to_string(volume->replicas.size()) +
            " replicas");
  VolumeInfo info = info_of(*volume, std::nullopt);
  wait_for_shares(*volume, info);
  return info;
}

// Each replica's host makes and shares it when it sees the record (RealmReplicas): create
// returns once all are shared, or after share_wait with a warning naming those that are not.
void RealmVolumes::wait_for_shares(const VolumeRecord& volume, VolumeInfo& info) {
  const auto deadline = std::chrono::steady_clock::now() + options_.share_wait;
  std::vector<std::string> missing;
  while (true) {
    missing.clear();
    auto shares = agent_.store().list(agent_.keys().shares(volume.name));
    for (const realm::ReplicaPlace& r : volume.replicas) {
      const std::string key = agent_.keys().share(volume.name, r.host_id);
      // Shared for this volume, not for an earlier one of that name.
      bool shared = shares && std::any_of(shares->items.begin(), shares->items.end(),
                                          [&](const realm::KeyValue& kv) {
                                            auto s = realm::share_from_json(kv.value, kv.key);
                                            return kv.key == key && s && s->uid == volume.uid;
                                          });
      if (!shared) missing.push_back(r.host_id + " (pool " + r.pool + ")");
    }
    if (missing.empty() || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(200ms);
  }
  for (const std::string& m : missing)
    info.warnings.push_back("the replica on host " + m +
                            " is not shared yet: that host makes "
                            "it when it sees the volume (is it up? `maya realm status`)");
}

// ---- views --------------------------------------------------------------------------------

VolumeInfo RealmVolumes::info_of(const VolumeRecord& volume,
                                 const std::optional<Attachment>& attached) {
  VolumeInfo info;
  info.spec.name = volume.name;
  info.spec.size_bytes = volume.size_bytes;
  info.spec.thin = volume.thin;
  info.spec.replicas = static_cast<unsigned>(volume.replicas.size());
  info.spec.storage_driver = "jiva";
  info.spec.fstype = volume.fstype;
  info.created = volume.created_at;
  info.state = "detached";
  info.realm_generation = volume.generation;
  info.realm_ebs_id = volume.ebs_id;
  info.realm_zone = volume.zone;
  if (attached) {
    info.state = "attached elsewhere";
    info.realm_attached_on = attached->host_name.empty() ? attached->host_id : attached->host_name;
    info.realm_attached_id = attached->host_id;
  }
  return info;
}

Result<VolumeInfo> RealmVolumes::get(const std::string& name) {
  auto local = local_->get(name);
  if (local) {
    // Attached here: the local view, marked as the realm's when etcd answers.
    if (auto rec = record(name); rec && *rec) {
      local->realm_generation = (*rec)->generation;
      local->realm_attached_on = options_.host_name;
      local->realm_attached_id = options_.host_id;
      local->realm_ebs_id = (*rec)->ebs_id;
      local->realm_zone = (*rec)->zone;
    }
    return local;
  }
  MAYA_TRY(rec, record(name));
  if (!*rec) return local;  // this host's "no such volume"
  MAYA_TRY(attached, attachment(name));
  return info_of(**rec, *attached);
}

Result<std::vector<VolumeInfo>> RealmVolumes::list() {
  MAYA_TRY(locals, local_->list());
  auto listed = agent_.store().list(agent_.keys().volumes());
  if (!listed) {
    // This host's volumes still list (Docker needs them to start containers).
    log::warn("listing realm volumes: " + listed.error().message);
    return locals;
  }
  std::map<std::string, Attachment> attached;
  if (auto all = agent_.store().list(agent_.keys().attachments())) {
    for (const auto& kv : all->items)
      if (auto a = realm::attachment_from_json(kv.value, kv.key))
        attached.emplace(realm::RealmKeys::leaf(kv.key, agent_.keys().attachments()), *a);
  }
  std::map<std::string, VolumeInfo> by_name;
  for (VolumeInfo& v : *locals) by_name.emplace(v.spec.name, std::move(v));
  for (const auto& kv : listed->items) {
    auto volume = realm::volume_from_json(kv.value, kv.key);
    if (!volume) {
      log::warn(volume.error().message);
      continue;
    }
    if (auto here = by_name.find(volume->name); here != by_name.end()) {
      here->second.realm_generation = volume->generation;
      here->second.realm_attached_on = options_.host_name;
      here->second.realm_attached_id = options_.host_id;
      here->second.realm_ebs_id = volume->ebs_id;
      here->second.realm_zone = volume->zone;
      continue;
    }
    auto a = attached.find(volume->name);
    by_name.emplace(volume->name,
                    info_of(*volume, a == attached.end() ? std::nullopt
                                                         : std::optional<Attachment>(a->second)));
  }
  std::vector<VolumeInfo> all;
  for (auto& [name, v] : by_name) all.push_back(std::move(v));
  return all;
}

Result<std::filesystem::path> RealmVolumes::path(const std::string& name) {
  if (is_local(name)) return local_->path(name);
  MAYA_TRY(rec, record(name));
  if (*rec) return std::filesystem::path();  // not mounted here
  return local_->path(name);
}

// ---- the rest: this host's volumes as they are --------------------------------------------

Result<std::string> RealmVolumes::add_replica(const std::string& volume, const std::string& pool) {
  return local_->add_replica(volume, pool);
}
Result<void> RealmVolumes::remove_replica(const std::string& volume, const std::string& id) {
  return local_->remove_replica(volume, id);
}
Result<void> RealmVolumes::fail_replica(const std::string& volume, const std::string& id,
                                        const std::string& reason) {
  return local_->fail_replica(volume, id, reason);
}
Result<std::vector<std::string>> RealmVolumes::rebuild(const std::string& volume) {
  return local_->rebuild(volume);
}
Result<drivers::SnapshotInfo> RealmVolumes::create_snapshot(const std::string& volume,
                                                            const std::string& snapshot) {
  return local_->create_snapshot(volume, snapshot);
}
Result<std::vector<drivers::SnapshotInfo>> RealmVolumes::list_snapshots(const std::string& volume) {
  return local_->list_snapshots(volume);
}
Result<void> RealmVolumes::delete_snapshot(const std::string& volume, const std::string& snapshot) {
  return local_->delete_snapshot(volume, snapshot);
}
Result<void> RealmVolumes::revert_snapshot(const std::string& volume, const std::string& snapshot) {
  return local_->revert_snapshot(volume, snapshot);
}
Result<std::vector<drivers::HostSnapshot>> RealmVolumes::all_snapshots() {
  return local_->all_snapshots();
}
Result<void> RealmVolumes::delete_any_snapshot(const std::string& volume,
                                               const std::string& snapshot) {
  return local_->delete_any_snapshot(volume, snapshot);
}
Result<drivers::ResizeInfo> RealmVolumes::resize(const std::string& name,
                                                 std::uint64_t size_bytes) {
  return local_->resize(name, size_bytes);
}
Result<std::vector<std::string>> RealmVolumes::detach_when_released(const std::string& name) {
  return local_->detach_when_released(name);
}
Result<void> RealmVolumes::freeze(const std::string& name, bool frozen) {
  return local_->freeze(name, frozen);
}
std::vector<std::string> RealmVolumes::reconcile() {
  return local_->reconcile();
}
std::vector<drivers::TargetHost*> RealmVolumes::target_hosts() const {
  return local_->target_hosts();
}
void RealmVolumes::configure(drivers::VolumeSettings settings) {
  local_->configure(std::move(settings));
}
Result<drivers::StoreSpace> RealmVolumes::store_space() {
  return local_->store_space();
}

}  // namespace maya::daemon
