// `maya volume resize` and EBS ModifyVolume: a volume grows online. The storage driver grows
// every replica and the attached device (VolumeGrower), the record takes the new size, then a
// mounted file system grows to fill the device. A crash before the record is saved leaves a
// volume that a second resize to the same size completes; a file system that cannot grow while
// mounted (ext4 without CAP_SYS_RESOURCE) grows before its next mount.
#include "drivers/volume/docker/docker_volume_driver.h"
#include "lib/common/log.h"
#include "lib/common/names.h"
#include "lib/common/size.h"

namespace maya::drivers::docker {

Result<ResizeInfo> DockerVolumeDriver::resize(const std::string& name, std::uint64_t size_bytes) {
  MAYA_TRY_VOID(validate_volume_name(name));
  auto lock = lock_for(name);
  std::lock_guard guard(*lock);  // no Mount, Unmount, attach or detach meanwhile
  MAYA_TRY(record, records_.load(name));
  MAYA_TRY(storage, storage_for(record->spec));
  auto* grower = dynamic_cast<VolumeGrower*>(*storage);
  if (grower == nullptr)
    return fail("volume " + name + " uses the " + std::string((*storage)->name()) +
                " driver, which cannot grow volumes");
  if (size_bytes > kMaxVolumeBytes)
    return fail("volume " + name + " cannot grow to " + std::to_string(size_bytes) +
                " bytes: the largest volume is " + format_size(kMaxVolumeBytes));
  ResizeInfo info;
  info.previous_bytes = record->spec.size_bytes;
  if (size_bytes < record->spec.size_bytes)
    return fail("volume " + name + " is " + std::to_string(record->spec.size_bytes) +
                " bytes; it cannot shrink to " + std::to_string(size_bytes) +
                " (shrinking would cut off the end of its file system)");
  MAYA_TRY(grown, grower->grow(name, size_bytes));
  info.size_bytes = *grown;

  // The record holds the new size before the file system grows: a resize2fs that fails leaves
  // a volume that knows its size, and a file system grown at its next mount (as is one that
  // was not mounted: Docker's next Mount finds it filling the volume).
  if (record->spec.size_bytes != info.size_bytes) {
    record->spec.size_bytes = info.size_bytes;
    record->grow_filesystem = true;  // now if mounted, else at the next mount
    MAYA_TRY_VOID(records_.save(*record));
  }
  const std::filesystem::path target = mountpoint(name);
  MAYA_TRY(mounted, os_->mounted_at(target));
  const bool grow_fs = *mounted && record->references() > 0 && record->grow_filesystem;
  if (info.size_bytes != info.previous_bytes)
    log::info("volume " + name + " grew from " + std::to_string(info.previous_bytes) + " to " +
              std::to_string(info.size_bytes) + " bytes");
  if (grow_fs) {
    // A mounted file system grows with its device; other users of a device grow their own.
    const std::string fstype = (*mounted)->fstype;
    if (auto grown = os_->grow_filesystem((*mounted)->source, target, fstype); grown) {
      info.filesystem = fstype + " at " + target.string();
      record->grow_filesystem = false;
      MAYA_TRY_VOID(records_.save(*record));
    } else {
      info.filesystem_deferred =
          grown.error().message + "; it grows when the volume is next mounted";
      log::warn("volume " + name + ": " + info.filesystem_deferred);
    }
  }
  return info;
}

}  // namespace maya::drivers::docker
