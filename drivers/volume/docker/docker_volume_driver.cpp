#include "drivers/volume/docker/docker_volume_driver.h"

#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "drivers/volume/mount_options.h"
#include "lib/common/errno_text.h"
#include "lib/common/files.h"
#include "lib/common/log.h"
#include "lib/common/names.h"
#include "lib/common/size.h"
#include "lib/common/time_format.h"

namespace maya::drivers::docker {

namespace fs = std::filesystem;

DockerVolumeDriver::DockerVolumeDriver(StorageDrivers storage, std::unique_ptr<OsDriver> os,
                                       fs::path state_dir)
    : storage_(std::move(storage)),
      os_(std::move(os)),
      state_dir_(std::move(state_dir)),
      records_(state_dir_ / "volumes"),
      deleted_(state_dir_ / "deleted-volumes"),
      boot_id_(current_boot_id()) {}

void DockerVolumeDriver::configure(VolumeSettings settings) {
  std::lock_guard guard(settings_mutex_);
  settings_ = std::move(settings);
}

VolumeSettings DockerVolumeDriver::settings() {
  std::lock_guard guard(settings_mutex_);
  return settings_;
}

Result<StoreSpace> DockerVolumeDriver::store_space() {
  StoreSpace space;
  space.store = settings().store_dir;
  if (space.store.empty()) return fail("the store directory is not configured");
  struct statvfs st {};
  if (::statvfs(space.store.c_str(), &st) != 0)
    return fail_errno("cannot read the free space of " + space.store.string());
  space.free_bytes = std::uint64_t{st.f_bavail} * st.f_frsize;
  space.total_bytes = std::uint64_t{st.f_blocks} * st.f_frsize;
  for (const VolumeRecord& record : records_.load_all(nullptr)) {
    if (record.spec.thin)
      space.committed_bytes += record.spec.size_bytes * std::max(1u, record.spec.replicas);
  }
  return space;
}

std::optional<std::string> DockerVolumeDriver::overcommit_warning() {
  auto space = store_space();
  if (!space || space->committed_bytes <= space->free_bytes) return std::nullopt;
  return "thin volumes in " + space->store.string() + " may now grow to " +
         format_size(space->committed_bytes) + " (size × replicas), more than its " +
         format_size(space->free_bytes) +
         " free: writes will fail for lack of space if they all fill up";
}

std::shared_ptr<std::mutex> DockerVolumeDriver::lock_for(const std::string& name) {
  std::lock_guard guard(locks_mutex_);
  auto& lock = locks_[name];
  if (!lock) lock = std::make_shared<std::mutex>();
  return lock;
}

Result<DockerVolumeDriver::StorageCall> DockerVolumeDriver::storage_call(const std::string& name,
                                                                         bool in_use_ok) {
  MAYA_TRY_VOID(validate_volume_name(name));
  StorageCall call;
  call.lock = lock_for(name);
  call.guard = std::unique_lock(*call.lock, std::defer_lock);
  if (!in_use_ok) call.guard.lock();
  MAYA_TRY(record, records_.load(name));
  if (!in_use_ok && record->references() > 0) {
    return fail("volume " + name + " is in use (" + std::to_string(record->references()) +
                " mount reference(s)); stop the containers using it first");
  }
  if (!in_use_ok && record->host_attached)
    return fail("volume " + name +
                " is attached to this host as a block device; detach it first "
                "(maya volume detach " +
                name + ")");
  MAYA_TRY(storage, storage_for(record->spec));
  call.record = std::move(*record);
  call.storage = *storage;
  return call;
}

std::vector<TargetHost*> DockerVolumeDriver::target_hosts() const {
  std::vector<TargetHost*> hosts;
  for (const auto& [name, driver] : storage_) {
    if (auto* host = dynamic_cast<TargetHost*>(driver.get())) hosts.push_back(host);
  }
  return hosts;
}

Result<StorageDriver*> DockerVolumeDriver::storage_for(const VolumeSpec& spec) {
  auto it = storage_.find(spec.storage_driver);
  if (it == storage_.end()) {
    std::string enabled;
    for (const auto& [name, driver] : storage_) enabled += (enabled.empty() ? "" : ", ") + name;
    return fail("storage driver \"" + spec.storage_driver +
                "\" is not enabled on this host (enabled: " + enabled + ")");
  }
  return it->second.get();
}

fs::path DockerVolumeDriver::mountpoint(const std::string& name) const {
  return state_dir_ / "mounts" / name;
}

bool DockerVolumeDriver::is_mounted(const std::string& name) {
  auto entry = os_->mounted_at(mountpoint(name));
  return entry && entry->has_value();
}

Result<fs::path> DockerVolumeDriver::bring_up(const VolumeSpec& spec, bool* grow_filesystem) {
  MAYA_TRY(storage, storage_for(spec));
  MAYA_TRY(device, (*storage)->attach(spec.name));
  auto undo_attach = [&](const Error& why) {
    if (auto detached = (*storage)->detach(spec.name); !detached)
      log::warn("volume " + spec.name + ": " + detached.error().message);
    return fail("volume " + spec.name, why);
  };

  auto signature = os_->probe(*device);
  if (!signature) return undo_attach(signature.error());
  std::string fstype = spec.fstype;
  const bool fresh = !signature->has_value();
  if (fresh) {
    // The OS driver logs the format: each event is logged once, by the layer that did it.
    log::debug("volume " + spec.name + ": formatting " + device->string() + " as " + fstype);
    if (auto formatted = os_->format(*device, fstype); !formatted)
      return undo_attach(formatted.error());
  } else if (**signature == "ext4" || **signature == "xfs" || **signature == "btrfs") {
    fstype = **signature;  // the data decides: a volume is never reformatted
  } else {
    return undo_attach(Error{device->string() + " holds \"" + **signature +
                             "\", not a file system maya mounts; it was left untouched"});
  }

  fs::path target = mountpoint(spec.name);
  const bool grow = grow_filesystem != nullptr && *grow_filesystem;
  if (grow && fresh) *grow_filesystem = false;  // made at the device's size
  if (grow && !fresh && fstype == "ext4") {
    if (auto grown = os_->grow_filesystem(*device, {}, fstype); !grown)
      return undo_attach(
          Error{"its ext4 file system must grow with the volume before it is "
                "mounted, and cannot: " +
                grown.error().message});
    *grow_filesystem = false;
  }
  if (auto made = make_dirs(target, 0755); !made) return undo_attach(made.error());
  if (auto mounted = os_->mount(*device, target, fstype, spec.mount_options); !mounted)
    return undo_attach(mounted.error());
  if (grow && !fresh && fstype == "xfs") {
    if (auto grown = os_->grow_filesystem(*device, target, fstype); grown)
      *grow_filesystem = false;
    else
      log::warn("volume " + spec.name + ": " + grown.error().message +
                " (tried again at its next mount)");
  }
  if (grow && !fresh && fstype != "ext4" && fstype != "xfs") *grow_filesystem = false;
  if (fresh && fstype == "ext4" && !settings().keep_lost_found) {
    // An empty root: initdb and mysqld --initialize refuse a directory that holds lost+found.
    // rmdir removes it only while empty; e2fsck makes it again when it needs it.
    fs::path lost = target / "lost+found";
    if (::rmdir(lost.c_str()) != 0 && errno != ENOENT)
      log::warn("volume " + spec.name + ": cannot remove " + lost.string() + ": " +
                errno_text(errno));
  }
  if (spec.uid || spec.gid) {
    uid_t uid = spec.uid ? *spec.uid : static_cast<uid_t>(-1);
    gid_t gid = spec.gid ? *spec.gid : static_cast<gid_t>(-1);
    if (::chown(target.c_str(), uid, gid) != 0) {
      Error why{"cannot set the owner of " + target.string() + ": " + errno_text(errno)};
      (void)os_->unmount(target);
      return undo_attach(why);
    }
  }
  return target;
}

Result<void> DockerVolumeDriver::bring_down(const VolumeSpec& spec) {
  MAYA_TRY(storage, storage_for(spec));
  if (auto unmounted = os_->unmount(mountpoint(spec.name)); !unmounted)
    return fail("volume " + spec.name, unmounted.error());
  if (auto detached = (*storage)->detach(spec.name); !detached)
    return fail("volume " + spec.name, detached.error());
  return {};
}

Result<VolumeInfo> DockerVolumeDriver::create(const VolumeSpec& asked) {
  MAYA_TRY_VOID(validate_volume_name(asked.name));
  if (!asked.hosts.empty())
    return fail("option hosts places a realm volume's replicas; volume " + asked.name +
                " is not a realm volume (this host is in no realm, or its driver is not jiva)");
  VolumeSpec spec = asked;
  MAYA_TRY_VOID(inherit(spec));
  if (auto ok = check_mount_options(spec.fstype, spec.mount_options); !ok)
    return fail("option mountopts: " + ok.error().message);
  MAYA_TRY(storage, storage_for(spec));
  if (spec.replicas > (*storage)->max_replicas()) {
    return fail("the " + spec.storage_driver + " driver keeps at most " +
                std::to_string((*storage)->max_replicas()) +
                " replica(s); replicas=" + std::to_string(spec.replicas) + " is not possible");
  }
  auto lock = lock_for(spec.name);
  std::lock_guard guard(*lock);
  if (records_.exists(spec.name)) return fail("volume " + spec.name + " already exists");

  MAYA_TRY(created, (*storage)->create(spec));
  VolumeRecord record{spec, iso8601(), {}, boot_id_};
  record.spec.size_bytes = created->size_bytes;  // rounded, or a clone's snapshot size
  if (auto saved = records_.save(record); !saved) {
    (void)(*storage)->remove(spec.name);
    return std::unexpected(saved.error());
  }
  // The storage driver logged the creation with its details; this only says what made it.
  log::debug("volume " + spec.name + " created (" + spec.storage_driver + ", " +
             format_size(record.spec.size_bytes) +
             (spec.from.empty() ? std::string() : ", a clone of " + spec.from) + ")");
  VolumeInfo info = describe(record);
  if (auto warning = overcommit_warning()) {
    log::warn("volume " + spec.name + ": " + *warning);
    info.warnings.push_back(*warning);
  }
  return info;
}

Result<void> DockerVolumeDriver::inherit(VolumeSpec& spec) {
  if (spec.from.empty()) return {};
  const std::string source = spec.from.substr(0, spec.from.find('@'));
  auto record = records_.exists(source) ? records_.load(source) : deleted_.load(source);
  if (!record) {
    // A volume deleted before snapshots were kept, or by hand: the storage driver decides.
    if (records_.exists(source) || deleted_.exists(source)) return {};
    bool kept = false;
    for (const auto& [name, driver] : storage_) {
      if (auto* m = dynamic_cast<SnapshotManager*>(driver.get())) {
        if (auto all = m->kept_snapshots())
          for (const auto& k : *all) kept = kept || k.volume == source;
      }
    }
    if (!kept) return fail("no such volume: " + source);
    return {};
  }
  const VolumeSpec& from = record->spec;
  auto inherits = [&](const char* key) { return !spec.given.contains(key); };
  if (inherits("driver")) spec.storage_driver = from.storage_driver;
  // Pools named decide the count (one replica each); else the source's count.
  if (inherits("replicas") && spec.pools.empty()) spec.replicas = from.replicas;
  if (inherits("uid")) spec.uid = from.uid;
  if (inherits("gid")) spec.gid = from.gid;
  if (inherits("fstype")) spec.fstype = from.fstype;
  if (inherits("mountopts")) spec.mount_options = from.mount_options;
  if (inherits("thin")) spec.thin = from.thin;
  if (inherits("attach")) spec.attach = from.attach;
  return {};
}

Result<void> DockerVolumeDriver::remove(const std::string& name, bool force) {
  return remove(name, force, false);
}

Result<void> DockerVolumeDriver::remove(const std::string& name, bool force, bool with_snapshots) {
  auto lock = lock_for(name);
  std::lock_guard guard(*lock);
  MAYA_TRY(record, records_.load(name));
  if (record->references() > 0 && !force) {
    return fail("volume " + name + " is in use (" + std::to_string(record->references()) +
                " mount reference(s)); stop the containers using it first");
  }
  if (record->host_attached && !force)
    return fail("volume " + name +
                " is attached to this host as a block device; detach it "
                "first (maya volume detach " +
                name + "), or delete it with --force");
  MAYA_TRY(storage, storage_for(record->spec));
  // A delete completes or changes nothing: whoever else holds the device (a container's copy
  // of the mount in its own namespace, an open file) would make the detach fail after the
  // unmount, so they are named now, before anything is touched.
  MAYA_TRY_VOID(refuse_if_held(**storage, name,
                               "stop them (containers: docker ps -a --filter volume=" + name +
                                   ", then docker rm -f), then delete it again"));
  if (!force) {  // its data may be saved by fixing it: deleting it takes --force
    if (auto stored = (*storage)->inspect(name); stored && !stored->broken.empty())
      return fail("volume " + name + " is broken (" + stored->broken + ")");
  }
  // Its snapshots outlive it unless `with_snapshots`; what could refuse does so here, first.
  auto* snapshots = dynamic_cast<SnapshotManager*>(*storage);
  std::vector<SnapshotInfo> listed;
  if (snapshots != nullptr) {
    if (auto l = snapshots->list_snapshots(name)) listed = std::move(*l);
  }
  if (!listed.empty() && !with_snapshots) {
    MAYA_TRY(kept, snapshots->kept_snapshots());
    for (const auto& k : *kept) {
      for (const SnapshotInfo& snap : listed) {
        if (k.volume == name && k.info.name == snap.name)
          return fail("volume " + name + ": a deleted volume of that name kept a snapshot " +
                      snap.name + " already; delete it first (maya snapshot delete " + name + "@" +
                      snap.name + ") or delete this volume --with-snapshots. Nothing was changed");
      }
    }
    // What a clone of a kept snapshot inherits (saved before the snapshots move).
    MAYA_TRY(saved, deleted_.save(*record));
  }
  if (record->references() > 0) MAYA_TRY_VOID(bring_down(record->spec));
  MAYA_TRY(detached, (*storage)->detach(name));  // a crash may have left it attached
  if (with_snapshots) {
    for (const SnapshotInfo& snap : listed)
      MAYA_TRY_VOID(snapshots->delete_snapshot(name, snap.name));
  }
  MAYA_TRY(removed, (*storage)->remove(name));
  MAYA_TRY_VOID(records_.erase(name));
  std::error_code ec;
  fs::remove(mountpoint(name), ec);
  log::debug("volume " + name + " removed");  // the storage driver logged the delete
  return {};
}

Result<fs::path> DockerVolumeDriver::mount(const std::string& name, const std::string& id) {
  auto lock = lock_for(name);
  std::lock_guard guard(*lock);
  MAYA_TRY(record, records_.load(name));
  if (record->host_attached)
    return fail("volume " + name +
                " is attached to this host as a block device (maya volume attach, or the "
                "EBS API's AttachVolume); a file system on it is not mounted while it is: "
                "detach it first (maya volume detach " +
                name + ", or DetachVolume)");
  bool brought_up = false;
  if (record->references() == 0 || !is_mounted(name)) {
    MAYA_TRY(up, bring_up(record->spec, &record->grow_filesystem));
    brought_up = true;
  }
  // The mount is made before the count is saved: a crash in between leaves a mount with no
  // reference, which reconcile releases, and Docker saw the Mount fail. Never the reverse.
  record->mounts[id] += 1;
  record->boot_id = boot_id_;
  if (auto saved = records_.save(*record); !saved) {
    if (brought_up) (void)bring_down(record->spec);
    return std::unexpected(saved.error());
  }
  log::info("volume " + name + " mounted for " + (id.empty() ? "(no id)" : id) + " (" +
            std::to_string(record->references()) + " reference(s))");
  return mountpoint(name);
}

Result<void> DockerVolumeDriver::unmount(const std::string& name, const std::string& id) {
  auto lock = lock_for(name);
  std::lock_guard guard(*lock);
  MAYA_TRY(record, records_.load(name));
  auto it = record->mounts.find(id);
  if (it == record->mounts.end()) return {};  // unknown IDs are fine: Docker retries and repeats
  VolumeRecord before = *record;
  if (--it->second == 0) record->mounts.erase(it);
  // The count is saved before the unmount: a crash in between leaves a mount with no
  // reference, which reconcile releases.
  MAYA_TRY(saved, records_.save(*record));
  if (record->references() == 0) {
    if (auto down = bring_down(record->spec); !down) {
      (void)records_.save(before);
      return std::unexpected(down.error());
    }
  }
  log::info("volume " + name + " unmounted for " + (id.empty() ? "(no id)" : id) + " (" +
            std::to_string(record->references()) + " reference(s) left)");
  return {};
}

Result<fs::path> DockerVolumeDriver::path(const std::string& name) {
  MAYA_TRY(record, records_.load(name));
  return record->references() > 0 ? mountpoint(name) : fs::path();
}

Result<void> DockerVolumeDriver::refuse_if_held(StorageDriver& storage, const std::string& name,
                                                const std::string& remedy) {
  auto stored = storage.inspect(name);
  if (!stored || !stored->device) return {};
  MAYA_TRY(held, os_->holders(*stored->device, mountpoint(name)));
  if (held->empty()) return {};
  std::string who;
  for (const std::string& h : *held) who += (who.empty() ? "" : "; ") + h;
  return fail("volume " + name + " (" + stored->device->string() + ") is held: " + who +
              ". Nothing was changed; " + remedy);
}

VolumeInfo DockerVolumeDriver::describe(const VolumeRecord& record) {
  VolumeInfo info;
  info.spec = record.spec;
  info.created = record.created;
  info.mounts = record.mounts;
  bool mounted = is_mounted(record.spec.name);
  if (mounted) info.mountpoint = mountpoint(record.spec.name);
  info.state = mounted ? "mounted" : record.host_attached ? "attached" : "detached";
  auto storage = storage_for(record.spec);
  if (!storage) {
    info.state = "error";
    info.error = storage.error().message;
    return info;
  }
  auto stored = (*storage)->inspect(record.spec.name);
  if (!stored) {
    info.state = "error";
    info.error = stored.error().message;
    return info;
  }
  info.allocated_bytes = stored->allocated_bytes;
  if (stored->device) info.device = stored->device->string();
  info.iscsi = stored->iscsi;
  info.attach = stored->attach;
  info.attach_mode = stored->attach_mode;
  info.fuse_transport = stored->fuse_transport;
  info.replication = stored->replication;
  info.snapshots = stored->snapshots;
  if (record.host_attached && !stored->device) {
    info.state = "error";
    info.error = "the volume was attached with maya volume attach, but no device is there (" +
                 std::string("maya volume detach ") + record.spec.name + " clears it)";
  }
  if (record.references() > 0 && !mounted) {
    info.state = "error";
    info.error =
        "the volume has mount references but is not mounted (stop the containers using it "
        "and start them again, or delete it with: maya volume delete --force " +
        record.spec.name + ")";
  }
  if (!stored->broken.empty()) {
    info.state = "broken";
    info.error = stored->broken;
  }
  return info;
}

Result<VolumeInfo> DockerVolumeDriver::get(const std::string& name) {
  MAYA_TRY_VOID(validate_volume_name(name));
  MAYA_TRY(record, records_.load(name));
  return describe(*record);
}

Result<std::vector<VolumeInfo>> DockerVolumeDriver::list() {
  std::map<std::string, std::string> damaged;
  std::vector<VolumeInfo> out;
  for (const VolumeRecord& record : records_.load_all(&damaged)) out.push_back(describe(record));
  // A damaged record still names a volume that exists: show it, in error.
  for (const auto& [name, why] : damaged) {
    VolumeInfo info;
    info.spec.name = name;
    info.state = "error";
    info.error = why;
    out.push_back(std::move(info));
  }
  return out;
}

std::vector<std::string> DockerVolumeDriver::reconcile() {
  std::vector<std::string> notes;
  std::map<std::string, std::string> damaged;
  for (VolumeRecord& record : records_.load_all(&damaged)) {
    const std::string& name = record.spec.name;
    auto lock = lock_for(name);
    std::lock_guard guard(*lock);
    if (record.references() > 0 && record.boot_id != boot_id_) {
      notes.push_back("volume " + name + ": dropped " + std::to_string(record.references()) +
                      " mount reference(s) from an earlier boot");
      record.mounts.clear();
      record.boot_id = boot_id_;
      if (auto saved = records_.save(record); !saved) notes.push_back(saved.error().message);
    }
    if (record.host_attached) {
      notes.push_back(reconcile_host_attach(record));
      continue;
    }
    bool mounted = is_mounted(name);
    if (record.references() > 0 && !mounted) {
      const bool was_pending = record.grow_filesystem;
      auto up = bring_up(record.spec, &record.grow_filesystem);
      if (up && was_pending && !record.grow_filesystem) {
        if (auto saved = records_.save(record); !saved) notes.push_back(saved.error().message);
      }
      notes.push_back(up ? "volume " + name + ": mounted again for its " +
                               std::to_string(record.references()) + " reference(s)"
                         : up.error().message);
    } else if (record.references() == 0) {
      auto down = bring_down(record.spec);  // idempotent: nothing to do when nothing is up
      if (!down)
        notes.push_back(down.error().message);
      else if (mounted)
        notes.push_back("volume " + name + ": released a mount nobody references");
    }
  }
  for (const auto& [name, why] : damaged) notes.push_back("volume " + name + ": " + why);
  return notes;
}

}  // namespace maya::drivers::docker
