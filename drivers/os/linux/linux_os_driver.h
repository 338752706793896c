// OS driver "linux": probes with libblkid, formats with mkfs.<fstype> (exec'd with an argv,
// only on a blank device), mounts and unmounts with libmount, reads /proc/self/mountinfo.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "drivers/os/linux/iscsi_initiator.h"
#include "drivers/os_driver.h"

namespace maya::drivers::linux_os {

class LinuxOsDriver final : public OsDriver, public IscsiInitiator {
 public:
  // `mkfs_timeout` bounds each mkfs run; it is killed when the time is up.
  explicit LinuxOsDriver(std::chrono::seconds mkfs_timeout = std::chrono::seconds(120));

  std::string_view name() const override { return "linux"; }

  Result<std::vector<MountEntry>> mounts() override;
  Result<std::optional<MountEntry>> mounted_at(const std::filesystem::path& target) override;
  Result<std::optional<std::string>> probe(const std::filesystem::path& device) override;
  // ext4 or xfs. Probes again first and refuses anything that is not blank.
  Result<void> format(const std::filesystem::path& device, const std::string& fstype) override;
  // Creates `target` if missing. Mounting the same device on the same target again succeeds
  // (its options are not compared); mounting over anything else mounted there is refused.
  Result<void> mount(const std::filesystem::path& device, const std::filesystem::path& target,
                     const std::string& fstype, const std::string& options) override;
  Result<void> unmount(const std::filesystem::path& target) override;
  Result<void> unmount_lazily(const std::filesystem::path& target) override;
  Result<void> freeze(const std::filesystem::path& target, bool frozen) override;
  // resize2fs (ext4) or xfs_growfs (xfs), online; an empty `target` grows an unmounted ext4
  // (e2fsck -f -p first, as resize2fs requires). Bounded only against a hang (hours).
  Result<void> grow_filesystem(const std::filesystem::path& device,
                               const std::filesystem::path& target,
                               const std::string& fstype) override;
  Result<std::vector<std::string>> holders(const std::filesystem::path& device,
                                           const std::filesystem::path& mountpoint) override;

  // The file system types format() accepts.
  static std::vector<std::string> supported_fstypes();

 private:
  std::chrono::seconds mkfs_timeout_;
};

}  // namespace maya::drivers::linux_os
