#include "drivers/os/linux/linux_os_driver.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "drivers/os/linux/block_probe.h"
#include "drivers/os/linux/holders.h"
#include "drivers/os/linux/mount_table.h"
#include "lib/common/errno_text.h"
#include "lib/common/fd.h"
#include "lib/common/files.h"
#include "lib/common/log.h"
#include "lib/process/exec.h"

namespace maya::drivers::linux_os {
namespace {

namespace fs = std::filesystem;

// How to make each file system. Discard is off: the devices we format are blank already, and
// discarding a thick (preallocated) loop volume would punch holes in it.
struct MkfsTool {
  std::string_view fstype;
  std::vector<std::string> argv;  // the device is appended
};

const std::vector<MkfsTool>& mkfs_tools() {
  static const std::vector<MkfsTool> tools = {
      // -F: mke2fs would otherwise question a whole-disk device; it is verified blank.
      {"ext4", {"mkfs.ext4", "-q", "-F", "-E", "nodiscard"}},
      // No -f: mkfs.xfs then refuses existing signatures itself, too.
      {"xfs", {"mkfs.xfs", "-q", "-K"}},
  };
  return tools;
}

Result<void> require_block_device(const fs::path& device, const std::string& action) {
  struct stat st {};
  if (::stat(device.c_str(), &st) != 0) {
    if (errno == ENOENT)
      return fail("cannot " + action + " " + device.string() + ": it does not exist");
    return fail_errno("cannot " + action + " " + device.string());
  }
  if (!S_ISBLK(st.st_mode))
    return fail("cannot " + action + " " + device.string() + ": it is not a block device");
  return {};
}

// The path as the mount table spells it: absolute, symlinks resolved.
fs::path table_path(const fs::path& path) {
  std::error_code ec;
  fs::path canonical = fs::weakly_canonical(fs::absolute(path, ec), ec);
  return ec ? path.lexically_normal() : canonical;
}

// Whether `source` from the mount table is the block device `device`.
bool same_device(const std::string& source, const fs::path& device) {
  struct stat a {};
  struct stat b {};
  if (::stat(source.c_str(), &a) != 0 || ::stat(device.c_str(), &b) != 0) return false;
  return S_ISBLK(a.st_mode) && S_ISBLK(b.st_mode) && a.st_rdev == b.st_rdev;
}

}  // namespace

LinuxOsDriver::LinuxOsDriver(std::chrono::seconds mkfs_timeout) : mkfs_timeout_(mkfs_timeout) {}

std::vector<std::string> LinuxOsDriver::supported_fstypes() {
  std::vector<std::string> types;
  for (const auto& tool : mkfs_tools()) types.emplace_back(tool.fstype);
  return types;
}

Result<std::vector<MountEntry>> LinuxOsDriver::mounts() {
  return read_mount_table();
}

Result<std::optional<MountEntry>> LinuxOsDriver::mounted_at(const fs::path& target) {
  const fs::path wanted = table_path(target);
  MAYA_TRY(entries, read_mount_table());
  std::optional<MountEntry> found;  // the last one wins: it is the topmost mount
  for (auto& entry : *entries) {
    if (entry.target == wanted) found = std::move(entry);
  }
  return found;
}

Result<std::optional<std::string>> LinuxOsDriver::probe(const fs::path& device) {
  return probe_signature(device);
}

Result<void> LinuxOsDriver::format(const fs::path& device, const std::string& fstype) {
  const MkfsTool* tool = nullptr;
  for (const auto& candidate : mkfs_tools()) {
    if (candidate.fstype == fstype) tool = &candidate;
  }
  if (tool == nullptr) {
    std::string known;
    for (const auto& type : supported_fstypes()) known += (known.empty() ? "" : ", ") + type;
    return fail("cannot format " + device.string() + " as \"" + fstype +
                "\": the file system types maya can make are " + known);
  }
  MAYA_TRY_VOID(require_block_device(device, "format"));
  auto signature = probe_signature(device);
  if (!signature) return fail("refusing to format " + device.string(), signature.error());
  if (signature->has_value()) {
    return fail("refusing to format " + device.string() + ": it is not blank (libblkid finds " +
                **signature + " on it)");
  }

  std::vector<std::string> argv = tool->argv;
  argv.push_back(device.string());
  log::info("formatting " + device.string() + " as " + fstype);
  auto made = run_command_checked(argv, mkfs_timeout_);
  if (!made) return fail("cannot format " + device.string() + " as " + fstype, made.error());

  auto result = probe_signature(device);
  if (!result) return fail("formatted " + device.string() + " but cannot probe it", result.error());
  if (*result != fstype) {
    return fail("formatted " + device.string() + " as " + fstype + " but libblkid now reports " +
                (result->has_value() ? **result : std::string("no signature")));
  }
  return {};
}

Result<void> LinuxOsDriver::mount(const fs::path& device, const fs::path& target,
                                  const std::string& fstype, const std::string& options) {
  MAYA_TRY_VOID(require_block_device(device, "mount"));
  MAYA_TRY(made, make_dirs(target, 0755));
  const fs::path where = table_path(target);
  MAYA_TRY(existing, mounted_at(where));
  if (existing->has_value()) {
    const MountEntry& entry = **existing;
    if (same_device(entry.source, device)) return {};  // already mounted there
    return fail("cannot mount " + device.string() + " on " + where.string() + ": " + entry.source +
                " is already mounted there");
  }
  auto mounted = libmount_mount(device, where, fstype, options);
  if (!mounted) {
    // mount(2) says little ("wrong fs type, bad option, ..."): say what the device holds.
    auto found = probe_signature(device);
    const std::string what = "cannot mount " + device.string() + " on " + where.string();
    if (found && !found->has_value())
      return fail(what + ": it holds no file system; format it first");
    if (found && !fstype.empty() && **found != fstype)
      return fail(what + ": it holds " + **found + ", not " + fstype);
    return std::unexpected(mounted.error());
  }
  log::info("mounted " + device.string() + " on " + where.string());
  return {};
}

Result<void> LinuxOsDriver::unmount(const fs::path& target) {
  const fs::path where = table_path(target);
  MAYA_TRY(existing, mounted_at(where));
  if (!existing->has_value()) return {};
  MAYA_TRY(unmounted, libmount_umount(where));
  log::info("unmounted " + where.string());
  return {};
}

Result<void> LinuxOsDriver::unmount_lazily(const fs::path& target) {
  if (::umount2(target.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0) {
    if (errno == EINVAL) return {};  // not a mount point (any more)
    return fail_errno("cannot unmount " + target.string() + " lazily");
  }
  log::info("unmounted " + target.string() + " lazily (MNT_DETACH)");
  return {};
}

Result<std::vector<std::string>> LinuxOsDriver::holders(const fs::path& device,
                                                        const fs::path& mountpoint) {
  return device_holders(device, mountpoint);
}

Result<void> LinuxOsDriver::freeze(const fs::path& target, bool frozen) {
  Fd fd(::open(target.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return fail_errno("cannot open " + target.string());
  if (::ioctl(fd.get(), frozen ? FIFREEZE : FITHAW, 0) != 0)
    return fail(std::string(frozen ? "cannot freeze " : "cannot thaw ") + target.string() + ": " +
                errno_text(errno));
  return {};
}

namespace {
// A file system check and grow take as long as the file system is large; killing either midway
// could leave it damaged, so the bound is only against a hang.
constexpr std::chrono::seconds kGrowTimeout = std::chrono::hours(6);
}  // namespace

Result<void> LinuxOsDriver::grow_filesystem(const fs::path& device, const fs::path& target,
                                            const std::string& fstype) {
  if (fstype != "ext4" && fstype != "xfs")
    return fail("cannot grow the " + fstype + " file system on " + device.string() +
                ": maya grows ext4 and xfs");
  if (target.empty() && fstype == "xfs")
    return fail("cannot grow the xfs file system on " + device.string() +
                ": xfs grows only while mounted");
  const std::string where = target.empty() ? device.string() : target.string();
  log::info("growing the " + fstype + " file system " + (target.empty() ? "on " : "at ") + where);
  if (target.empty()) {
    // resize2fs wants a file system checked since its last mount; e2fsck -p fixes only what is
    // safe (exit 1: fixed), and refuses the rest.
    MAYA_TRY(checked, run_command({"e2fsck", "-f", "-p", device.string()}, kGrowTimeout));
    if (checked->exit_code != 0 && checked->exit_code != 1)
      return fail("cannot grow the file system on " + device.string() + ": e2fsck -f -p (exit " +
                  std::to_string(checked->exit_code) + ") finds what only a person should fix; " +
                  "run e2fsck " + device.string() + " by hand");
  }
  // ext4 grows through its device (online while mounted), xfs through its mount point.
  std::vector<std::string> argv = {"resize2fs", device.string()};
  if (fstype == "xfs") argv = {"xfs_growfs", target.string()};
  auto grown = run_command_checked(argv, kGrowTimeout);
  if (grown) return {};
  if (grown.error().message.find("Permission denied") != std::string::npos)
    return fail("the kernel refuses to grow the mounted " + fstype + " file system at " + where +
                " (growing a mounted ext4 takes CAP_SYS_RESOURCE, which maya runs without)");
  return fail("cannot grow the file system at " + where, grown.error());
}

}  // namespace maya::drivers::linux_os
