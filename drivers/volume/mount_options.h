// Mount options known per file system, so that a bad one is refused when the volume is
// created, not at every mount ("wrong fs type, bad option").
#pragma once

#include <string>

#include "lib/common/result.h"

namespace maya::drivers {

// Checks comma-separated `options` for `fstype` (ext4, xfs): every option must be a generic
// VFS option (mount(8)) or one of that file system's (ext4(5), xfs(5)); options with values
// must have one, and enumerated values must be known. The error names the bad option.
Result<void> check_mount_options(const std::string& fstype, const std::string& options);

}  // namespace maya::drivers
