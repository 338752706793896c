#include "lib/jiva/target_api.h"

#include <unistd.h>

#include "lib/common/files.h"
#include "lib/common/log.h"
#include "lib/common/names.h"
#include "lib/http/json.h"
#include "lib/jiva/replica_files.h"

namespace maya::jiva {
namespace {

using http::json_error;
using http::Request;
namespace routes = target_routes;

// An answer of the control API (target_client.h has the shapes).
template <class T>
http::Response answer(const T& body) {
  return http::Response{200, encode(body) + "\n", "application/json"};
}

// A string the replicator leaves empty when there is nothing to say: null in the answer.
template <class T>
std::optional<T> unless_empty(const T& value) {
  return value == T{} ? std::nullopt : std::optional<T>(value);
}

TargetInfo status_of(TargetState& s) {
  TargetInfo info;
  const Manifest manifest = s.manifest_copy();
  for (const auto& r : s.replicator->replicas()) {
    std::string uri;
    for (const auto& ref : manifest.replicas) {
      if (ref.id == r.id) uri = ref.uri;
    }
    info.replicas.push_back(
        {r.id, uri, replica::mode_name(r.mode), r.generation, r.revision, unless_empty(r.error)});
  }
  info.read_only = unless_empty(s.replicator->read_only_reason());
  const auto store = s.replicator->space_status();
  if (store.usage) {
    info.space = SpaceInfo{.total_bytes = store.usage->total_bytes,
                           .free_bytes = store.usage->free_bytes,
                           .used_percent = store.used_percent,
                           .warn_percent = store.warn_percent,
                           .warning = unless_empty(store.warning)};
  }
  const auto as_info = [](const replica::RebuildStatus& rb) {
    return RebuildInfo{.replica = rb.replica,
                       .kind = rb.kind,
                       .done_bytes = rb.done_bytes,
                       .total_bytes = rb.total_bytes,
                       .rate_bytes_per_s = rb.rate_bytes_per_s,
                       .eta_seconds = rb.eta_seconds};
  };
  if (auto rb = s.replicator->rebuild_status()) info.rebuild = as_info(*rb);
  if (auto rb = s.replicator->last_rebuild()) info.last_rebuild = as_info(*rb);
  info.volume = s.volume;
  info.pid = ::getpid();
  info.iqn = manifest.iqn;
  info.portal = s.portal;
  info.started_at = s.started_at;
  info.size_bytes = manifest.size_bytes;
  info.connections = s.target->connection_count();
  info.sessions = s.target->normal_session_count();
  info.health = s.replicator->health();
  info.generation = s.replicator->generation();
  info.fuse = s.frontends->fuse_status();
  return info;
}

http::Response reload(TargetState& s) {
  auto fresh = read_manifest(s.volume_dir);
  if (!fresh) return json_error(500, fresh.error().message);
  std::lock_guard lock(s.mutex);
  ReplicaChanges changes;
  for (const auto& ref : fresh->replicas) {
    bool known = false;
    for (const auto& r : s.replicator->replicas()) known = known || r.id == ref.id;
    if (known) continue;
    if (auto joined = s.replicator->add_replica(
            open_replica(ref, *fresh, {s.volume_dir, s.io_timeout, s.owner_key, false}));
        !joined)
      return json_error(409, joined.error().message);
    changes.added.push_back(ref.id);
  }
  for (const auto& r : s.replicator->replicas()) {
    bool listed = false;
    for (const auto& ref : fresh->replicas) listed = listed || ref.id == r.id;
    if (listed) continue;
    if (auto gone = s.replicator->remove_replica(r.id); !gone)
      return json_error(409, gone.error().message);
    changes.removed.push_back(r.id);
  }
  {
    std::lock_guard guard(s.manifest_mutex);
    s.manifest = *fresh;
  }
  return answer(changes);
}

http::Response rebuild(TargetState& s) {
  std::lock_guard lock(s.mutex);
  const Manifest manifest = s.manifest_copy();
  Rebuilding started;
  for (const auto& r : s.replicator->replicas()) {
    if (r.mode != replica::ReplicaMode::ERR) continue;
    for (const auto& ref : manifest.replicas) {
      if (ref.id != r.id) continue;
      auto member = open_replica(ref, manifest, {s.volume_dir, s.io_timeout, s.owner_key, false});
      if (auto back = s.replicator->add_replica(std::move(member)); back) {
        started.rebuilding.push_back(r.id);
      } else {
        return json_error(409, "replica " + r.id + " cannot come back: " + back.error().message);
      }
    }
  }
  return answer(started);
}

// The manifest names the size (the caller wrote it first); the running volume follows it.
http::Response resize(TargetState& s) {
  auto fresh = read_manifest(s.volume_dir);
  if (!fresh) return json_error(500, fresh.error().message);
  std::lock_guard lock(s.mutex);
  const std::uint64_t previous = s.replicator->size_bytes();
  const std::uint64_t size = fresh->size_bytes;
  if (size < previous)
    return json_error(409, "volume " + s.volume + " is " + std::to_string(previous) +
                               " bytes; it cannot shrink to " + std::to_string(size));
  if (size == previous) return answer(Resized{size, previous});
  if (auto grown = s.replicator->grow(size); !grown)
    return json_error(409, "volume " + s.volume + " cannot grow to " + std::to_string(size) +
                               " bytes: " + grown.error().message);
  {
    std::lock_guard guard(s.manifest_mutex);
    s.manifest.size_bytes = size;  // only the size: replicas follow by reload
  }
  log::info("volume " + s.volume + " grown from " + std::to_string(previous) + " to " +
            std::to_string(size) + " bytes");
  if (auto told = s.frontends->capacity_changed(); !told)
    return json_error(500, "volume " + s.volume + " grew to " + std::to_string(size) +
                               " bytes, but its frontends do not show it: " + told.error().message);
  return answer(Resized{size, previous});
}

http::Response snapshot(TargetState& s, const std::string& name, bool wait) {
  if (auto valid = validate_volume_name(name); !valid)
    return json_error(400, "invalid snapshot name: " + valid.error().message);
  const auto file = snapshot_file(s.volume_dir, name);
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::symlink_status(file, ec)))
    return json_error(409, "snapshot " + name + " exists");
  std::filesystem::create_directories(file.parent_path(), ec);
  {
    std::lock_guard lock(s.mutex);
    const Manifest m = s.manifest_copy();
    auto image_dir_of = [&m](const std::string& id) {
      for (const auto& r : m.replicas)
        if (r.id == id && !r.snapshots.empty()) return std::filesystem::path(r.snapshots);
      return std::filesystem::path();
    };
    if (auto taken = s.replicator->snapshot(file, image_dir_of); !taken)
      return json_error(500, taken.error().message);
  }
  // The point in time is taken and I/O goes on; answer now (?wait=false) or once the copy is
  // complete.
  if (!wait) return answer(SnapshotTaken{name, file.string(), std::nullopt});
  if (auto copied = s.replicator->wait_snapshot(); !copied) {
    remove_with_link_target(file);
    return json_error(500, "snapshot " + name + " could not be copied: " + copied.error().message);
  }
  auto status = s.replicator->snapshot_status();
  log::info("snapshot " + name + " taken" + (status && status->reflinked ? " (reflink)" : ""));
  return answer(SnapshotTaken{name, file.string(), status && status->reflinked});
}

