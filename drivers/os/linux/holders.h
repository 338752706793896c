// Who holds a block device: processes in other mount namespaces that still have it mounted
// (a container's copy of a volume's mount), mounts of it elsewhere in ours, and processes with
// it, or a file on it, open (or as their cwd or root). Read from /proc, as fuser and lsof do.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "lib/common/result.h"

namespace maya::drivers::linux_os {

// One line each, e.g. `process sleep (pid 4242, container 3f2a…) has it mounted in another
// mount namespace`; `expected_mount` (ours, in our namespace) is not counted.
Result<std::vector<std::string>> device_holders(const std::filesystem::path& device,
                                                const std::filesystem::path& expected_mount);

}  // namespace maya::drivers::linux_os
