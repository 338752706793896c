// Control API routes for replicas and snapshots (see volume_api.h).
#include "lib/daemon/control_api.h"
#include "lib/daemon/volume_api.h"

namespace maya::daemon {
namespace {

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

template <class Capability>
Result<Capability*> capability(drivers::StorageDriver& storage, const VolumeRecord& record,
                               const char* what) {
  auto* c = dynamic_cast<Capability*>(&storage);
  if (c == nullptr)
    return fail("volume " + record.spec.name + " uses the " + std::string(storage.name()) +
                " driver, which has no " + what);
  return c;
}

http::Response answer(const Result<json>& result, int ok_status = 200) {
  if (!result) return json_error(400, result.error().message);
  return json_response(ok_status, *result);
}

}  // namespace

void add_volume_ops_routes(http::Router& router, DockerVolumeDriver* driver) {
  if (driver == nullptr) return;
  using drivers::ReplicaManager;
  using drivers::SnapshotManager;
  using drivers::StorageDriver;

  router.add("POST", "/v1/volumes/{name}/replicas",
             [driver](const Request&, const std::string& name) {
               return answer(driver->with_storage(
                   name, true, [&](StorageDriver& s, const VolumeRecord& r) -> Result<json> {
                     MAYA_TRY(m, capability<ReplicaManager>(s, r, "replicas"));
                     MAYA_TRY(id, (*m)->add_replica(name));
                     return json{{"added", *id}};
                   }));
             });
  router.add("DELETE", "/v1/volumes/{name}/replicas/{id}",
             [driver](const Request&, const std::string& p) {
               auto [name, id] = split(p);
               return answer(driver->with_storage(
                   name, true, [&](StorageDriver& s, const VolumeRecord& r) -> Result<json> {
                     MAYA_TRY(m, capability<ReplicaManager>(s, r, "replicas"));
                     MAYA_TRY(removed, (*m)->remove_replica(name, id));
                     return json{{"removed", id}};
                   }));
             });
  router.add("POST", "/v1/volumes/{name}/rebuild",
             [driver](const Request&, const std::string& name) {
               return answer(driver->with_storage(
                   name, true, [&](StorageDriver& s, const VolumeRecord& r) -> Result<json> {
                     MAYA_TRY(m, capability<ReplicaManager>(s, r, "replicas"));
                     MAYA_TRY(ids, (*m)->rebuild(name));
                     return json{{"rebuilding", *ids}};
                   }));
             });
  router.add("GET", "/v1/volumes/{name}/snapshots",
             [driver](const Request&, const std::string& name) {
               return answer(driver->with_storage(
                   name, true, [&](StorageDriver& s, const VolumeRecord& r) -> Result<json> {
                     MAYA_TRY(m, capability<SnapshotManager>(s, r, "snapshots"));
                     MAYA_TRY(list, (*m)->list_snapshots(name));
                     json out = json::array();
                     for (const auto& snap : *list) out.push_back(snapshot_json(snap));
                     return json{{"snapshots", out}};
                   }));
             });
  router.add("POST", "/v1/volumes/{name}/snapshots",
             [driver](const Request& req, const std::string& name) {
               json body = json::parse(req.body, nullptr, false);
               if (!body.is_object() || !body.contains("name") || !body["name"].is_string())
                 return json_error(400, "expected {\"name\": \"SNAPSHOT\"}");
               const std::string snap = body["name"].get<std::string>();
               return answer(driver->with_storage(
                                 name, true,
                                 [&](StorageDriver& s, const VolumeRecord& r) -> Result<json> {
                                   MAYA_TRY(m, capability<SnapshotManager>(s, r, "snapshots"));
                                   MAYA_TRY(info, (*m)->create_snapshot(name, snap));
                                   return snapshot_json(*info);
                                 }),
                             201);
             });
  router.add("DELETE", "/v1/volumes/{name}/snapshots/{snap}",
             [driver](const Request&, const std::string& p) {
               auto [name, snap] = split(p);
               return answer(driver->with_storage(
                   name, true, [&](StorageDriver& s, const VolumeRecord& r) -> Result<json> {
                     MAYA_TRY(m, capability<SnapshotManager>(s, r, "snapshots"));
                     MAYA_TRY(deleted, (*m)->delete_snapshot(name, snap));
                     return json{{"deleted", snap}};
                   }));
             });
  router.add("POST", "/v1/volumes/{name}/snapshots/{snap}/revert",
             [driver](const Request&, const std::string& p) {
               auto [name, snap] = split(p);
               return answer(driver->with_storage(
                   name, false, [&](StorageDriver& s, const VolumeRecord& r) -> Result<json> {
                     MAYA_TRY(m, capability<SnapshotManager>(s, r, "snapshots"));
                     MAYA_TRY(reverted, (*m)->revert_snapshot(name, snap));
                     return json{{"reverted", snap}};
                   }));
             });
}

}  // namespace maya::daemon
