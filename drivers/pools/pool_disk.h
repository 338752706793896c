// What `maya pool` asks of a disk: its file system UUID (libblkid), where a UUID is now
// (every block device of the host, probed), whether a disk is free to take (no signature, not
// mounted, not open exclusively by anyone), a fresh UUID and the XFS label of a pool.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "lib/common/result.h"

namespace maya::drivers::pools {

// The UUID of the file system on `device` (lower case), or nullopt when it has none.
Result<std::optional<std::string>> probe_uuid(const std::filesystem::path& device);

// The block device that holds the file system `uuid` now, if any. Probes every block device
// with a non-zero size in /sys/class/block (mounted ones too: the pool may be mounted
// already), except loop devices whose backing file lives on a FUSE mount (a volume's target:
// its server may be away).
std::optional<std::filesystem::path> find_device_by_uuid(const std::string& uuid);

// Refuses a device that is mounted (naming where) or that someone holds open exclusively
// (O_EXCL fails: a mount, a device mapper, md, another mkfs), whatever --force says; and one
// that holds any signature (libblkid) unless `force`.
Result<void> check_disk_free(const std::filesystem::path& device, bool force);

// A random version-4 UUID from the kernel ("3f1c…-…").
Result<std::string> fresh_uuid();

// The XFS label of pool `name`: XFS labels hold at most 12 characters, so a name that long or
// shorter is its own label and a longer one is its first 11 characters and "~". Labels are for
// people (`blkid`, `lsblk`); maya finds a pool by its UUID alone.
std::string xfs_label(const std::string& name);

}  // namespace maya::drivers::pools
