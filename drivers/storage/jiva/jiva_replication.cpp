// The jiva driver's replica management, snapshots and clones: it edits the manifest and asks
// the volume's target (which owns the replicas while it runs) to follow.
#include <algorithm>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "drivers/storage/common/volume_dir.h"
#include "drivers/storage/jiva/jiva_storage_driver.h"
#include "drivers/storage/jiva/snapshot_files.h"
#include "lib/block/file_copy.h"
#include "lib/common/files.h"
#include "lib/common/log.h"
#include "lib/common/names.h"
#include "lib/common/time_format.h"
#include "lib/jiva/manifest.h"
#include "lib/jiva/remote_replicas.h"
#include "lib/replica/child_factory.h"

namespace maya::drivers::jiva {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

fs::path snapshots_dir(const fs::path& volume_dir) {
  return volume_dir / "snapshots";
}

// "r7" -> 7; anything else -> 0.
unsigned replica_number(const std::string& id) {
  if (id.size() < 2 || id[0] != 'r') return 0;
  unsigned n = 0;
  for (char c : id.substr(1)) {
    if (c < '0' || c > '9') return 0;
    n = n * 10 + static_cast<unsigned>(c - '0');
  }
  return n;
}

}  // namespace

Result<unsigned> JivaStorageDriver::last_replica_number(const maya::jiva::Manifest& m) const {
  if (m.replicas.size() >= max_replicas())
    return fail("volume " + m.name + " has " + std::to_string(m.replicas.size()) +
                " replicas, the most the jiva driver keeps");
  unsigned last = m.last_replica;
  for (const auto& r : m.replicas) last = std::max(last, replica_number(r.id));
  return last;
}

Result<std::optional<JivaStorageDriver::CloneSource>> JivaStorageDriver::clone_source(
    const VolumeSpec& spec) {
  if (spec.from.empty()) return std::optional<CloneSource>();
  auto at = spec.from.find('@');
  if (at == std::string::npos) return fail("from=\"" + spec.from + "\" is not VOLUME@SNAPSHOT");
  const std::string volume = spec.from.substr(0, at), snapshot = spec.from.substr(at + 1);
  MAYA_TRY_VOID(validate_volume_name(volume));
  MAYA_TRY_VOID(validate_volume_name(snapshot));
  std::error_code ec;
  const bool exists = fs::is_directory(volume_dir(volume), ec);
  if (!exists && !has_kept_snapshots(volume)) return fail("no such volume: " + volume);
  // The volume's own snapshots, else those it (or a deleted volume of its name) kept.
  for (const fs::path& dir : {snapshots_dir(volume_dir(volume)), kept_dir(volume)}) {
    if (auto info = read_snapshot_info(dir / (snapshot + ".json")))
      return std::optional<CloneSource>(CloneSource{dir / (snapshot + ".img"), info->size_bytes});
  }
  return fail("volume " + volume + (exists ? "" : " (deleted)") + " has no snapshot " + snapshot);
}

Result<void> JivaStorageDriver::clone_into(const CloneSource& origin, const fs::path& data,
                                           std::uint64_t size, const std::string& volume) {
  auto last_log = std::chrono::steady_clock::now();
  auto progress = [&](std::uint64_t done, std::uint64_t total) {
    auto now = std::chrono::steady_clock::now();
    if (now - last_log < 5s) return;
    last_log = now;
    log::info("volume " + volume + ": cloning, " + std::to_string(done >> 20) + " of " +
              std::to_string(total >> 20) + " MiB copied");
  };
  MAYA_TRY(method, block::copy_file(origin.file, data, origin.size, progress));
  if (size > origin.size) std::filesystem::resize_file(data, size);
  log::info("volume " + volume + ": cloned from " + origin.file.string() + " by " +
            (*method == block::CopyMethod::reflink ? "reflink" : "sparse copy"));
  return {};
}

void JivaStorageDriver::describe_replication(const std::string& volume, StorageVolume& v) {
  ReplicationInfo info;
  auto status = target(volume).status(3s);  // a wedged target: "offline"
  if (status) {
    info.health = status->health;
    if (status->fuse) v.fuse_transport = status->fuse->transport;
    info.read_only = status->read_only.value_or("");
    if (status->space) {
      info.space_used_percent = status->space->used_percent;
      info.space_warning = status->space->warning.value_or("");
    }
    for (const auto& r : status->replicas) {
      info.replicas.push_back({r.id, r.uri, pool_of({r.id, r.uri}), r.mode, r.generation,
                               r.revision, r.error.value_or("")});
    }
    const auto as_info = [](const maya::jiva::RebuildInfo& rb) {
      return RebuildInfo{rb.replica,          rb.kind,       rb.done_bytes, rb.total_bytes,
                         rb.rate_bytes_per_s, rb.eta_seconds};
    };
    if (const auto& rb = status->rebuild) info.rebuild = as_info(*rb);
    if (const auto& rb = status->last_rebuild) info.last_rebuild = as_info(*rb);
  } else {
    info.health = "offline";
    if (auto m = maya::jiva::read_manifest(volume_dir(volume))) {
      for (const auto& r : m->replicas)
        info.replicas.push_back({r.id, r.uri, pool_of(r), "unknown", 0, 0, ""});
    }
  }
  v.replication = std::move(info);
  if (auto snapshots = list_snapshots(volume)) v.snapshots = std::move(*snapshots);
}

