// libblkid probing for the linux OS driver: what signature, if any, a block device holds.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "lib/common/result.h"

namespace maya::drivers::linux_os {

// The file system, RAID/LVM/swap signature (TYPE) or partition table (PTTYPE) on `device`, or
// nullopt when blkid finds nothing at all. Superblocks with bad checksums count as signatures;
// a device holding several conflicting signatures is an error, never "blank".
Result<std::optional<std::string>> probe_signature(const std::filesystem::path& device);

}  // namespace maya::drivers::linux_os
