#include "lib/daemon/volume_api.h"

#include "drivers/volume/spec_options.h"
#include "lib/common/size.h"
#include "lib/daemon/control_api.h"

namespace maya::daemon {

using nlohmann::json;

json snapshot_json(const drivers::SnapshotInfo& s) {
  return {
      {"name", s.name}, {"created", s.created}, {"size_bytes", s.size_bytes}, {"method", s.method}};
}

json volume_json(const drivers::VolumeInfo& v, bool show_secrets) {
  auto or_null = [](const std::string& s) { return s.empty() ? json(nullptr) : json(s); };
  json out = {
      {"name", v.spec.name},
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
      {"mount_count", v.mount_count()},
      {"mounts", v.mounts},
      {"created", v.created},
      {"iqn", nullptr},
      {"portal", nullptr},
      {"target_pid", nullptr},
      {"target_state", nullptr},
  };
  if (v.iscsi) {
    const auto& e = *v.iscsi;
    out["iqn"] = or_null(e.iqn);  // null when its jiva.json cannot be read
    out["portal"] = or_null(e.portal);
    out["target_pid"] = e.target_pid != 0 ? json(e.target_pid) : json(nullptr);
    out["target_state"] = e.target_state;
    out["target_restarts"] = e.target_restarts;
    out["target_event"] = or_null(e.last_event);
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
                          {"mode", r.mode},
                          {"generation", r.generation},
                          {"revision", r.revision},
                          {"error", or_null(r.error)}});
    }
    out["replicas"] = replicas;
    out["rebuild"] = nullptr;
    if (const auto& rb = v.replication->rebuild) {
      out["rebuild"] = {{"replica", rb->replica},
                        {"kind", rb->kind},
                        {"done_bytes", rb->done_bytes},
                        {"total_bytes", rb->total_bytes},
                        {"rate_bytes_per_s", rb->rate_bytes_per_s},
                        {"eta_seconds", rb->eta_seconds}};
    }
    json snapshots = json::array();
    for (const auto& s : v.snapshots) snapshots.push_back(snapshot_json(s));
    out["snapshots"] = snapshots;
  }
  return out;
}

void add_volume_routes(http::Router& router, drivers::VolumeDriver* driver,
                       std::function<config::VolumeDefaults()> defaults) {
  using http::Request;
  auto guarded = [driver](auto body) {
    return [driver, body](const Request& request, const std::string& name) {
      if (driver == nullptr)
        return json_error(409, "this host has no storage role ([roles] storage = false)");
      return body(request, name);
    };
  };
  router.add("GET", "/v1/volumes", guarded([driver](const Request&, const std::string&) {
               auto all = driver->list();
               if (!all) return json_error(500, all.error().message);
               json volumes = json::array();
               for (const auto& v : *all) volumes.push_back(volume_json(v));
               return json_response(200, {{"volumes", volumes}});
             }));
  router.add(
      "POST", "/v1/volumes", guarded([driver, defaults](const Request& r, const std::string&) {
        json body = json::parse(r.body, nullptr, false);
        if (body.is_discarded() || !body.is_object() || !body.contains("name") ||
            !body["name"].is_string())
          return json_error(400, "expected {\"name\": \"…\", \"opts\": {…}}");
        drivers::VolumeOptions opts;
        if (body.contains("opts") && body["opts"].is_object()) {
          for (const auto& [key, value] : body["opts"].items()) {
            if (!value.is_string()) return json_error(400, "option " + key + " must be a string");
            opts[key] = value.get<std::string>();
          }
        }
        auto spec = drivers::spec_from_options(body["name"].get<std::string>(), opts, defaults());
        if (!spec) return json_error(400, spec.error().message);
        auto created = driver->create(*spec);
        if (!created) return json_error(400, created.error().message);
        json answer = volume_json(*created);
        answer["warnings"] = created->warnings;
        return json_response(201, answer);
      }));
  router.add("GET", "/v1/volumes/{name}",
             guarded([driver](const Request& r, const std::string& name) {
               auto info = driver->get(name);
               if (!info) return json_error(404, info.error().message);
               bool secrets = r.target.find("secrets=true") != std::string::npos;
               return json_response(200, volume_json(*info, secrets));
             }));
  router.add("DELETE", "/v1/volumes/{name}",
             guarded([driver](const Request& r, const std::string& name) {
               bool force = r.target.find("force=true") != std::string::npos;
               bool snapshots = r.target.find("snapshots=true") != std::string::npos;
               auto removed = driver->remove(name, force, snapshots);
               if (!removed) return json_error(400, removed.error().message);
               return json_response(200, {{"removed", name}});
             }));
}

}  // namespace maya::daemon
