// Loop devices through /dev/loop-control and the loop ioctls (no losetup): find the devices
// bound to a file, bind a free one, unbind one that nothing has mounted.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "lib/common/result.h"

namespace maya::drivers::storage {

// One bound loop device, as /sys/block/loopN/loop/ and LOOP_GET_STATUS64 describe it.
struct LoopBinding {
  std::filesystem::path device;        // "/dev/loop3"
  std::filesystem::path backing_file;  // as the kernel prints it, without " (deleted)"
  bool backing_deleted = false;        // the kernel printed " (deleted)": the file is unlinked
  bool has_inode = false;              // LOOP_GET_STATUS64 answered: backing_dev/ino are set
  dev_t backing_dev = 0;
  ino_t backing_ino = 0;
};

// Every bound loop device on the host (unbound ones have no loop/backing_file in sysfs).
Result<std::vector<LoopBinding>> bound_loop_devices();

// The devices in `bindings` whose backing file is `file`: the same inode (or, when the device
// could not be asked for it, the same canonical path). Devices backed by a deleted file never
// match: that file is not `file` any more, even if a new file now has its name.
std::vector<std::filesystem::path> devices_backed_by(const std::vector<LoopBinding>& bindings,
                                                     const std::filesystem::path& file);

// The devices in `bindings` whose backing file has exactly the path `file`, as the kernel names
// it; never touches `file` itself (for files on FUSE, whose server may be away).
std::vector<std::filesystem::path> devices_backed_by_path(const std::vector<LoopBinding>& bindings,
                                                          const std::filesystem::path& file);

// Binds a free loop device to `file` (read-write, direct I/O when the kernel can) and returns
// it. Retries when another process grabs the device LOOP_CTL_GET_FREE offered.
Result<std::filesystem::path> bind_loop_device(const std::filesystem::path& file);

// Unbinds `device`. Fails, naming the mount point, while the device is mounted or otherwise
// held; a device that is not bound is fine.
Result<void> unbind_loop_device(const std::filesystem::path& device);

// Makes a bound `device` take its backing file's current size (after the file grew); returns
// the device's size in bytes.
Result<std::uint64_t> refresh_loop_capacity(const std::filesystem::path& device);
// Sets `device` to be unbound by the kernel when its last opener closes it (LO_FLAGS_AUTOCLEAR,
// as LOOP_CLR_FD does on a device still open): whoever holds it, a file system mounted on it
// included, keeps reading and writing its backing file until then, so nothing is lost or torn.
// True when it is unbound already (nobody held it); a device that is not bound is fine.
Result<bool> unbind_loop_device_when_closed(const std::filesystem::path& device);

}  // namespace maya::drivers::storage