http::Response snapshot_progress(TargetState& s, const std::string& name) {
  auto status = s.replicator->snapshot_status();
  if (!status || status->file != snapshot_file(s.volume_dir, name))
    return json_error(404, "this target took no snapshot " + name + " since it started");
  return answer(SnapshotProgress{name, !status->finished, status->done_bytes, status->total_bytes,
                                 status->reflinked, unless_empty(status->error)});
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
  return answer(Reverted{name});
}

}  // namespace

http::Router make_target_router(TargetState& s) {
  const auto route = [](std::string_view r) { return std::string(r); };
  http::Router router(json_error);
  router.add("GET", route(routes::kStatus),
             [&s](const Request&, const std::string&) { return answer(status_of(s)); });
  router.add("GET", route(routes::kMetrics), [&s](const Request&, const std::string&) {
    const auto& io = s.replicator->io_stats();
    return answer(TargetMetrics{io.reads.snapshot(), io.writes.snapshot(), s.started_unix,
                                std::vector<double>(kLatencyBounds.begin(), kLatencyBounds.end()),
                                io.discards.snapshot(), io.reads.errors(), io.writes.errors()});
  });
  router.add("POST", route(routes::kFuse), [&s](const Request&, const std::string&) {
    auto exposed = s.frontends->expose_fuse();
    if (!exposed) return json_error(409, exposed.error().message);
    return answer(*exposed);
  });
  router.add("DELETE", route(routes::kFuse), [&s](const Request&, const std::string&) {
    if (auto gone = s.frontends->withdraw_fuse(); !gone)
      return json_error(409, gone.error().message);
    return answer(FuseWithdrawn{});
  });
  router.add("POST", route(routes::kReplicasReload),
             [&s](const Request&, const std::string&) { return reload(s); });
  router.add("POST", route(routes::kReplicaFault), [&s](const Request& r, const std::string& id) {
    // An optional {"reason": "..."} becomes the replica's error.
    std::string reason = "fault injected through the control API";
    if (nlohmann::json body = nlohmann::json::parse(r.body, nullptr, false);
        body.is_object() && body.contains("reason") && body["reason"].is_string())
      reason = body["reason"].get<std::string>();
    if (auto failed = s.replicator->fail_replica(id, reason); !failed)
      return json_error(404, failed.error().message);
    return answer(ReplicaFaulted{id});
  });
  router.add("POST", route(routes::kRebuild),
             [&s](const Request&, const std::string&) { return rebuild(s); });
  router.add("POST", route(routes::kResize),
             [&s](const Request&, const std::string&) { return resize(s); });
  router.add("POST", route(routes::kSnapshot), [&s](const Request& r, const std::string& name) {
    return snapshot(s, name, r.target.find(routes::kNoWait) == std::string::npos);
  });
  router.add("GET", route(routes::kSnapshot),
             [&s](const Request&, const std::string& name) { return snapshot_progress(s, name); });
  router.add("POST", route(routes::kSnapshotRevert),
             [&s](const Request&, const std::string& name) { return revert(s, name); });
  return router;
}

}  // namespace maya::jiva
