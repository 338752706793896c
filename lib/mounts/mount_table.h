// The mount table of a mount namespace (/proc/self/mountinfo, or another process's), read with
// libmount: the one reader of mountinfo in maya. Targets come unescaped ("\040" is a space).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "lib/common/result.h"

namespace maya::mounts {

struct Mount {
  std::string source;  // "/dev/loop3"
  std::filesystem::path target;
  std::string fstype;
  std::string options;
  dev_t devno = 0;  // the mounted device (MAJ:MIN), the st_dev of files on it
};

// The mounts in mount order.
Result<std::vector<Mount>> read_mount_table(
    const std::filesystem::path& path = "/proc/self/mountinfo");

// Where the block device `devno` is mounted first in `path`'s table; nullopt when it is not
// mounted there or the table cannot be read.
std::optional<std::filesystem::path> first_mount_of(
    dev_t devno, const std::filesystem::path& path = "/proc/self/mountinfo");

}  // namespace maya::mounts
