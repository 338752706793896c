// Storage driver "local": each volume is a sparse file <store>/<name>/data.img of the volume's
// capacity, made a block device by binding it to a loop device.
//
// On disk, <store>/<name>/ holds data.img and volume.json (name, size, thin, created; written
// atomically). A volume appears by renaming a finished temp dir (".create-*") into place and
// disappears by renaming it away (".delete-*") before removal, so a crash never leaves a
// half-made volume under a valid name. Attach and detach take an flock on the volume directory,
// so concurrent callers (threads or processes) agree on one loop device. Loop bindings live in
// the kernel: they outlive this process and are found again through sysfs.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "drivers/storage_driver.h"

namespace maya::drivers::local {

class LocalStorageDriver final : public StorageDriver, public VolumeGrower {
 public:
  explicit LocalStorageDriver(std::filesystem::path store_dir);

  std::string_view name() const override { return "local"; }

  // The size is rounded up to a multiple of 512 bytes (the loop device's sector size).
  Result<StorageVolume> create(const VolumeSpec& spec) override;
  Result<void> remove(const std::string& name) override;
  Result<StorageVolume> inspect(const std::string& name) override;
  Result<std::vector<StorageVolume>> list() override;
  Result<std::filesystem::path> attach(const std::string& name) override;
  Result<void> detach(const std::string& name) override;
  // Grows data.img (allocated for a thick volume) and the loop device bound to it.
  Result<std::uint64_t> grow(const std::string& name, std::uint64_t size_bytes) override;
  Result<void> release_when_closed(const std::string& name) override;

  const std::filesystem::path& store_dir() const { return store_; }

 private:
  std::filesystem::path volume_dir(const std::string& name) const { return store_ / name; }
  std::filesystem::path data_file(const std::string& name) const {
    return store_ / name / "data.img";
  }

  std::filesystem::path store_;
};

}  // namespace maya::drivers::local
