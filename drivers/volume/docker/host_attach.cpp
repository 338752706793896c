// `maya volume attach` / `detach`: a volume as a block device on this host, for a user who
// wants the device itself (dd, a file system of their own, a VM's disk), not a mount.
#include "drivers/volume/docker/docker_volume_driver.h"
#include "lib/common/log.h"
#include "lib/common/names.h"

namespace maya::drivers::docker {

namespace fs = std::filesystem;

Result<fs::path> DockerVolumeDriver::attach(const std::string& name) {
  MAYA_TRY_VOID(validate_volume_name(name));
  auto lock = lock_for(name);
  std::lock_guard guard(*lock);
  MAYA_TRY(record, records_.load(name));
  if (record->references() > 0)
    return fail("volume " + name + " is mounted for containers (" +
                std::to_string(record->references()) +
                " reference(s)); its device is in use by that file system");
  MAYA_TRY(storage, storage_for(record->spec));
  if (record->host_attached) {
    if (auto stored = (*storage)->inspect(name); stored && stored->device) return *stored->device;
  }
  MAYA_TRY(device, (*storage)->attach(name));
  // The device exists before the record says so: a crash in between leaves a device nobody
  // references, which reconcile releases. Never the reverse.
  record->host_attached = true;
  record->boot_id = boot_id_;
  if (auto saved = records_.save(*record); !saved) {
    if (auto detached = (*storage)->detach(name); !detached)
      log::warn("volume " + name + ": " + detached.error().message);
    return std::unexpected(saved.error());
  }
  // The storage driver logged the attach; each event is logged once.
  log::debug("volume " + name + " attached to this host as " + device->string());
  return *device;
}

Result<void> DockerVolumeDriver::detach(const std::string& name) {
  MAYA_TRY_VOID(validate_volume_name(name));
  auto lock = lock_for(name);
  std::lock_guard guard(*lock);
  MAYA_TRY(record, records_.load(name));
  if (!record->host_attached) return {};
  MAYA_TRY(storage, storage_for(record->spec));
  MAYA_TRY_VOID(refuse_if_held(**storage, name, "stop them, then detach it again"));
  MAYA_TRY(detached, (*storage)->detach(name));
  record->host_attached = false;
  MAYA_TRY(saved, records_.save(*record));
  log::debug("volume " + name + " detached from this host");
  return {};
}

Result<std::vector<std::string>> DockerVolumeDriver::detach_when_released(const std::string& name) {
  MAYA_TRY_VOID(validate_volume_name(name));
  auto lock = lock_for(name);
  std::lock_guard guard(*lock);
  MAYA_TRY(record, records_.load(name));
  if (!record->host_attached) return std::vector<std::string>();
  MAYA_TRY(storage, storage_for(record->spec));
  std::vector<std::string> held;
  std::optional<fs::path> device;
  if (auto stored = (*storage)->inspect(name); stored && stored->device) {
    device = stored->device;
    MAYA_TRY(holders, os_->holders(*device, mountpoint(name)));
    held = std::move(*holders);
  }
  if (!held.empty()) {
    std::string who;
    for (const std::string& h : held) who += (who.empty() ? "" : "; ") + h;
    // Refusals first: nothing is unmounted for a device that cannot be released anyway.
    if (auto released = (*storage)->release_when_closed(name); !released)
      return fail("volume " + name + " (" + device->string() + ") is held: " + who + ". " +
                  released.error().message +
                  ". Nothing was changed; stop them, then detach it "
                  "again");
    MAYA_TRY(mounts, os_->mounts());
    for (const MountEntry& m : *mounts) {
      if (m.source != device->string()) continue;
      if (auto gone = os_->unmount_lazily(m.target); !gone)
        log::warn("volume " + name + ": " + gone.error().message);
    }
    if (auto still = (*storage)->inspect(name); !still || still->device) {
      log::warn("volume " + name + " detached by force: " + device->string() +
                " stays with its holders until they close it, then the kernel releases it (" + who +
                ")");
      return held;
    }
  }
  MAYA_TRY(detached, (*storage)->detach(name));
  record->host_attached = false;
  MAYA_TRY(saved, records_.save(*record));
  log::info("volume " + name + " detached from this host" + (held.empty() ? "" : " by force"));
  return std::vector<std::string>();
}

std::string DockerVolumeDriver::reconcile_host_attach(VolumeRecord& record) {
  const std::string& name = record.spec.name;
  if (record.boot_id != boot_id_) {
    record.host_attached = false;
    record.boot_id = boot_id_;
    auto saved = records_.save(record);
    return saved ? "volume " + name + ": dropped its attachment from an earlier boot"
                 : saved.error().message;
  }
  auto storage = storage_for(record.spec);
  if (!storage) return "volume " + name + ": " + storage.error().message;
  if (auto stored = (*storage)->inspect(name); stored && stored->device)
    return "volume " + name + ": attached to this host as " + stored->device->string();
  auto device = (*storage)->attach(name);
  return device ? "volume " + name + ": attached to this host again as " + device->string()
                : "volume " + name + ": cannot attach it again: " + device.error().message;
}

}  // namespace maya::drivers::docker
