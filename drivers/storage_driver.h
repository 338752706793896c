// StorageDriver: where a volume's blocks live and how they become a block device on this host.
// Implementations live in drivers/storage/<name>/, one namespace each, and all pass the shared
// conformance suite in tests/conformance/.
#pragma once

#include <sys/types.h>

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

// How a volume is served over iSCSI (drivers whose volumes are targets, such as jiva).
struct IscsiExport {
  std::string iqn;
  std::string portal;        // "ADDR:PORT" on which the volume's target answers
  pid_t target_pid = 0;      // 0 unless its target runs
  std::string target_state;  // running | starting | restarting | stopped
  unsigned target_restarts = 0;
  std::string last_event;              // the last thing that happened to the target, with its time
  std::string chap_user, chap_secret;  // empty when the volume has no CHAP
};

struct StorageVolume {
  std::string name;
  std::uint64_t size_bytes = 0;
  std::uint64_t allocated_bytes = 0;            // space really used (thin volumes)
  std::filesystem::path location;               // where the data lives (<store>/<name>/)
  std::optional<std::filesystem::path> device;  // set while attached ("/dev/loop3")
  std::optional<IscsiExport> iscsi;             // set when the volume is an iSCSI target
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

// Optional capability of drivers whose volumes are served by target processes: the daemon
// adopts or starts them when it starts, lists them on the discovery portal, and stops them
// only when asked to (they outlive the daemon so that its restarts never interrupt I/O).
class TargetHost {
 public:
  struct Target {
    std::string iqn;
    std::uint16_t port = 0;
  };
  virtual ~TargetHost() = default;
  // Adopts the running target of every volume and starts the others; one note per event.
  virtual std::vector<std::string> start_targets() = 0;
  // Stops every target; refuses (stopping none) while a volume is attached to this host.
  virtual Result<void> stop_targets() = 0;
  virtual std::vector<Target> iscsi_targets() = 0;
};

}  // namespace maya::drivers