Result<std::string> JivaStorageDriver::add_remote_replica(const std::string& volume,
                                                          const std::string& text) {
  MAYA_TRY(remote, maya::jiva::parse_remote_uri(text));
  const fs::path dir = volume_dir(volume);
  MAYA_TRY(lock, storage::lock_volume(dir, volume));
  MAYA_TRY(m, maya::jiva::read_manifest(dir));
  MAYA_TRY(last, last_replica_number(*m));
  for (const auto& r : m->replicas)
    if (r.uri == remote->uri)
      return fail("volume " + volume + " already has " + remote->uri + " as replica " + r.id);
  const std::string id = "r" + std::to_string(*last + 1);
  MAYA_TRY(secrets, maya::jiva::read_replica_chap(dir));
  const auto secrets_before = *secrets;
  if (!remote->chap.user.empty()) (*secrets)[id] = remote->chap;
  // The secret before the manifest that names the replica: the target finds it when it opens.
  MAYA_TRY_VOID(maya::jiva::write_replica_chap(dir, *secrets));
  const auto before = *m;
  m->replicas.push_back({id, remote->uri, ""});
  m->last_replica = *last + 1;
  MAYA_TRY_VOID(maya::jiva::write_manifest(dir, *m));
  if (auto followed = target(volume).reload_replicas(); !followed) {
    (void)maya::jiva::write_manifest(dir, before);
    (void)maya::jiva::write_replica_chap(dir, secrets_before);
    return fail("replica " + id + " of volume " + volume + " was not added", followed.error());
  }
  log::info("volume " + volume + ": remote replica " + id + " (" + remote->uri +
            ") added; it is being rebuilt");
  return id;
}

void JivaStorageDriver::release_remote_replicas(
    const maya::jiva::Manifest& m, const std::map<std::string, maya::jiva::ChapSecret>& secrets,
    const std::string& only) {
  if (options_.owner.empty()) return;
  for (const auto& r : m.replicas) {
    if (!maya::jiva::is_remote_uri(r.uri) || (!only.empty() && r.id != only)) continue;
    const auto chap = secrets.find(r.id);
    const std::string uri = chap == secrets.end() ? r.uri : uri_with_secret(r.uri, chap->second);
    replica::ChildOptions o{m.size_bytes,
                            m.block_size,
                            m.thin,
                            options_.io_timeout,
                            maya::jiva::owner_key(options_.owner, m.name),
                            false};
    if (auto released = replica::release_child(r.id, uri, o); !released)
      log::warn("volume " + m.name + ": remote replica " + r.id + " (" + r.uri +
                ") keeps this host's reservation: " + released.error().message +
                "; `maya replica unshare` on its host frees it");
    else
      log::info("volume " + m.name + ": remote replica " + r.id + " (" + r.uri + ") given up");
  }
}

