// libmount wrappers for the linux OS driver: read the mount table (lib/mounts, as the driver's
// MountEntry), mount a device, unmount a target. Every failure is one sentence built from
// libmount's own explanation.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "drivers/os_driver.h"
#include "lib/common/result.h"

namespace maya::drivers::linux_os {

// The mounts of our mount namespace, in mount order, from /proc/self/mountinfo (or `path`).
Result<std::vector<MountEntry>> read_mount_table(
    const std::filesystem::path& path = "/proc/self/mountinfo");

// mount(8) without fstab, mtab updates or /sbin/mount.* helpers. An empty fstype lets libmount
// detect it; `options` is a comma-separated list ("noatime,discard").
Result<void> libmount_mount(const std::filesystem::path& device,
                            const std::filesystem::path& target, const std::string& fstype,
                            const std::string& options);

// umount(8) of the topmost mount on `target`.
Result<void> libmount_umount(const std::filesystem::path& target);

}  // namespace maya::drivers::linux_os
