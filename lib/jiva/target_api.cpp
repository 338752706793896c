#include "lib/jiva/target_api.h"

#include <unistd.h>

#include "lib/common/log.h"
#include "lib/common/names.h"
#include "lib/http/json.h"
#include "lib/jiva/replica_files.h"

namespace maya::jiva {
namespace {

using http::json_error;
using http::json_response;
using http::Request;
using nlohmann::json;

json status_of(TargetState& s) {
  json replicas = json::array();
  const Manifest manifest = s.manifest_copy();
  for (const auto& r : s.replicator->replicas()) {
    std::string uri;
    for (const auto& ref : manifest.replicas) {
      if (ref.id == r.id) uri = ref.uri;
    }
    replicas.push_back({{"id", r.id},
                        {"uri", uri},
                        {"mode", block::mode_name(r.mode)},
                        {"generation", r.generation},
                        {"revision", r.revision},
                        {"error", r.error.empty() ? json(nullptr) : json(r.error)}});
  }
  const std::string read_only = s.replicator->read_only_reason();
  const auto store = s.replicator->space_status();
  json space = nullptr;
  if (store.usage) {
    space = {{"total_bytes", store.usage->total_bytes},
             {"free_bytes", store.usage->free_bytes},
             {"used_percent", store.used_percent},
             {"warn_percent", store.warn_percent},
             {"warning", store.warning.empty() ? json(nullptr) : json(store.warning)}};
  }
  json rebuild = nullptr;
  if (auto rb = s.replicator->rebuild_status()) {
    rebuild = {{"replica", rb->replica},
               {"kind", rb->kind},
               {"done_bytes", rb->done_bytes},
               {"total_bytes", rb->total_bytes},
               {"rate_bytes_per_s", rb->rate_bytes_per_s},
               {"eta_seconds", rb->eta_seconds}};
  }
  return {{"volume", s.volume},
          {"pid", ::getpid()},
          {"iqn", manifest.iqn},
          {"portal", s.portal},
          {"started_at", s.started_at},
          {"size_bytes", manifest.size_bytes},
          {"connections", s.target->connection_count()},
          {"sessions", s.target->normal_session_count()},
          {"health", s.replicator->health()},
          {"generation", s.replicator->generation()},
          {"replicas", replicas},
          {"rebuild", rebuild},
          {"read_only", read_only.empty() ? json(nullptr) : json(read_only)},
          {"space", space},
          {"fuse", s.frontends->fuse_status()}};
}

http::Response reload(TargetState& s) {
  auto fresh = read_manifest(s.volume_dir);
  if (!fresh) return json_error(500, fresh.error().message);
  std::lock_guard lock(s.mutex);
  json added = json::array(), removed = json::array();
  for (const auto& ref : fresh->replicas) {
    bool known = false;
    for (const auto& r : s.replicator->replicas()) known = known || r.id == ref.id;
    if (known) continue;
    if (auto joined = s.replicator->add_replica(open_replica(ref, *fresh)); !joined)
      return json_error(409, joined.error().message);
    added.push_back(ref.id);
  }
  for (const auto& r : s.replicator->replicas()) {
    bool listed = false;
    for (const auto& ref : fresh->replicas) listed = listed || ref.id == r.id;
    if (listed) continue;
    if (auto gone = s.replicator->remove_replica(r.id); !gone)
      return json_error(409, gone.error().message);
    removed.push_back(r.id);
  }
  {
    std::lock_guard guard(s.manifest_mutex);
    s.manifest = *fresh;
  }
  return json_response(200, {{"added", added}, {"removed", removed}});
}

http::Response rebuild(TargetState& s) {
  std::lock_guard lock(s.mutex);
  const Manifest manifest = s.manifest_copy();
  json started = json::array();
  for (const auto& r : s.replicator->replicas()) {
    if (r.mode != block::ReplicaMode::ERR) continue;
    for (const auto& ref : manifest.replicas) {
      if (ref.id != r.id) continue;
      auto member = open_replica(ref, manifest);
      if (auto back = s.replicator->add_replica(std::move(member)); back) {
        started.push_back(r.id);
      } else {
        return json_error(409, "replica " + r.id + " cannot come back: " + back.error().message);
      }
    }
  }
  return json_response(200, {{"rebuilding", started}});
}

http::Response snapshot(TargetState& s, const std::string& name, bool wait) {
  if (auto valid = validate_volume_name(name); !valid)
    return json_error(400, "invalid snapshot name: " + valid.error().message);
  const auto file = snapshot_file(s.volume_dir, name);
  std::error_code ec;
  if (std::filesystem::exists(file, ec)) return json_error(409, "snapshot " + name + " exists");
  std::filesystem::create_directories(file.parent_path(), ec);
  {
    std::lock_guard lock(s.mutex);
    if (auto taken = s.replicator->snapshot(file); !taken)
      return json_error(500, taken.error().message);
  }
  // The point in time is taken and I/O goes on; answer now (?wait=false) or once the copy is
  // complete.
  if (!wait) return json_response(200, {{"snapshot", name}, {"file", file.string()}});
  if (auto copied = s.replicator->wait_snapshot(); !copied) {
    std::filesystem::remove(file, ec);
    return json_error(500, "snapshot " + name + " could not be copied: " + copied.error().message);
  }
  auto status = s.replicator->snapshot_status();
  log::info("snapshot " + name + " taken" + (status && status->reflinked ? " (reflink)" : ""));
  return json_response(
      200,
      {{"snapshot", name}, {"file", file.string()}, {"reflinked", status && status->reflinked}});
}

http::Response snapshot_progress(TargetState& s, const std::string& name) {
  auto status = s.replicator->snapshot_status();
  if (!status || status->file != snapshot_file(s.volume_dir, name))
    return json_error(404, "this target took no snapshot " + name + " since it started");
  return json_response(200,
                       {{"snapshot", name},
                        {"copying", !status->finished},
                        {"done_bytes", status->done_bytes},
                        {"total_bytes", status->total_bytes},
                        {"reflinked", status->reflinked},
                        {"error", status->error.empty() ? json(nullptr) : json(status->error)}});
}

http::Response revert(TargetState& s, const std::string& name) {
  const auto file = snapshot_file(s.volume_dir, name);
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return json_error(404, "no snapshot " + name);
  if (auto reserved = s.frontends->reserve("reverting it"); !reserved)
    return json_error(409, reserved.error().message);
  struct Release {
    Frontends* f;
    ~Release() { f->release(); }
  } release{s.frontends};
  std::lock_guard lock(s.mutex);
  if (auto back = s.replicator->wait_snapshot(); !back)
    return json_error(500, "the last snapshot copy failed: " + back.error().message);
  if (auto reverted = s.replicator->revert(file); !reverted)
    return json_error(500, reverted.error().message);
  log::info("volume " + s.volume + " reverted to snapshot " + name);
  return json_response(200, {{"reverted", name}});
}

}  // namespace

http::Router make_target_router(TargetState& s) {
  http::Router router(json_error);
  router.add("GET", "/v1/status",
             [&s](const Request&, const std::string&) { return json_response(200, status_of(s)); });
  router.add("POST", "/v1/frontend/fuse", [&s](const Request&, const std::string&) {
    auto exposed = s.frontends->expose_fuse();
    if (!exposed) return json_error(409, exposed.error().message);
    return json_response(200, *exposed);
  });
  router.add("DELETE", "/v1/frontend/fuse", [&s](const Request&, const std::string&) {
    if (auto gone = s.frontends->withdraw_fuse(); !gone)
      return json_error(409, gone.error().message);
    return json_response(200, {{"fuse", nullptr}});
  });
  router.add("POST", "/v1/replicas/reload",
             [&s](const Request&, const std::string&) { return reload(s); });
  router.add("POST", "/v1/replicas/{id}/fault", [&s](const Request&, const std::string& id) {
    if (auto failed = s.replicator->fail_replica(id, "fault injected through the control API");
        !failed)
      return json_error(404, failed.error().message);
    return json_response(200, {{"failed", id}});
  });
  router.add("POST", "/v1/rebuild",
             [&s](const Request&, const std::string&) { return rebuild(s); });
  router.add("POST", "/v1/snapshots/{name}", [&s](const Request& r, const std::string& name) {
    return snapshot(s, name, r.target.find("wait=false") == std::string::npos);
  });
  router.add("GET", "/v1/snapshots/{name}",
             [&s](const Request&, const std::string& name) { return snapshot_progress(s, name); });
  router.add("POST", "/v1/snapshots/{name}/revert",
             [&s](const Request&, const std::string& name) { return revert(s, name); });
  return router;
}

}  // namespace maya::jiva