Result<std::string> JivaStorageDriver::add_replica(const std::string& volume,
                                                   const std::string& pool) {
  MAYA_TRY_VOID(validate_volume_name(volume));
  if (maya::jiva::is_remote_uri(pool)) return add_remote_replica(volume, pool);
  const fs::path dir = volume_dir(volume);
  MAYA_TRY(lock, storage::lock_volume(dir, volume));
  MAYA_TRY(m, maya::jiva::read_manifest(dir));
  MAYA_TRY(last, last_replica_number(*m));
  // A new replica is rebuilt from an RW one: with none (all failed, or still rebuilding) it
  // would only be an empty copy that could end up the volume's only one.
  if (auto status = target(volume).status(std::chrono::seconds(3)); status) {
    const bool source = std::any_of(status->replicas.begin(), status->replicas.end(),
                                    [](const auto& r) { return r.mode == "RW"; });
    if (!source)
      return fail("volume " + volume +
                  " has no RW replica to rebuild a new one from; bring one "
                  "back first (`maya volume rebuild " +
                  volume + "`)");
  }
  const std::string id = "r" + std::to_string(*last + 1);
  MAYA_TRY(placed, place_replicas(
                       volume, {id}, m->size_bytes, m->thin,
                       pool.empty() ? std::vector<std::string>{} : std::vector<std::string>{pool},
                       false, &*m));
  const fs::path on_pool = placed->front().dir;
  const fs::path rdir = on_pool.empty() ? dir / id : on_pool;
  std::error_code ec;
  if (on_pool.empty()) fs::remove_all(rdir, ec);  // leftovers of an earlier replica of that name
  MAYA_TRY_VOID(make_dirs(rdir, 0700));
  if (auto data = storage::make_data_file(maya::jiva::replica_data(rdir), m->size_bytes, m->thin,
                                          volume, on_pool.empty() ? options_.store_dir : on_pool);
      !data) {
    fs::remove_all(rdir, ec);
    return std::unexpected(data.error());
  }
  const auto before = *m;
  m->replicas.push_back({id, maya::jiva::file_uri(rdir), placed->front().snapshots_dir.string()});
  m->last_replica = *last + 1;
  MAYA_TRY_VOID(maya::jiva::write_manifest(dir, *m));
  if (auto followed = target(volume).reload_replicas(); !followed) {
    (void)maya::jiva::write_manifest(dir, before);
    fs::remove_all(rdir, ec);
    return fail("replica " + id + " of volume " + volume + " was not added", followed.error());
  }
  log::info("volume " + volume + ": replica " + id + " added on pool " + placed->front().pool +
            "; it is being rebuilt");
  return id;
}

Result<void> JivaStorageDriver::remove_replica(const std::string& volume, const std::string& id) {
  MAYA_TRY_VOID(validate_volume_name(volume));
  const fs::path dir = volume_dir(volume);
  MAYA_TRY(lock, storage::lock_volume(dir, volume));
  MAYA_TRY(m, maya::jiva::read_manifest(dir));
  auto it = std::find_if(m->replicas.begin(), m->replicas.end(),
                         [&](const maya::jiva::ReplicaRef& r) { return r.id == id; });
  if (it == m->replicas.end()) return fail("volume " + volume + " has no replica " + id);
  if (m->replicas.size() == 1)
    return fail("replica " + id + " is the only replica of volume " + volume);
  const bool remote = maya::jiva::is_remote_uri(it->uri);
  fs::path rdir;
  if (!remote) {
    MAYA_TRY(local, maya::jiva::replica_dir(*it));
    rdir = *local;
  }
  const auto before = *m;
  m->replicas.erase(it);
  MAYA_TRY_VOID(maya::jiva::write_manifest(dir, *m));
  if (auto followed = target(volume).reload_replicas(); !followed) {
    // A target that does not run (it may refuse to start because of this very replica) reads
    // the manifest when it starts; one that answers and refuses keeps the replica.
    if (followed.error().message.find("does not answer") == std::string::npos) {
      (void)maya::jiva::write_manifest(dir, before);
      return fail("replica " + id + " of volume " + volume + " was not removed", followed.error());
    }
    log::warn("volume " + volume + ": its target does not run; replica " + id +
              " is removed from the manifest it reads when it starts");
  }
  std::error_code ec;
  if (remote) {  // its data stays on the host that shares it; its fence and secret go
    if (auto secrets = maya::jiva::read_replica_chap(dir); secrets) {
      release_remote_replicas(before, *secrets, id);
      if (secrets->erase(id)) (void)maya::jiva::write_replica_chap(dir, *secrets);
    }
  } else {
    fs::remove_all(rdir, ec);
  }
  if (ec)
    log::warn("replica " + id + " is removed but " + rdir.string() + " stays: " + ec.message());
  log::info("volume " + volume + ": replica " + id + " removed");
  return {};
}

Result<void> JivaStorageDriver::fail_replica(const std::string& volume, const std::string& id,
                                             const std::string& reason) {
  MAYA_TRY_VOID(validate_volume_name(volume));
  return target(volume).fault_replica(id, reason);
}

Result<std::vector<std::string>> JivaStorageDriver::rebuild(const std::string& volume) {
  MAYA_TRY_VOID(validate_volume_name(volume));
  // An explicit command gives a broken volume another chance.
  if (supervisor_->status(volume).state == "broken") {
    MAYA_TRY(started, supervisor_->ensure(volume));
  }
  return target(volume).rebuild();
}

