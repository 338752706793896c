#include "drivers/pools/pool_service.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <system_error>

#include "drivers/os/linux/block_probe.h"
#include "drivers/pools/pool_disk.h"
#include "drivers/storage/common/loop_device.h"
#include "lib/common/errno_text.h"
#include "lib/common/files.h"
#include "lib/common/names.h"
#include "lib/process/exec.h"

namespace maya::drivers::pools {
namespace fs = std::filesystem;
namespace {

constexpr auto kMkfsTimeout = std::chrono::seconds(300);
constexpr const char* kProbeFile = ".maya-write-probe";

Result<void> validate_pool_name(const std::string& name) {
  if (auto valid = validate_volume_name(name); !valid) {
    std::string message = valid.error().message;
    if (auto at = message.find("volume name"); at != std::string::npos)
      message.replace(at, 11, "pool name");
    return fail(message);
  }
  return {};
}

// Faulted when the file system answers EIO (or turned read-only): statfs, then a small write.
std::optional<std::string> io_fault(const fs::path& mountpoint, struct statvfs& st) {
  if (::statvfs(mountpoint.c_str(), &st) != 0) return "statfs: " + errno_text(errno);
  const fs::path probe = mountpoint / kProbeFile;
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int err = 0;
  if (fd < 0) {
    err = errno;
  } else {
    if (::write(fd, "p", 1) != 1 || ::fsync(fd) != 0) err = errno;
    ::close(fd);
    ::unlink(probe.c_str());
  }
  if (err == EIO || err == EROFS) return "a write probe failed: " + errno_text(err);
  return std::nullopt;
}

void unbind_quietly(const fs::path& device) {
  if (!device.empty()) (void)storage::unbind_loop_device(device);
}

}  // namespace

nlohmann::json pool_json(const PoolInfo& p) {
  auto or_null = [](const std::string& s) {
    return s.empty() ? nlohmann::json() : nlohmann::json(s);
  };
  return {{"name", p.name},
          {"kind", p.kind},
          {"state", p.state},
          {"error", or_null(p.error)},
          {"disk", or_null(p.disk)},
          {"backing_file", or_null(p.backing_file)},
          {"uuid", or_null(p.uuid)},
          {"mountpoint", p.mountpoint.string()},
          {"capacity_bytes", p.capacity_bytes},
          {"used_bytes", p.used_bytes},
          {"committed_bytes", p.committed_bytes}};
}

PoolService::PoolService(OsDriver& os, fs::path state_dir, fs::path store_dir)
    : os_(os),
      state_dir_(std::move(state_dir)),
      store_dir_(std::move(store_dir)),
      registry_(state_dir_ / "pools.json") {}

fs::path PoolService::mountpoint(const std::string& name) const {
  return state_dir_ / "pools" / name;
}

std::vector<std::string> PoolService::import_all() {
  std::lock_guard lock(mutex_);
  std::vector<std::string> notes;
  auto records = registry_.load();
  if (!records) return {records.error().message};
  for (PoolRecord& record : *records) {
    if (auto imported = import(record, notes); !imported) {
      import_errors_[record.name] = imported.error().message;
      notes.push_back("pool " + record.name + ": " + imported.error().message);
    }
  }
  return notes;
}

Result<void> PoolService::import(PoolRecord& record, std::vector<std::string>& notes) {
  const fs::path mp = mountpoint(record.name);
  MAYA_TRY(mounted, os_.mounted_at(mp));
  if (*mounted && record.phase == Phase::ready) {
    notes.push_back("pool " + record.name + " is mounted at " + mp.string() + " (" +
                    (*mounted)->source + ")");
    return {};
  }
  // Where is its UUID now? Where it was last seen, else on any block device; a file maya bound
  // before is bound again when no device holds it (its loop device went with a reboot).
  std::optional<fs::path> device;
  if (!record.device.empty()) {
    auto at = probe_uuid(record.device);
    if (at && *at && **at == record.uuid) device = record.device;
  }
  if (!device) device = find_device_by_uuid(record.uuid);
  fs::path bound;
  std::error_code ec;
  if (!device && !record.backing_file.empty() && fs::is_regular_file(record.backing_file, ec)) {
    auto loops = storage::bound_loop_devices();
    if (loops && storage::devices_backed_by(*loops, record.backing_file).empty()) {
      if (auto dev = storage::bind_loop_device(record.backing_file)) {
        auto at = probe_uuid(*dev);
        if (at && *at && **at == record.uuid)
          device = bound = *dev;
        else
          unbind_quietly(*dev);
      }
    }
  }
  if (!device) {
    notes.push_back("pool " + record.name + " is missing: no disk holds its UUID " + record.uuid +
                    (record.phase == Phase::creating ? " (its creation was cut short)" : ""));
    return {};
  }
  if (auto m = os_.mount(*device, mp, "xfs", ""); !m) {
    unbind_quietly(bound);
    return m;
  }
  const bool moved = record.device != *device;
  record.device = *device;
  record.phase = Phase::ready;
  MAYA_TRY_VOID(registry_.put(record));
  notes.push_back("pool " + record.name + " imported from " + device->string() +
                  (moved ? " (its disk moved)" : "") + ", mounted at " + mp.string());
  return {};
}

Result<void> PoolService::refuse_known(const std::vector<PoolRecord>& records, const fs::path& disk,
                                       const fs::path& device) {
  std::optional<std::string> uuid;
  if (!device.empty()) {
    MAYA_TRY(probed, probe_uuid(device));
    uuid = *probed;
  }
  for (const PoolRecord& r : records) {
    if ((uuid && *uuid == r.uuid) || r.disk == disk || (!device.empty() && r.device == device) ||
        (!r.backing_file.empty() && r.backing_file == disk))
      return fail("disk " + disk.string() + " belongs to pool " + r.name + " (UUID " + r.uuid +
                  "); maya never formats a pool's disk, not even with --force");
  }
  return {};
}

Result<PoolInfo> PoolService::create(const std::string& name, const std::vector<std::string>& disks,
                                     bool force) {
  if (disks.empty()) return fail("pool create needs a DISK");
  if (disks.size() > 1)
    return fail("a pool is one disk (one disk, one pool): got " + std::to_string(disks.size()) +
                " disks; create one pool per disk");
  MAYA_TRY_VOID(validate_pool_name(name));
  if (name == "default")
    return fail("pool name default is taken by the store directory ([paths] store)");
  std::lock_guard lock(mutex_);
  MAYA_TRY(records, registry_.load());
  for (const PoolRecord& r : *records)
    if (r.name == name) return fail("pool " + name + " exists (on " + r.device.string() + ")");

  const fs::path disk = fs::absolute(disks[0]).lexically_normal();
  struct stat st {};
  if (::stat(disk.c_str(), &st) != 0) return fail_errno("cannot use disk " + disk.string());
  MAYA_TRY_VOID(refuse_known(*records, disk, S_ISBLK(st.st_mode) ? disk : fs::path()));
  PoolRecord record;
  record.name = name;
  record.disk = disk;
  fs::path bound;  // the loop device made here, unbound again if create fails
  if (S_ISREG(st.st_mode)) {
    MAYA_TRY(loops, storage::bound_loop_devices());
    auto holders = storage::devices_backed_by(*loops, disk);
    if (!holders.empty())
      return fail("file " + disk.string() + " is in use: " + holders.front().string() +
                  " is bound to it");
    MAYA_TRY_VOID(refuse_known(*records, disk, disk));
    MAYA_TRY(signature, linux_os::probe_signature(disk));
    if (*signature && !force)
      return fail("disk " + disk.string() + " holds " + **signature +
                  " (libblkid); refusing to format it. Wipe it, or pass --force to format it "
                  "anyway");
    MAYA_TRY(device, storage::bind_loop_device(disk));
    bound = record.device = *device;
    record.backing_file = disk;
  } else if (S_ISBLK(st.st_mode)) {
    record.device = disk;
  } else {
    return fail("disk " + disk.string() + " is neither a block device nor a regular file");
  }
  if (auto free = check_disk_free(record.device, force); !free) {
    unbind_quietly(bound);
    return std::unexpected(free.error());
  }
  auto uuid = fresh_uuid();
  if (!uuid) {
    unbind_quietly(bound);
    return std::unexpected(uuid.error());
  }
  record.uuid = *uuid;
  record.phase = Phase::creating;
  if (auto put = registry_.put(record); !put) {
    unbind_quietly(bound);
    return std::unexpected(put.error());
  }
  if (auto made = format_and_mount(record); !made) {
    (void)registry_.remove(name);
    unbind_quietly(bound);
    return std::unexpected(made.error());
  }
  return describe(record);
}

Result<void> PoolService::format_and_mount(PoolRecord& record) {
  MAYA_TRY(ran, run_command_checked({"mkfs.xfs", "-f", "-q", "-m", "reflink=1,uuid=" + record.uuid,
                                     "-L", xfs_label(record.name), record.device.string()},
                                    kMkfsTimeout));
  const fs::path mp = mountpoint(record.name);
  MAYA_TRY_VOID(make_dirs(mp.parent_path(), 0700));
  MAYA_TRY_VOID(os_.mount(record.device, mp, "xfs", ""));
  record.phase = Phase::ready;
  if (auto put = registry_.put(record); !put) {
    (void)os_.unmount(mp);
    return put;
  }
  return {};
}

void PoolService::describe_online(PoolInfo& p, const struct statvfs& st) const {
  p.state = "online";
  p.capacity_bytes = std::uint64_t(st.f_blocks) * st.f_frsize;
  p.used_bytes = std::uint64_t(st.f_blocks - st.f_bfree) * st.f_frsize;
  p.committed_bytes = replica_store(p.name, p.mountpoint).committed_bytes();
  if (auto read = read_errors_.find(p.name); read != read_errors_.end()) {
    p.state = "degraded";
    p.error = "read errors seen: " + read->second;
  }
}

PoolInfo PoolService::describe_default() {
  PoolInfo p;
  p.name = "default";
  p.kind = "directory";
  p.disk = store_dir_.string();
  p.mountpoint = store_dir_;
  struct statvfs st {};
  if (::statvfs(store_dir_.c_str(), &st) != 0) {
    p.state = errno == ENOENT ? "missing" : "faulted";
    p.error = "statfs " + store_dir_.string() + ": " + errno_text(errno);
    return p;
  }
  describe_online(p, st);
  return p;
}

PoolInfo PoolService::describe(const PoolRecord& record) {
  PoolInfo p;
  p.name = record.name;
  p.kind = "disk";
  p.uuid = record.uuid;
  p.disk = record.device.string();
  p.backing_file = record.backing_file.string();
  p.mountpoint = mountpoint(record.name);
  auto mounted = os_.mounted_at(p.mountpoint);
  if (!mounted || !*mounted) {
    if (record.phase == Phase::creating) {
      p.state = "incomplete";
      p.error = "its creation was cut short before mkfs finished; `maya pool destroy " +
                record.name + "` forgets it";
    } else if (auto why = import_errors_.find(record.name); why != import_errors_.end()) {
      p.state = "faulted";
      p.error = "its disk was found but could not be mounted: " + why->second;
    } else if (!mounted) {
      p.state = "unknown";  // the mount table could not be read: nothing is concluded
      p.error = mounted.error().message;
    } else {
      p.state = "missing";
      p.error = "no disk holding its UUID " + record.uuid + " was found (not mounted)";
    }
    return p;
  }
  p.disk = (*mounted)->source;
  struct statvfs st {};
  if (auto fault = io_fault(p.mountpoint, st)) {
    p.state = "faulted";
    p.error = *fault;
    return p;
  }
  describe_online(p, st);
  return p;
}

void PoolService::set_read_errors(std::map<std::string, std::string> errors) {
  std::lock_guard lock(mutex_);
  read_errors_ = std::move(errors);
}

Result<std::vector<PoolInfo>> PoolService::list() {
  std::lock_guard lock(mutex_);
  MAYA_TRY(records, registry_.load());
  std::vector<PoolInfo> pools{describe_default()};
  for (const PoolRecord& r : *records) pools.push_back(describe(r));
  return pools;
}

std::optional<std::vector<PoolInfo>> PoolService::list_without_waiting() {
  std::unique_lock lock(mutex_, std::try_to_lock);
  if (lock.owns_lock()) {
    if (auto records = registry_.load()) {
      std::vector<PoolInfo> pools{describe_default()};
      for (const PoolRecord& r : *records) pools.push_back(describe(r));
      lock.unlock();
      std::lock_guard last(last_mutex_);
      last_listed_ = std::move(pools);
    }
  }
  std::lock_guard last(last_mutex_);
  return last_listed_;
}

Result<PoolInfo> PoolService::get(const std::string& name) {
  if (name == "default") {
    std::lock_guard lock(mutex_);
    return describe_default();
  }
  std::lock_guard lock(mutex_);
  MAYA_TRY(records, registry_.load());
  for (const PoolRecord& r : *records)
    if (r.name == name) return describe(r);
  return fail("no pool named " + name);
}

// What pool `name` holds at `mp`: refused unless `force`, else deleted and named in `deleted`
// (a replica as "replica NAME", anything else by its file name).
Result<void> PoolService::empty_for_destroy(const std::string& name, const fs::path& mp, bool force,
                                            std::vector<std::string>& deleted) {
  const ReplicaStore store = replica_store(name, mp);
  auto replicas = store.list();
  if (!replicas && !force)
    return fail(replicas.error().message + "; --force destroys the pool without looking");
  std::vector<std::string> held;
  if (replicas) {
    for (const PoolReplica& r : *replicas) {
      if (auto holder = volume_holding(r))
        return fail("pool " + name + " holds replica " + r.name + " of " + *holder +
                    "; not even --force deletes it: `maya volume replica remove " + r.volume +
                    " ID` (or deleting the volume) takes it away first");
      // A shared replica is served to another host's volume: never deleted under it.
      if (std::error_code shared_ec; fs::exists(r.path.parent_path() / "share.json", shared_ec))
        return fail("pool " + name + " holds replica " + r.name +
                    ", shared with other hosts; not even --force deletes it: `maya replica "
                    "unshare " +
                    name + " " + r.name + "` first");
      held.push_back("replica " + r.name);
    }
  }
  std::error_code ec;
  std::vector<fs::path> entries;
  for (const auto& e : fs::directory_iterator(mp, ec)) {
    if (e.path().filename() == kProbeFile) continue;
    // The replicas directory counts by its replicas; empty (or only what a crash cut short),
    // it holds nothing.
    if (e.path().filename() == "replicas") {
      entries.push_back(e.path());
      continue;
    }
    // Snapshot images count one by one, and those a volume's snapshot links to stay.
    if (e.path().filename() == "snapshots") {
      MAYA_TRY(images, snapshot_images(name, mp, force));
      held.insert(held.end(), images->begin(), images->end());
      entries.push_back(e.path());
      continue;
    }
    entries.push_back(e.path());
    held.push_back(e.path().filename().string());
  }
  if (ec && !force)
    return fail("cannot read pool " + name + " at " + mp.string() + ": " + ec.message() +
                "; --force destroys it without looking");
  std::sort(held.begin(), held.end());
  if (!held.empty() && !force) {
    std::string names;
    for (const std::string& h : held) names += (names.empty() ? "" : ", ") + h;
    return fail("pool " + name + " is not empty (" + names + "); " +
                (replicas && !replicas->empty()
                     ? "`maya replica destroy " + name + " NAME` takes a replica away, "
                     : "") +
                "--force deletes what it holds");
  }
  for (const fs::path& e : entries) {
    fs::remove_all(e, ec);
    if (ec) return fail("cannot delete " + e.string() + ": " + ec.message());
  }
  deleted = held;
  return {};
}

Result<DestroyResult> PoolService::destroy(const std::string& name, bool force) {
  if (name == "default")
    return fail("pool default is the store directory ([paths] store); it cannot be destroyed");
  std::lock_guard lock(mutex_);
  MAYA_TRY(records, registry_.load());
  auto it = std::find_if(records->begin(), records->end(),
                         [&](const PoolRecord& r) { return r.name == name; });
  if (it == records->end()) return fail("no pool named " + name);
  const PoolRecord record = *it;
  DestroyResult result{name, {}, {}};
  const fs::path mp = mountpoint(name);
  MAYA_TRY(mounted, os_.mounted_at(mp));
  if (*mounted) {
    MAYA_TRY_VOID(empty_for_destroy(name, mp, force, result.deleted));
    MAYA_TRY_VOID(os_.unmount(mp));
  } else {
    MAYA_TRY_VOID(refuse_if_named(name, mp));
  }
  std::error_code ec;
  fs::remove(mp, ec);
  if (!record.backing_file.empty()) {
    MAYA_TRY(loops, storage::bound_loop_devices());
    for (const fs::path& dev : storage::devices_backed_by(*loops, record.backing_file)) {
      MAYA_TRY_VOID(storage::unbind_loop_device(dev));
      result.detached = dev.string();
    }
  }
  MAYA_TRY_VOID(registry_.remove(name));
  import_errors_.erase(name);
  return result;
}

}  // namespace maya::drivers::pools
