// OSDriver: what the host OS does with a block device: probe, format, mount, unmount.
// Never runs a shell: external tools (mkfs) are exec'd with an argv.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/common/result.h"

namespace maya::drivers {

struct MountEntry {
  std::string source;  // "/dev/loop3"
  std::filesystem::path target;
  std::string fstype;
  std::string options;
};

class OsDriver {
 public:
  virtual ~OsDriver() = default;
  virtual std::string_view name() const = 0;

  virtual Result<std::vector<MountEntry>> mounts() = 0;
  // The mount whose target is exactly `target`, if any.
  virtual Result<std::optional<MountEntry>> mounted_at(const std::filesystem::path& target) = 0;
  // The signature on a device ("ext4", "xfs", "LVM2_member", …), or nullopt when it is blank.
  virtual Result<std::optional<std::string>> probe(const std::filesystem::path& device) = 0;
  // Makes a file system; refuses a device that holds any signature.
  virtual Result<void> format(const std::filesystem::path& device, const std::string& fstype) = 0;
  virtual Result<void> mount(const std::filesystem::path& device,
                             const std::filesystem::path& target, const std::string& fstype,
                             const std::string& options) = 0;
  // Unmounting a target that is not mounted succeeds.
  virtual Result<void> unmount(const std::filesystem::path& target) = 0;
};

}  // namespace maya::drivers