Result<SnapshotInfo> JivaStorageDriver::create_snapshot(const std::string& volume,
                                                        const std::string& snapshot,
                                                        const Quiesce& quiesce) {
  MAYA_TRY_VOID(validate_volume_name(volume));
  if (auto ok = validate_volume_name(snapshot); !ok)
    return fail("invalid snapshot name: " + ok.error().message);
  const fs::path dir = snapshots_dir(volume_dir(volume));
  if (snapshot_files_exist(dir, snapshot))
    return fail("volume " + volume + " already has a snapshot " + snapshot);
  MAYA_TRY(manifest, maya::jiva::read_manifest(volume_dir(volume)));
  // The point in time, between freeze and thaw; then the copy runs while I/O goes on.
  if (quiesce) MAYA_TRY_VOID(quiesce(true));
  auto taken = target(volume).take_snapshot(snapshot, /*wait=*/false);
  if (quiesce) {
    if (auto thawed = quiesce(false); !thawed) log::error(thawed.error().message);
  }
  if (!taken) return std::unexpected(taken.error());
  auto discard_image = [&] { remove_with_link_target(dir / (snapshot + ".img")); };
  bool reflinked = false;
  for (;;) {
    auto progress = target(volume).snapshot_progress(snapshot);
    if (!progress) {
      discard_image();
      return fail("snapshot " + snapshot + " of volume " + volume + " was not completed",
                  progress.error());
    }
    if (!progress->copying) {
      if (progress->error) {
        discard_image();
        return fail("snapshot " + snapshot + " of volume " + volume +
                    " could not be copied: " + *progress->error);
      }
      reflinked = progress->reflinked;
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  SnapshotInfo info{snapshot, iso8601(), manifest->size_bytes, reflinked ? "reflink" : "copy"};
  json j = {{"name", info.name},
            {"created", info.created},
            {"size_bytes", info.size_bytes},
            {"method", info.method}};
  MAYA_TRY_VOID(write_file_atomic(dir / (snapshot + ".json"), j.dump(2) + "\n", 0600));
  info.allocated_bytes = allocated_bytes(dir / (snapshot + ".img"));
  log::info("volume " + volume + ": snapshot " + snapshot + " taken (" + info.method + ")");
  return info;
}

Result<std::vector<SnapshotInfo>> JivaStorageDriver::list_snapshots(const std::string& volume) {
  MAYA_TRY_VOID(validate_volume_name(volume));
  std::vector<SnapshotInfo> out;
  std::error_code ec;
  for (auto it = fs::directory_iterator(snapshots_dir(volume_dir(volume)), ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (it->path().extension() != ".json") continue;
    if (auto info = read_snapshot_info(it->path())) out.push_back(std::move(*info));
  }
  std::sort(out.begin(), out.end(), [](const SnapshotInfo& a, const SnapshotInfo& b) {
    return a.created != b.created ? a.created < b.created : a.name < b.name;
  });
  return out;
}

Result<void> JivaStorageDriver::delete_snapshot(const std::string& volume,
                                                const std::string& snapshot) {
  MAYA_TRY_VOID(validate_volume_name(volume));
  if (auto ok = validate_volume_name(snapshot); !ok)
    return fail("invalid snapshot name: " + ok.error().message);
  const fs::path dir = snapshots_dir(volume_dir(volume));
  if (!snapshot_files_exist(dir, snapshot))
    return fail("volume " + volume + " has no snapshot " + snapshot);
  remove_snapshot_files(dir, snapshot);
  log::info("volume " + volume + ": snapshot " + snapshot + " deleted");
  return {};
}

Result<void> JivaStorageDriver::revert_snapshot(const std::string& volume,
                                                const std::string& snapshot) {
  MAYA_TRY_VOID(validate_volume_name(volume));
  if (auto ok = validate_volume_name(snapshot); !ok)
    return fail("invalid snapshot name: " + ok.error().message);
  std::error_code ec;
  const fs::path json_file = snapshots_dir(volume_dir(volume)) / (snapshot + ".json");
  if (!fs::exists(json_file, ec)) return fail("volume " + volume + " has no snapshot " + snapshot);
  // A snapshot taken before the volume grew would leave the new range as it is now (a reflink
  // replaces only the snapshot's length): that volume is cloned from it instead.
  MAYA_TRY(info, read_snapshot_info(json_file));
  MAYA_TRY(m, maya::jiva::read_manifest(volume_dir(volume)));
  if (info->size_bytes != 0 && info->size_bytes != m->size_bytes)
    return fail("snapshot " + snapshot + " is of volume " + volume + " at " +
                std::to_string(info->size_bytes) + " bytes; it is " +
                std::to_string(m->size_bytes) + " bytes now (it grew since). Make a volume of " +
                "the snapshot instead: maya volume create NEW --from " + volume + "@" + snapshot);
  MAYA_TRY_VOID(target(volume).revert_snapshot(snapshot, 3600s));
  log::info("volume " + volume + ": reverted to snapshot " + snapshot);
  return {};
}

}  // namespace maya::drivers::jiva
