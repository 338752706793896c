// Control API routes for replicas and snapshots (see volume_api.h): the volume service's typed
// answers as the control API's JSON.
#include <filesystem>
#include <type_traits>

#include "lib/daemon/control_api.h"
#include "lib/daemon/volume_api.h"

namespace maya::daemon {
namespace {

using drivers::VolumeService;
using http::Request;
using nlohmann::json;

// "db/s1" -> {"db", "s1"}.
std::pair<std::string, std::string> split(const std::string& params) {
  auto slash = params.find('/');
  if (slash == std::string::npos) return {params, ""};
  return {params.substr(0, slash), params.substr(slash + 1)};
}

// The answer `to_json(value)` with `ok_status`, or the error as 400.
template <class T, class ToJson>
http::Response answer(const Result<T>& result, ToJson to_json, int ok_status = 200) {
  if (!result) return json_error(400, result.error().message);
  if constexpr (std::is_void_v<T>)
    return json_response(ok_status, to_json());
  else
    return json_response(ok_status, to_json(*result));
}

// An empty body, {"pool": "P"} (where the new replica goes) or {"uri": "iscsi://…"} (a
// replica another host shares).
http::Response add_replica(VolumeService* v, const std::string& name, const Request& req) {
  std::string pool;
  if (!req.body.empty()) {
    json body = json::parse(req.body, nullptr, false);
    if (!body.is_object() || (body.contains("pool") && !body["pool"].is_string()) ||
        (body.contains("uri") && !body["uri"].is_string()) ||
        (body.contains("pool") && body.contains("uri")))
      return json_error(400, "expected {}, {\"pool\": \"POOL\"} or {\"uri\": \"iscsi://…\"}");
    pool = body.contains("uri") ? body["uri"].get<std::string>() : body.value("pool", "");
  }
  return answer(v->add_replica(name, pool), [](const std::string& id) {
    return json{{"added", id}};
  });
}

http::Response remove_replica(VolumeService* v, const std::string& params) {
  auto [name, id] = split(params);
  return answer(v->remove_replica(name, id), [&] { return json{{"removed", id}}; });
}

http::Response rebuild(VolumeService* v, const std::string& name) {
  return answer(v->rebuild(name), [](const std::vector<std::string>& ids) {
    return json{{"rebuilding", ids}};
  });
}

http::Response list_snapshots(VolumeService* v, const std::string& name) {
  return answer(v->list_snapshots(name), [](const std::vector<drivers::SnapshotInfo>& list) {
    json out = json::array();
    for (const auto& snap : list) out.push_back(snapshot_json(snap));
    return json{{"snapshots", out}};
  });
}

http::Response create_snapshot(VolumeService* v, const std::string& name, const std::string& snap) {
  return answer(v->create_snapshot(name, snap), snapshot_json, 201);
}

http::Response delete_snapshot(VolumeService* v, const std::string& params) {
  auto [name, snap] = split(params);
  return answer(v->delete_snapshot(name, snap), [&] { return json{{"deleted", snap}}; });
}

http::Response revert_snapshot(VolumeService* v, const std::string& params) {
  auto [name, snap] = split(params);
  return answer(v->revert_snapshot(name, snap), [&] { return json{{"reverted", snap}}; });
}

// Every snapshot on this host, those deleted volumes kept too.
http::Response all_snapshots(VolumeService* v) {
  auto all = v->all_snapshots();
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

http::Response delete_any_snapshot(VolumeService* v, const std::string& params) {
  auto [name, snap] = split(params);
  return answer(v->delete_any_snapshot(name, snap), [&] {
    return json{{"deleted", name + "@" + snap}};
  });
}

http::Response attach(VolumeService* v, const std::string& name) {
  return answer(v->attach(name), [&](const std::filesystem::path& device) {
    return json{{"name", name}, {"device", device.string()}};
  });
}

http::Response detach(VolumeService* v, const std::string& name) {
  return answer(v->detach(name), [&] { return json{{"name", name}, {"detached", true}}; });
}

// {"size_bytes": N}: the volume grows online.
http::Response resize(VolumeService* v, const std::string& name, const Request& req) {
  json body = json::parse(req.body, nullptr, false);
  if (!body.is_object() || !body.contains("size_bytes") || !body["size_bytes"].is_number_unsigned())
    return json_error(400, "expected {\"size_bytes\": BYTES}");
  return answer(v->resize(name, body["size_bytes"].get<std::uint64_t>()),
                [&](const drivers::ResizeInfo& info) {
                  return json{{"name", name},
                              {"previous_bytes", info.previous_bytes},
                              {"size_bytes", info.size_bytes},
                              {"filesystem", info.filesystem},
                              {"filesystem_deferred", info.filesystem_deferred}};
                });
}

}  // namespace

void add_volume_ops_routes(http::Router& router, VolumeService* volumes) {
  if (volumes == nullptr) return;
  auto on_name = [volumes](http::Response (*op)(VolumeService*, const std::string&)) {
    return [volumes, op](const Request&, const std::string& params) { return op(volumes, params); };
  };
  router.add("POST", "/v1/volumes/{name}/replicas",
             [volumes](const Request& req, const std::string& name) {
               return add_replica(volumes, name, req);
             });
  router.add("DELETE", "/v1/volumes/{name}/replicas/{id}", on_name(remove_replica));
  router.add("POST", "/v1/volumes/{name}/rebuild", on_name(rebuild));
  router.add("GET", "/v1/volumes/{name}/snapshots", on_name(list_snapshots));
  router.add("POST", "/v1/volumes/{name}/snapshots",
             [volumes](const Request& req, const std::string& name) {
               json body = json::parse(req.body, nullptr, false);
               if (!body.is_object() || !body.contains("name") || !body["name"].is_string())
                 return json_error(400, "expected {\"name\": \"SNAPSHOT\"}");
               return create_snapshot(volumes, name, body["name"].get<std::string>());
             });
  router.add("DELETE", "/v1/volumes/{name}/snapshots/{snap}", on_name(delete_snapshot));
  router.add("GET", "/v1/snapshots",
             [volumes](const Request&, const std::string&) { return all_snapshots(volumes); });
  router.add("DELETE", "/v1/snapshots/{volume}/{snap}", on_name(delete_any_snapshot));
  router.add("POST", "/v1/volumes/{name}/snapshots/{snap}/revert", on_name(revert_snapshot));
  // `maya volume attach|detach`: the volume as a block device on this host, not mounted.
  router.add("POST", "/v1/volumes/{name}/attach", on_name(attach));
  router.add("POST", "/v1/volumes/{name}/detach", on_name(detach));
  router.add("POST", "/v1/volumes/{name}/resize",
             [volumes](const Request& req, const std::string& name) {
               return resize(volumes, name, req);
             });
}

}  // namespace maya::daemon
