#include "drivers/volume/volume_json.h"

#include "lib/common/size.h"

namespace maya::drivers {

using nlohmann::json;

json snapshot_json(const SnapshotInfo& s) {
  return {{"name", s.name},
          {"created", s.created},
          {"size_bytes", s.size_bytes},
          {"allocated_bytes", s.allocated_bytes},
          {"method", s.method}};
}

json volume_json(const VolumeInfo& v, bool show_secrets) {
  auto or_null = [](const std::string& s) { return s.empty() ? json(nullptr) : json(s); };
  json out = {
      {"name", v.spec.name},
      {"ebs_id", nullptr},
      {"driver", v.spec.storage_driver},
      {"size_bytes", v.spec.size_bytes},
      {"size", format_size(v.spec.size_bytes)},
      {"allocated_bytes", v.allocated_bytes},
      {"thin", v.spec.thin},
      {"replicas_wanted", v.spec.replicas},
      {"replicas", json::array()},
      {"fstype", v.spec.fstype},
      {"mount_options", v.spec.mount_options},
      {"uid", v.spec.uid ? json(*v.spec.uid) : json(nullptr)},
      {"gid", v.spec.gid ? json(*v.spec.gid) : json(nullptr)},
      {"state", v.state},
      {"error", or_null(v.error)},
      {"mountpoint", or_null(v.mountpoint.string())},
      {"device", or_null(v.device)},
      {"attach", or_null(v.attach)},
      {"attach_mode", or_null(v.attach_mode)},
      {"fuse", v.attach == "fuse" ? json{{"transport", or_null(v.fuse_transport)}} : json(nullptr)},
      {"mount_count", v.mount_count()},
      {"mounts", v.mounts},
      {"created", v.created},
      {"realm", v.realm_generation ? json{{"generation", *v.realm_generation},
                                          {"attached_on", or_null(v.realm_attached_on)}}
                                   : json(nullptr)},
      {"iqn", nullptr},
      {"portal", nullptr},
      {"target_pid", nullptr},
      {"target_state", nullptr},
      {"target_restarts", nullptr},
      {"target_event", nullptr},
      {"target_log", nullptr},
      {"chap", nullptr},
      {"chap_credentials", nullptr},
      {"health", nullptr},
      {"read_only", nullptr},
      {"space_warning", nullptr},
      {"store_used_percent", nullptr},
      {"rebuild", nullptr},
      {"last_rebuild", nullptr},
      {"snapshots", json::array()},
  };
  if (v.iscsi) {
    const auto& e = *v.iscsi;
    out["iqn"] = or_null(e.iqn);  // null when its jiva.json cannot be read
    out["portal"] = or_null(e.portal);
    out["target_pid"] = e.target_pid != 0 ? json(e.target_pid) : json(nullptr);
    out["target_state"] = e.target_state;
    out["target_restarts"] = e.target_restarts;
    out["target_event"] = or_null(e.last_event);
    out["target_log"] = or_null(e.target_log);
    out["chap"] = !e.chap_user.empty();
    if (show_secrets && !e.chap_user.empty())
      out["chap_credentials"] = {{"user", e.chap_user}, {"secret", e.chap_secret}};
  }
  if (v.replication) {
    out["health"] = v.replication->health;
    out["read_only"] = or_null(v.replication->read_only);
    out["space_warning"] = or_null(v.replication->space_warning);
    out["store_used_percent"] = v.replication->space_used_percent
                                    ? json(*v.replication->space_used_percent)
                                    : json(nullptr);
    json replicas = json::array();
    for (const auto& r : v.replication->replicas) {
      replicas.push_back({{"id", r.id},
                          {"uri", r.uri},
                          {"pool", r.pool.empty() ? json() : json(r.pool)},
                          {"mode", r.mode},
                          {"generation", r.generation},
                          {"revision", r.revision},
                          {"error", or_null(r.error)}});
    }
    out["replicas"] = replicas;
    const auto rebuild_json = [](const RebuildInfo& rb) {
      return json{{"replica", rb.replica},
                  {"kind", rb.kind},
                  {"done_bytes", rb.done_bytes},
                  {"total_bytes", rb.total_bytes},
                  {"rate_bytes_per_s", rb.rate_bytes_per_s},
                  {"eta_seconds", rb.eta_seconds}};
    };
    if (const auto& rb = v.replication->rebuild) out["rebuild"] = rebuild_json(*rb);
    // The last rebuild that finished in this target's life: what a resync copied.
    if (const auto& rb = v.replication->last_rebuild) out["last_rebuild"] = rebuild_json(*rb);
  }
  for (const auto& s : v.snapshots) out["snapshots"].push_back(snapshot_json(s));
  return out;
}

void with_ebs_id(json& out, const VolumeInfo& volume, const EbsIdOf& ebs_id) {
  if (!ebs_id) return;
  if (auto id = ebs_id(volume)) out["ebs_id"] = *id;
}

}  // namespace maya::drivers
