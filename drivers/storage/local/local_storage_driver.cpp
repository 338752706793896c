#include "drivers/storage/local/local_storage_driver.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "drivers/storage/local/loop_device.h"
#include "lib/common/fd.h"
#include "lib/common/files.h"
#include "lib/common/log.h"
#include "lib/common/names.h"

namespace maya::drivers::local {
namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t kSectorSize = 512;
constexpr std::chrono::seconds kLockWait{30};  // attach/detach/remove take well under a second

std::string errno_text(int err) {
  return std::strerror(err);
}

// Removes a directory tree when it goes out of scope, unless kept.
class DirGuard {
 public:
  explicit DirGuard(fs::path dir) : dir_(std::move(dir)) {}
  ~DirGuard() {
    if (dir_.empty()) return;
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  DirGuard(const DirGuard&) = delete;
  DirGuard& operator=(const DirGuard&) = delete;
  void keep() { dir_.clear(); }

 private:
  fs::path dir_;
};

Result<void> sync_dir(const fs::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0 || ::fsync(fd.get()) != 0)
    return fail("cannot sync directory " + dir.string() + ": " + errno_text(errno));
  return {};
}

// A unique hidden directory in the store: valid volume names never start with '.'.
Result<fs::path> make_hidden_dir(const fs::path& store, const std::string& purpose,
                                 const std::string& name) {
  std::string pattern = (store / ("." + purpose + "-" + name + "-XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr)
    return fail("cannot create a directory in " + store.string() + ": " + errno_text(errno));
  return fs::path(pattern);
}

// An exclusive flock on the volume directory, held while a volume is attached, detached or
// removed. Fails when the volume does not exist (or was removed while we waited).
Result<Fd> lock_volume(const fs::path& dir, const std::string& name) {
  for (;;) {
    Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() < 0) {
      if (errno == ENOENT || errno == ENOTDIR) return fail("volume " + name + " does not exist");
      return fail("cannot open " + dir.string() + ": " + errno_text(errno));
    }
    const auto deadline = std::chrono::steady_clock::now() + kLockWait;
    while (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK && errno != EINTR)
        return fail("cannot lock " + dir.string() + ": " + errno_text(errno));
      if (std::chrono::steady_clock::now() >= deadline) {
        return fail("volume " + name + " is busy: another attach, detach or delete of it has " +
                    "not finished within " + std::to_string(kLockWait.count()) + " s");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    struct stat held {};
    struct stat now {};
    if (::fstat(fd.get(), &held) != 0)
      return fail("cannot stat " + dir.string() + ": " + errno_text(errno));
    if (::stat(dir.c_str(), &now) != 0) {
      if (errno == ENOENT) return fail("volume " + name + " does not exist");
      return fail("cannot stat " + dir.string() + ": " + errno_text(errno));
    }
    if (held.st_dev == now.st_dev && held.st_ino == now.st_ino) return fd;
    // Removed and re-created while we waited for the lock: lock the new directory.
  }
}

std::string utc_now() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Makes data.img of `size` bytes in `dir`: sparse, or fully allocated when not thin.
Result<void> make_data_file(const fs::path& file, std::uint64_t size, bool thin,
                            const std::string& name, const fs::path& store) {
  Fd fd(::open(file.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (fd.get() < 0) return fail("cannot create " + file.string() + ": " + errno_text(errno));
  const std::string bytes = std::to_string(size) + " bytes";
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
    if (errno == EFBIG || errno == EINVAL) {
      return fail("volume " + name + " cannot be " + bytes + ": the file system holding " +
                  store.string() + " does not allow files that large");
    }
    return fail("cannot size " + file.string() + " to " + bytes + ": " + errno_text(errno));
  }
  if (!thin) {
    int rc;
    do {
      rc = ::fallocate(fd.get(), 0, 0, static_cast<off_t>(size));
    } while (rc != 0 && errno == EINTR);
    if (rc != 0 && errno == ENOSPC) {
      return fail("not enough free space in " + store.string() + " for the " + bytes +
                  " of thick volume " + name);
    }
    if (rc != 0 && errno == EOPNOTSUPP) {
      return fail("the file system holding " + store.string() +
                  " cannot preallocate thick volume " + name + "; create it thin");
    }
    if (rc != 0) return fail("cannot allocate " + file.string() + ": " + errno_text(errno));
  }
  if (::fsync(fd.get()) != 0)
    return fail("cannot sync " + file.string() + ": " + errno_text(errno));
  return {};
}

Result<void> reject_existing(const fs::path& dir, const std::string& name, const fs::path& store) {
  struct stat st {};
  if (::lstat(dir.c_str(), &st) == 0)
    return fail("volume " + name + " already exists in " + store.string());
  if (errno != ENOENT) return fail("cannot check " + dir.string() + ": " + errno_text(errno));
  return {};
}

// What is on disk for volume `name` in `dir`, and its loop device among `bindings`.
Result<StorageVolume> describe_volume(const fs::path& dir, const std::string& name,
                                      const std::vector<LoopBinding>& bindings) {
  const fs::path file = dir / "data.img";
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    int err = errno;
    struct stat dir_st {};
    if (::stat(dir.c_str(), &dir_st) != 0 || !S_ISDIR(dir_st.st_mode))
      return fail("volume " + name + " does not exist");
    if (err == ENOENT)
      return fail("volume " + name + " is damaged: " + file.string() + " is missing");
    return fail("cannot stat " + file.string() + ": " + errno_text(err));
  }
  if (!S_ISREG(st.st_mode))
    return fail("volume " + name + " is damaged: " + file.string() + " is not a regular file");
  StorageVolume volume;
  volume.name = name;
  volume.size_bytes = static_cast<std::uint64_t>(st.st_size);
  volume.allocated_bytes = static_cast<std::uint64_t>(st.st_blocks) * 512;
  volume.location = dir;
  auto devices = devices_backed_by(bindings, file);
  if (!devices.empty()) volume.device = devices.front();
  return volume;
}

}  // namespace

LocalStorageDriver::LocalStorageDriver(fs::path store_dir) {
  std::error_code ec;
  store_ = fs::absolute(store_dir, ec).lexically_normal();
  if (ec) store_ = std::move(store_dir);
}

Result<StorageVolume> LocalStorageDriver::create(const VolumeSpec& spec) {
  MAYA_TRY(valid, validate_volume_name(spec.name));
  const std::string& name = spec.name;
  if (spec.size_bytes == 0) return fail("volume " + name + " needs a size greater than 0 bytes");
  if (spec.size_bytes > UINT64_MAX - kSectorSize)
    return fail("volume " + name + " is too large: " + std::to_string(spec.size_bytes) + " bytes");
  const std::uint64_t size = (spec.size_bytes + kSectorSize - 1) / kSectorSize * kSectorSize;

  MAYA_TRY(store_made, make_dirs(store_, 0755));
  const fs::path dir = volume_dir(name);
  MAYA_TRY(free_name, reject_existing(dir, name, store_));

  // Build the volume in a hidden directory and rename it into place once complete.
  MAYA_TRY(staging, make_hidden_dir(store_, "create", name));
  DirGuard cleanup(*staging);
  MAYA_TRY(data, make_data_file(*staging / "data.img", size, spec.thin, name, store_));
  nlohmann::json meta = {{"name", name},
                         {"size_bytes", size},
                         {"thin", spec.thin},
                         {"created", utc_now()},
                         {"format_version", 1}};
  MAYA_TRY(meta_written, write_file_atomic(*staging / "volume.json", meta.dump(2) + "\n", 0600));

  if (::renameat2(AT_FDCWD, staging->c_str(), AT_FDCWD, dir.c_str(), RENAME_NOREPLACE) != 0) {
    int err = errno;
    if (err == EINVAL) {  // the file system has no RENAME_NOREPLACE
      MAYA_TRY(still_free, reject_existing(dir, name, store_));
      if (::rename(staging->c_str(), dir.c_str()) != 0)
        err = errno;
      else
        err = 0;
    }
    if (err == EEXIST || err == ENOTEMPTY)
      return fail("volume " + name + " already exists in " + store_.string());
    if (err != 0) return fail("cannot create " + dir.string() + ": " + errno_text(err));
  }
  cleanup.keep();
  MAYA_TRY(synced, sync_dir(store_));
  log::info("created volume " + name + " (" + std::to_string(size) + " bytes, " +
            (spec.thin ? "thin" : "thick") + ") in " + dir.string());
  return inspect(name);
}

Result<void> LocalStorageDriver::remove(const std::string& name) {
  MAYA_TRY(valid, validate_volume_name(name));
  const fs::path dir = volume_dir(name);
  MAYA_TRY(lock, lock_volume(dir, name));
  MAYA_TRY(bindings, bound_loop_devices());
  auto devices = devices_backed_by(*bindings, data_file(name));
  if (!devices.empty()) {
    return fail("volume " + name + " is attached as " + devices.front().string() +
                "; detach it before deleting it");
  }
  // Rename away first: the volume vanishes at once, even if removing its files fails midway.
  MAYA_TRY(trash, make_hidden_dir(store_, "delete", name));
  if (::rename(dir.c_str(), trash->c_str()) != 0) {
    int err = errno;
    std::error_code ignored;
    fs::remove(*trash, ignored);
    return fail("cannot delete volume " + name + ": renaming " + dir.string() +
                " failed: " + errno_text(err));
  }
  MAYA_TRY(synced, sync_dir(store_));
  std::error_code ec;
  fs::remove_all(*trash, ec);
  if (ec)
    log::warn("volume " + name + " is deleted but " + trash->string() +
              " could not be removed: " + ec.message());
  log::info("deleted volume " + name);
  return {};
}

Result<StorageVolume> LocalStorageDriver::inspect(const std::string& name) {
  MAYA_TRY(valid, validate_volume_name(name));
  MAYA_TRY(bindings, bound_loop_devices());
  return describe_volume(volume_dir(name), name, *bindings);
}

Result<std::vector<StorageVolume>> LocalStorageDriver::list() {
  std::vector<StorageVolume> volumes;
  std::error_code ec;
  fs::directory_iterator it(store_, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return volumes;
    return fail("cannot list the volumes in " + store_.string() + ": " + ec.message());
  }
  MAYA_TRY(bindings, bound_loop_devices());
  for (const auto& entry : it) {
    const std::string name = entry.path().filename().string();
    if (!validate_volume_name(name) || !entry.is_directory(ec)) continue;  // temp dirs, strays
    auto volume = describe_volume(entry.path(), name, *bindings);
    if (volume) {
      volumes.push_back(std::move(*volume));
    } else {
      log::warn("skipping " + entry.path().string() + ": " + volume.error().message);
    }
  }
  std::sort(volumes.begin(), volumes.end(),
            [](const StorageVolume& a, const StorageVolume& b) { return a.name < b.name; });
  return volumes;
}

Result<fs::path> LocalStorageDriver::attach(const std::string& name) {
  MAYA_TRY(valid, validate_volume_name(name));
  MAYA_TRY(lock, lock_volume(volume_dir(name), name));
  const fs::path file = data_file(name);
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    return fail("volume " + name + " is damaged: " + file.string() + " is missing");
  MAYA_TRY(bindings, bound_loop_devices());
  auto devices = devices_backed_by(*bindings, file);
  if (!devices.empty()) return devices.front();
  auto device = bind_loop_device(file);
  if (!device) return fail("cannot attach volume " + name, device.error());
  log::info("attached volume " + name + " as " + device->string());
  return device;
}

Result<void> LocalStorageDriver::detach(const std::string& name) {
  MAYA_TRY(valid, validate_volume_name(name));
  MAYA_TRY(lock, lock_volume(volume_dir(name), name));
  MAYA_TRY(bindings, bound_loop_devices());
  for (const auto& device : devices_backed_by(*bindings, data_file(name))) {
    auto unbound = unbind_loop_device(device);
    if (!unbound) return fail("cannot detach volume " + name, unbound.error());
    log::info("detached volume " + name + " from " + device.string());
  }
  return {};
}

}  // namespace maya::drivers::local
