// Control API routes for replicas and snapshots (see volume_api.h).
#include "lib/daemon/control_api.h"
#include "lib/daemon/volume_api.h"

namespace maya::daemon {
namespace {

using drivers::ReplicaManager;
using drivers::SnapshotManager;
using drivers::StorageDriver;
using drivers::VolumeRecord;
using drivers::docker::DockerVolumeDriver;
using http::Request;
using nlohmann::json;

// "db/s1" -> {"db", "s1"}.
std::pair<std::string, std::string> split(const std::string& params) {
  auto slash = params.find('/');
  if (slash == std::string::npos) return {params, ""};
  return {params.substr(0, slash), params.substr(slash + 1)};
}

// The storage driver of a volume as capability C, or an error naming what it lacks.
template <class C>
Result<C*> capability(StorageDriver& storage, const VolumeRecord& record, const char* what) {
  auto* c = dynamic_cast<C*>(&storage);
  if (c == nullptr)
    return fail("volume " + record.spec.name + " uses the " + std::string(storage.name()) +
                " driver, which has no " + what);
  return c;
}

// Runs `op` with volume `name`'s driver as capability C; the answer, or the error as 400.
template <class C>
http::Response with(DockerVolumeDriver* driver, const std::string& name, bool in_use_ok,
                    const char* what,
                    const std::function<Result<json>(C&, const VolumeRecord&)>& op,
                    int ok_status = 200) {
  auto result = driver->with_storage(name, in_use_ok,
                                     [&](StorageDriver& s, const VolumeRecord& r) -> Result<json> {
                                       MAYA_TRY(c, capability<C>(s, r, what));
                                       return op(**c, r);
                                     });
  if (!result) return json_error(400, result.error().message);
  return json_response(ok_status, *result);
}

http::Response add_replica(DockerVolumeDriver* d, const std::string& name) {
  return with<ReplicaManager>(d, name, true, "replicas",
                              [&](ReplicaManager& m, const VolumeRecord&) -> Result<json> {
                                MAYA_TRY(id, m.add_replica(name));
                                return json{{"added", *id}};
                              });
}

http::Response remove_replica(DockerVolumeDriver* d, const std::string& params) {
  auto [name, id] = split(params);
  return with<ReplicaManager>(d, name, true, "replicas",
                              [&](ReplicaManager& m, const VolumeRecord&) -> Result<json> {
                                MAYA_TRY_VOID(m.remove_replica(name, id));
                                return json{{"removed", id}};
                              });
}

http::Response rebuild(DockerVolumeDriver* d, const std::string& name) {
  return with<ReplicaManager>(d, name, true, "replicas",
                              [&](ReplicaManager& m, const VolumeRecord&) -> Result<json> {
                                MAYA_TRY(ids, m.rebuild(name));
                                return json{{"rebuilding", *ids}};
                              });
}

http::Response list_snapshots(DockerVolumeDriver* d, const std::string& name) {
  return with<SnapshotManager>(d, name, true, "snapshots",
                               [&](SnapshotManager& m, const VolumeRecord&) -> Result<json> {
                                 MAYA_TRY(list, m.list_snapshots(name));
                                 json out = json::array();
                                 for (const auto& snap : *list) out.push_back(snapshot_json(snap));
                                 return json{{"snapshots", out}};
                               });
}

http::Response create_snapshot(DockerVolumeDriver* d, const std::string& name,
                               const std::string& snap) {
  auto op = [&](SnapshotManager& m, const VolumeRecord& r) -> Result<json> {
    // A mounted volume's file system is frozen for the instant of the point in time.
    SnapshotManager::Quiesce quiesce;
    if (r.references() > 0) quiesce = [d, name](bool frozen) { return d->freeze(name, frozen); };
    MAYA_TRY(info, m.create_snapshot(name, snap, quiesce));
    return snapshot_json(*info);
  };
  return with<SnapshotManager>(d, name, true, "snapshots", op, 201);
}

http::Response delete_snapshot(DockerVolumeDriver* d, const std::string& params) {
  auto [name, snap] = split(params);
  return with<SnapshotManager>(d, name, true, "snapshots",
                               [&](SnapshotManager& m, const VolumeRecord&) -> Result<json> {
                                 MAYA_TRY_VOID(m.delete_snapshot(name, snap));
                                 return json{{"deleted", snap}};
                               });
}

http::Response revert_snapshot(DockerVolumeDriver* d, const std::string& params) {
  auto [name, snap] = split(params);
  return with<SnapshotManager>(d, name, false, "snapshots",
                               [&](SnapshotManager& m, const VolumeRecord&) -> Result<json> {
                                 MAYA_TRY_VOID(m.revert_snapshot(name, snap));
                                 return json{{"reverted", snap}};
                               });
}

// Every snapshot on this host, those deleted volumes kept too.
http::Response all_snapshots(DockerVolumeDriver* d) {
  auto all = d->all_snapshots();
  if (!all) return json_error(500, all.error().message);
  json out = json::array();
  for (const auto& s : *all) {
    json j = snapshot_json(s.info);
    j["volume"] = s.volume;
    j["volume_deleted"] = s.volume_deleted;
    out.push_back(std::move(j));
  }
  return json_response(200, {{"snapshots", out}});
}

http::Response delete_any_snapshot(DockerVolumeDriver* d, const std::string& params) {
  auto [name, snap] = split(params);
  auto deleted = d->delete_any_snapshot(name, snap);
  if (!deleted) return json_error(400, deleted.error().message);
  return json_response(200, {{"deleted", name + "@" + snap}});
}

}  // namespace

void add_volume_ops_routes(http::Router& router, DockerVolumeDriver* driver) {
  if (driver == nullptr) return;
  router.add(
      "POST", "/v1/volumes/{name}/replicas",
      [driver](const Request&, const std::string& name) { return add_replica(driver, name); });
  router.add("DELETE", "/v1/volumes/{name}/replicas/{id}",
             [driver](const Request&, const std::string& p) { return remove_replica(driver, p); });
  router.add("POST", "/v1/volumes/{name}/rebuild",
             [driver](const Request&, const std::string& name) { return rebuild(driver, name); });
  router.add(
      "GET", "/v1/volumes/{name}/snapshots",
      [driver](const Request&, const std::string& name) { return list_snapshots(driver, name); });
  router.add("POST", "/v1/volumes/{name}/snapshots",
             [driver](const Request& req, const std::string& name) {
               json body = json::parse(req.body, nullptr, false);
               if (!body.is_object() || !body.contains("name") || !body["name"].is_string())
                 return json_error(400, "expected {\"name\": \"SNAPSHOT\"}");
               return create_snapshot(driver, name, body["name"].get<std::string>());
             });
  router.add("DELETE", "/v1/volumes/{name}/snapshots/{snap}",
             [driver](const Request&, const std::string& p) { return delete_snapshot(driver, p); });
  router.add("GET", "/v1/snapshots",
             [driver](const Request&, const std::string&) { return all_snapshots(driver); });
  router.add(
      "DELETE", "/v1/snapshots/{volume}/{snap}",
      [driver](const Request&, const std::string& p) { return delete_any_snapshot(driver, p); });
  router.add("POST", "/v1/volumes/{name}/snapshots/{snap}/revert",
             [driver](const Request&, const std::string& p) { return revert_snapshot(driver, p); });
  // `maya volume attach|detach`: the volume as a block device on this host, not mounted.
  router.add("POST", "/v1/volumes/{name}/attach", [driver](const Request&, const std::string& n) {
    auto device = driver->attach(n);
    if (!device) return json_error(400, device.error().message);
    return json_response(200, {{"name", n}, {"device", device->string()}});
  });
  router.add("POST", "/v1/volumes/{name}/detach", [driver](const Request&, const std::string& n) {
    auto detached = driver->detach(n);
    if (!detached) return json_error(400, detached.error().message);
    return json_response(200, {{"name", n}, {"detached", true}});
  });
}

}  // namespace maya::daemon
