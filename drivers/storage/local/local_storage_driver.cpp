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

#include "drivers/storage/common/loop_device.h"
#include "drivers/storage/common/volume_dir.h"
#include "lib/common/errno_text.h"
#include "lib/common/fd.h"
#include "lib/common/files.h"
#include "lib/common/json_file.h"
#include "lib/common/log.h"
#include "lib/common/names.h"
#include "lib/common/time_format.h"

namespace maya::drivers::local {
namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t kSectorSize = 512;
using namespace storage;

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
    return fail_errno("cannot stat " + file.string(), err);
  }
  if (!S_ISREG(st.st_mode))
    return fail("volume " + name + " is damaged: " + file.string() + " is not a regular file");
  StorageVolume volume;
  volume.name = name;
  volume.size_bytes = static_cast<std::uint64_t>(st.st_size);
  volume.allocated_bytes = static_cast<std::uint64_t>(st.st_blocks) * 512;
  volume.location = dir;
  auto devices = devices_backed_by(bindings, file);
  if (!devices.empty()) {
    volume.device = devices.front();
    volume.attach = "loop";
  }
  return volume;
}

}  // namespace

LocalStorageDriver::LocalStorageDriver(fs::path store_dir) {
  std::error_code ec;
  store_ = fs::absolute(store_dir, ec).lexically_normal();
  if (ec) store_ = std::move(store_dir);
}

Result<StorageVolume> LocalStorageDriver::create(const VolumeSpec& spec) {
  MAYA_TRY_VOID(validate_volume_name(spec.name));
  const std::string& name = spec.name;
  if (spec.size_bytes == 0) return fail("volume " + name + " needs a size greater than 0 bytes");
  if (spec.size_bytes > UINT64_MAX - kSectorSize)
    return fail("volume " + name + " is too large: " + std::to_string(spec.size_bytes) + " bytes");
  const std::uint64_t size = (spec.size_bytes + kSectorSize - 1) / kSectorSize * kSectorSize;
  if (!spec.pools.empty())
    return fail("volume " + name + ": the local driver keeps its one file in the store; pools " +
                "hold the replicas of jiva volumes (--driver jiva)");

  MAYA_TRY_VOID(make_dirs(store_, 0755));
  const fs::path dir = volume_dir(name);
  MAYA_TRY_VOID(reject_existing(dir, name, store_));

  // Build the volume in a hidden directory and rename it into place once complete.
  MAYA_TRY(staging, make_staging_dir(store_, name));
  DirGuard cleanup(*staging);
  MAYA_TRY(data, make_data_file(*staging / "data.img", size, spec.thin, name, store_));
  nlohmann::json meta = {{"name", name},
                         {"size_bytes", size},
                         {"thin", spec.thin},
                         {"created", iso8601()},
                         {"format_version", 1}};
  MAYA_TRY_VOID(write_file_atomic(*staging / "volume.json", meta.dump(2) + "\n", 0600));
  MAYA_TRY_VOID(publish(*staging, dir, name, store_));
  cleanup.keep();
  log::info("created local volume " + name + " (" + std::to_string(size) + " bytes, " +
            (spec.thin ? "thin" : "thick") + ") in " + dir.string());
  return inspect(name);
}

Result<void> LocalStorageDriver::remove(const std::string& name) {
  MAYA_TRY_VOID(validate_volume_name(name));
  const fs::path dir = volume_dir(name);
  MAYA_TRY(lock, lock_volume(dir, name));
  MAYA_TRY(bindings, bound_loop_devices());
  auto devices = devices_backed_by(*bindings, data_file(name));
  if (!devices.empty()) {
    return fail("volume " + name + " is attached as " + devices.front().string() +
                "; detach it before deleting it");
  }
  // Renamed away first: the volume vanishes at once, even if removing its files fails midway.
  MAYA_TRY_VOID(discard(dir, name, store_));
  log::info("deleted local volume " + name);
  return {};
}

Result<StorageVolume> LocalStorageDriver::inspect(const std::string& name) {
  MAYA_TRY_VOID(validate_volume_name(name));
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
  MAYA_TRY_VOID(validate_volume_name(name));
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
  log::info("attached local volume " + name + " as " + device->string());
  return device;
}

Result<void> LocalStorageDriver::detach(const std::string& name) {
  MAYA_TRY_VOID(validate_volume_name(name));
  MAYA_TRY(lock, lock_volume(volume_dir(name), name));
  MAYA_TRY(bindings, bound_loop_devices());
  for (const auto& device : devices_backed_by(*bindings, data_file(name))) {
    auto unbound = unbind_loop_device(device);
    if (!unbound) return fail("cannot detach volume " + name, unbound.error());
    log::info("detached local volume " + name + " from " + device.string());
  }
  return {};
}

Result<std::uint64_t> LocalStorageDriver::grow(const std::string& name, std::uint64_t size_bytes) {
  MAYA_TRY_VOID(validate_volume_name(name));
  if (size_bytes > UINT64_MAX - kSectorSize)
    return fail("volume " + name + " cannot be " + std::to_string(size_bytes) + " bytes");
  const std::uint64_t size = (size_bytes + kSectorSize - 1) / kSectorSize * kSectorSize;
  const fs::path dir = volume_dir(name);
  MAYA_TRY(lock, lock_volume(dir, name));
  MAYA_TRY(bindings, bound_loop_devices());
  MAYA_TRY(volume, describe_volume(dir, name, *bindings));
  if (size < volume->size_bytes)
    return fail("volume " + name + " is " + std::to_string(volume->size_bytes) +
                " bytes; it cannot shrink to " + std::to_string(size));
  if (size == volume->size_bytes) {
    // Nothing to grow; a device that did not follow (a crash before LOOP_SET_CAPACITY) does now.
    if (volume->device) {
      MAYA_TRY(bytes, refresh_loop_capacity(*volume->device));
    }
    return size;
  }

  // volume.json says whether the new range is allocated too; data.img's size is the volume's.
  auto meta = read_json_file(JsonFile{dir / "volume.json", "volume description"});
  auto thin_key = meta ? meta->find("thin") : nlohmann::json::iterator{};
  const bool thin =
      !meta || thin_key == meta->end() || !thin_key->is_boolean() || thin_key->get<bool>();
  MAYA_TRY_VOID(grow_data_file(data_file(name), size, thin, name, store_));
  if (meta) {
    (*meta)["size_bytes"] = size;
    if (auto saved = write_file_atomic(dir / "volume.json", meta->dump(2) + "\n", 0600); !saved)
      log::warn("volume " + name + ": " + saved.error().message);
  }
  if (volume->device) {
    MAYA_TRY(bytes, refresh_loop_capacity(*volume->device));
    if (*bytes != size)
      return fail(volume->device->string() + " is " + std::to_string(*bytes) +
                  " bytes after growing volume " + name + " to " + std::to_string(size));
  }
  log::info("grew local volume " + name + " from " + std::to_string(volume->size_bytes) + " to " +
            std::to_string(size) + " bytes");
  return size;
}

Result<void> LocalStorageDriver::release_when_closed(const std::string& name) {
  MAYA_TRY_VOID(validate_volume_name(name));
  MAYA_TRY(lock, lock_volume(volume_dir(name), name));
  MAYA_TRY(bindings, bound_loop_devices());
  for (const auto& device : devices_backed_by(*bindings, data_file(name))) {
    auto released = unbind_loop_device_when_closed(device);
    if (!released) return fail("cannot release volume " + name, released.error());
    log::info("local volume " + name + ": " + device.string() +
              (*released ? " released" : " is released when its last holder closes it"));
  }
  return {};
}

}  // namespace maya::drivers::local
