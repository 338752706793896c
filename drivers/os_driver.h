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
  // Detaches the mount at `target` from the tree now (MNT_DETACH): files open on it stay usable
  // and the file system is unmounted cleanly when the last of them is closed.
  virtual Result<void> unmount_lazily(const std::filesystem::path& target) {
    return fail("cannot unmount " + target.string() + " lazily: not supported by this OS driver");
  }
  // Who keeps `device` from being released, one line each (processes named by comm and pid,
  // their container when they are in one): mounts of it in other mount namespaces (a
  // container's), mounts elsewhere than `mountpoint`, processes that have it or a file on it
  // open. Empty when nothing but our own mount at `mountpoint` holds it.
  virtual Result<std::vector<std::string>> holders(const std::filesystem::path& device,
                                                   const std::filesystem::path& mountpoint) {
    (void)device;
    (void)mountpoint;
    return std::vector<std::string>();
  }
  // Freezes (or thaws) the file system mounted at `target`: writes block and the file system is
  // clean on its device meanwhile (for a consistent snapshot).
  virtual Result<void> freeze(const std::filesystem::path& target, bool frozen) {
    (void)frozen;
    return fail("cannot freeze " + target.string() + ": not supported by this OS driver");
  }
  // Grows the file system of `fstype` on `device`, mounted at `target` (empty: not mounted),
  // to fill the device.
  virtual Result<void> grow_filesystem(const std::filesystem::path& device,
                                       const std::filesystem::path& target,
                                       const std::string& fstype) {
    (void)device;
    (void)fstype;
    return fail("cannot grow the file system at " + target.string() +
                ": not supported by this OS driver");
  }
};

// What it takes to log in to one iSCSI target.
struct IscsiLogin {
  std::string portal;  // "127.0.0.1:3261"
  std::string iqn;
  std::string chap_user, chap_secret;  // empty: no CHAP
};

struct IscsiSession {
  int id = 0;
  std::string portal;  // "127.0.0.1:3261"
  std::string iqn;
};

// Optional capability of OS drivers whose host has a kernel iSCSI initiator (open-iscsi).
class IscsiAttacher {
 public:
  virtual ~IscsiAttacher() = default;
  // Whether the kernel can log in (iscsi_tcp loaded and iscsiadm present); why not otherwise.
  virtual std::optional<std::string> unavailable() = 0;
  // Discovers, logs in with CHAP and waits (bounded) for the LUN 0 block device; returns it.
  virtual Result<std::filesystem::path> login(const IscsiLogin& login) = 0;
  // Logs out and forgets the node record; fine when not logged in.
  virtual Result<void> logout(const std::string& iqn, const std::string& portal) = 0;
  virtual Result<std::vector<IscsiSession>> sessions() = 0;
  // The LUN 0 device of a session to `iqn` at `portal`, if logged in.
  virtual std::optional<std::filesystem::path> device(const std::string& iqn,
                                                      const std::string& portal) = 0;
};

}  // namespace maya::drivers
