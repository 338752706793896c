// StorageDriver: where a volume's blocks live and how they become a block device on this host.
// Implementations live in drivers/storage/<name>/, one namespace each, and all pass the shared
// conformance suite in tests/conformance/.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "drivers/volume_spec.h"
#include "lib/common/result.h"

namespace maya::drivers {

struct StorageVolume {
  std::string name;
  std::uint64_t size_bytes = 0;
  std::uint64_t allocated_bytes = 0;            // space really used (thin volumes)
  std::filesystem::path location;               // where the data lives (<store>/<name>/)
  std::optional<std::filesystem::path> device;  // set while attached ("/dev/loop3")
};

class StorageDriver {
 public:
  virtual ~StorageDriver() = default;
  virtual std::string_view name() const = 0;
  // How many copies of a volume the driver can keep (the spec's `replicas` is checked against it).
  virtual unsigned max_replicas() const { return 1; }

  // Creates the volume's storage; an existing volume of that name is an error.
  virtual Result<StorageVolume> create(const VolumeSpec& spec) = 0;
  // Deletes the storage; refuses while attached. Deleting a missing volume is an error.
  virtual Result<void> remove(const std::string& name) = 0;
  virtual Result<StorageVolume> inspect(const std::string& name) = 0;
  virtual Result<std::vector<StorageVolume>> list() = 0;
  // Makes the volume a block device; attaching an attached volume returns the same device.
  virtual Result<std::filesystem::path> attach(const std::string& name) = 0;
  // Releases the block device; detaching a detached volume succeeds.
  virtual Result<void> detach(const std::string& name) = 0;
};

}  // namespace maya::drivers
