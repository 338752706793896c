#include "drivers/storage/common/loop_device.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <thread>

#include "lib/common/errno_text.h"
#include "lib/common/fd.h"
#include "lib/common/log.h"
#include "lib/mounts/mount_table.h"

namespace maya::drivers::storage {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr std::string_view kDeletedSuffix = " (deleted)";
constexpr int kBindAttempts = 20;

std::optional<std::string> read_sysfs_line(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::string line;
  std::getline(in, line);
  return line;
}

bool is_loop_name(const std::string& name) {
  return name.size() > 4 && name.starts_with("loop") &&
         std::all_of(name.begin() + 4, name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

fs::path sysfs_dir(const fs::path& device) {
  return fs::path("/sys/block") / device.filename();
}

bool is_bound(const fs::path& device) {
  return fs::exists(sysfs_dir(device) / "loop" / "backing_file");
}

// Where `device` is mounted in our mount namespace, if anywhere.
std::optional<std::string> mount_point_of(const fs::path& device) {
  struct stat st {};
  if (::stat(device.c_str(), &st) != 0 || !S_ISBLK(st.st_mode)) return std::nullopt;
  auto target = mounts::first_mount_of(st.st_rdev);
  if (!target) return std::nullopt;
  return target->string();
}

std::string busy_message(const fs::path& device) {
  if (auto target = mount_point_of(device))
    return device.string() + " is mounted on " + *target + "; unmount it first";
  return device.string() + " is in use (mounted in another namespace or held by another device)";
}

// Opens /dev/loopN, waiting briefly for the node that LOOP_CTL_GET_FREE may have just created.
int open_new_loop_node(const fs::path& device) {
  for (int i = 0; i < 100; ++i) {
    int fd = ::open(device.c_str(), O_RDWR | O_CLOEXEC);
    if (fd >= 0 || errno != ENOENT) return fd;
    std::this_thread::sleep_for(10ms);
  }
  return -1;
}

// LOOP_SET_FD + LOOP_SET_STATUS64 for kernels older than 5.8 (no LOOP_CONFIGURE).
int configure_legacy(int loop_fd, int backing_fd, const loop_info64& info) {
  if (::ioctl(loop_fd, LOOP_SET_FD, backing_fd) != 0) return -1;
  loop_info64 status = info;
  status.lo_flags = 0;
  if (::ioctl(loop_fd, LOOP_SET_STATUS64, &status) != 0) {
    int err = errno;
    ::ioctl(loop_fd, LOOP_CLR_FD, 0);
    errno = err;
    return -1;
  }
  ::ioctl(loop_fd, LOOP_SET_DIRECT_IO, 1UL);  // best effort: buffered I/O still works
  return 0;
}

// Binds `loop_fd` to `backing_fd`: LOOP_CONFIGURE with direct I/O, without it when the kernel
// refuses the flag, and the legacy ioctls when LOOP_CONFIGURE is unknown. Sets errno on failure.
int configure(int loop_fd, int backing_fd, const fs::path& file) {
  loop_config config{};
  config.fd = static_cast<__u32>(backing_fd);
  const std::string name = file.string();
  std::memcpy(config.info.lo_file_name, name.data(),
              std::min<std::size_t>(name.size(), LO_NAME_SIZE - 1));
  config.info.lo_flags = LO_FLAGS_DIRECT_IO;
  if (::ioctl(loop_fd, LOOP_CONFIGURE, &config) == 0) return 0;
  if (errno == EINVAL) {
    config.info.lo_flags = 0;
    if (::ioctl(loop_fd, LOOP_CONFIGURE, &config) == 0) return 0;
  }
  if (errno == EINVAL || errno == ENOTTY) return configure_legacy(loop_fd, backing_fd, config.info);
  return -1;
}

}  // namespace

Result<std::vector<LoopBinding>> bound_loop_devices() {
  std::vector<LoopBinding> bindings;
  std::error_code ec;
  fs::directory_iterator it("/sys/block", ec);
  if (ec) return fail("cannot list /sys/block: " + ec.message());
  for (const auto& entry : it) {
    const std::string name = entry.path().filename().string();
    if (!is_loop_name(name)) continue;
    auto backing = read_sysfs_line(entry.path() / "loop" / "backing_file");
    if (!backing) continue;  // not bound
    LoopBinding binding;
    binding.device = fs::path("/dev") / name;
    if (backing->ends_with(kDeletedSuffix)) {
      backing->resize(backing->size() - kDeletedSuffix.size());
      binding.backing_deleted = true;
    }
    binding.backing_file = *backing;
    Fd fd(::open(binding.device.c_str(), O_RDONLY | O_CLOEXEC));
    loop_info64 info{};
    if (fd.get() >= 0 && ::ioctl(fd.get(), LOOP_GET_STATUS64, &info) == 0) {
      binding.has_inode = true;
      binding.backing_dev = static_cast<dev_t>(info.lo_device);
      binding.backing_ino = static_cast<ino_t>(info.lo_inode);
    } else if (errno == ENXIO) {
      continue;  // unbound since we read sysfs
    }
    bindings.push_back(std::move(binding));
  }
  std::sort(bindings.begin(), bindings.end(), [](const LoopBinding& a, const LoopBinding& b) {
    return a.device.string().size() != b.device.string().size()
               ? a.device.string().size() < b.device.string().size()
               : a.device < b.device;
  });
  return bindings;
}

std::vector<fs::path> devices_backed_by(const std::vector<LoopBinding>& bindings,
                                        const fs::path& file) {
  std::vector<fs::path> devices;
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return devices;  // no file, no device backed by it
  std::optional<fs::path> canonical;  // computed only if some binding lacks its inode
  for (const auto& binding : bindings) {
    if (binding.backing_deleted) continue;
    bool same = false;
    if (binding.has_inode) {
      same = binding.backing_dev == st.st_dev && binding.backing_ino == st.st_ino;
    } else {
      std::error_code ec;
      if (!canonical) canonical = fs::weakly_canonical(file, ec);
      same = !ec && fs::weakly_canonical(binding.backing_file, ec) == *canonical && !ec;
    }
    if (same) devices.push_back(binding.device);
  }
  return devices;
}

std::vector<fs::path> devices_backed_by_path(const std::vector<LoopBinding>& bindings,
                                             const fs::path& file) {
  std::vector<fs::path> devices;
  const fs::path wanted = file.lexically_normal();
  for (const auto& binding : bindings) {
    if (binding.backing_file.lexically_normal() == wanted) devices.push_back(binding.device);
  }
  return devices;
}

Result<fs::path> bind_loop_device(const fs::path& file) {
  Fd control(::open("/dev/loop-control", O_RDWR | O_CLOEXEC));
  if (control.get() < 0) return fail("cannot open /dev/loop-control: " + errno_text(errno));
  Fd backing(::open(file.c_str(), O_RDWR | O_CLOEXEC));
  if (backing.get() < 0) return fail_errno("cannot open " + file.string());

  for (int attempt = 0; attempt < kBindAttempts; ++attempt) {
    int number = ::ioctl(control.get(), LOOP_CTL_GET_FREE);
    if (number < 0) return fail("cannot get a free loop device: " + errno_text(errno));
    fs::path device = "/dev/loop" + std::to_string(number);
    Fd loop(open_new_loop_node(device));
    if (loop.get() < 0) return fail_errno("cannot open " + device.string());
    if (configure(loop.get(), backing.get(), file) == 0) {
      auto dio = read_sysfs_line(sysfs_dir(device) / "loop" / "dio");
      log::debug("bound " + device.string() + " to " + file.string() +
                 (dio && *dio == "1" ? " with direct I/O" : " with buffered I/O"));
      return device;
    }
    if (errno != EBUSY) {
      return fail("cannot bind " + device.string() + " to " + file.string() + ": " +
                  errno_text(errno));
    }
    // Another process bound this device between LOOP_CTL_GET_FREE and our ioctl: try again.
    std::this_thread::sleep_for(std::chrono::milliseconds(1 + attempt));
  }
  return fail("cannot bind a loop device to " + file.string() +
              ": every free device was taken by " + "another process " +
              std::to_string(kBindAttempts) + " times in a row");
}

Result<void> unbind_loop_device(const fs::path& device) {
  // O_EXCL fails with EBUSY while the device is mounted or held by another device, which
  // LOOP_CLR_FD alone would not tell us (it turns into a lazy detach on a busy device).
  Fd loop(::open(device.c_str(), O_RDONLY | O_CLOEXEC | O_EXCL));
  if (loop.get() < 0) {
    if (errno == ENOENT || errno == ENXIO) return {};
    if (errno == EBUSY) return fail(busy_message(device));
    return fail_errno("cannot open " + device.string());
  }
  if (::ioctl(loop.get(), LOOP_CLR_FD, 0) != 0) {
    if (errno == ENXIO) return {};  // not bound
    if (errno == EBUSY) return fail(busy_message(device));
    return fail_errno("cannot unbind " + device.string());
  }
  loop.reset();
  // The kernel releases the file when the last opener closes the device: normally us, just
  // now; udev may hold it a moment longer.
  for (int i = 0; i < 300 && is_bound(device); ++i) std::this_thread::sleep_for(10ms);
  if (is_bound(device)) {
    return fail(device.string() +
                " is still open by another process; it will be released when that process "
                "closes it");
  }
  return {};
}

Result<std::uint64_t> refresh_loop_capacity(const fs::path& device) {
  Fd loop(::open(device.c_str(), O_RDONLY | O_CLOEXEC));
  if (loop.get() < 0) return fail_errno("cannot open " + device.string());
  if (::ioctl(loop.get(), LOOP_SET_CAPACITY, 0) != 0)
    return fail_errno("cannot make " + device.string() + " follow its file's size");
  std::uint64_t bytes = 0;
  if (::ioctl(loop.get(), BLKGETSIZE64, &bytes) != 0)
    return fail_errno("cannot read the size of " + device.string());
  return bytes;
}

Result<bool> unbind_loop_device_when_closed(const fs::path& device) {
  // Without O_EXCL: a mounted device is opened too (the file system holds it exclusively).
  Fd loop(::open(device.c_str(), O_RDONLY | O_CLOEXEC));
  if (loop.get() < 0) {
    if (errno == ENOENT || errno == ENXIO) return true;
    return fail_errno("cannot open " + device.string());
  }
  // The kernel marks the device to be cleared on its last close (and clears it on ours when
  // nobody else has it open).
  if (::ioctl(loop.get(), LOOP_CLR_FD, 0) != 0) {
    if (errno == ENXIO) return true;  // not bound
    return fail_errno("cannot set " + device.string() + " to be released on its last close");
  }
  loop.reset();
  for (int i = 0; i < 50 && is_bound(device); ++i) std::this_thread::sleep_for(10ms);
  return !is_bound(device);
}

}  // namespace maya::drivers::storage
