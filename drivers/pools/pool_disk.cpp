#include "drivers/pools/pool_disk.h"

#include <blkid/blkid.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <memory>
#include <vector>

#include "drivers/os/linux/block_probe.h"
#include "drivers/storage/common/loop_device.h"
#include "lib/common/errno_text.h"
#include "lib/common/files.h"
#include "lib/mounts/mount_table.h"

namespace maya::drivers::pools {
namespace fs = std::filesystem;
namespace {

struct ProbeDeleter {
  void operator()(blkid_struct_probe* probe) const { blkid_free_probe(probe); }
};

std::optional<dev_t> device_number(const fs::path& device) {
  struct stat st {};
  if (::stat(device.c_str(), &st) != 0 || !S_ISBLK(st.st_mode)) return std::nullopt;
  return st.st_rdev;
}

// Whether `path` lies under the target of a FUSE mount in `table`.
bool on_fuse(const fs::path& path, const std::vector<mounts::Mount>& table) {
  const std::string p = path.string();
  for (const mounts::Mount& m : table) {
    if (!m.fstype.starts_with("fuse")) continue;
    const std::string t = m.target.string();
    if (p == t || (p.starts_with(t) && (t == "/" || p[t.size()] == '/'))) return true;
  }
  return false;
}

// Whether a loop device's backing file can hold a pool: not on FUSE (checked in the mount table,
// never by touching the path), and still there.
bool reachable_file(const fs::path& backing, const std::vector<mounts::Mount>& table) {
  if (on_fuse(backing, table)) return false;
  struct stat st {};
  return ::stat(backing.c_str(), &st) == 0 && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode));
}

}  // namespace

Result<std::optional<std::string>> probe_uuid(const fs::path& device) {
  std::unique_ptr<blkid_struct_probe, ProbeDeleter> probe(
      blkid_new_probe_from_filename(device.c_str()));
  if (!probe) return fail_errno("cannot open " + device.string() + " for probing");
  blkid_probe pr = probe.get();
  blkid_probe_enable_superblocks(pr, 1);
  blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_UUID | BLKID_SUBLKS_TYPE);
  int rc = blkid_do_safeprobe(pr);
  if (rc == 1 || rc == -2) return std::optional<std::string>();  // blank, or ambivalent
  if (rc < 0) return fail_errno("cannot probe " + device.string());
  const char* value = nullptr;
  if (blkid_probe_lookup_value(pr, "UUID", &value, nullptr) != 0 || value == nullptr)
    return std::optional<std::string>();
  std::string uuid = value;
  std::transform(uuid.begin(), uuid.end(), uuid.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return uuid;
}

std::optional<fs::path> find_device_by_uuid(const std::string& uuid) {
  auto table = mounts::read_mount_table();
  std::vector<mounts::Mount> mounted = table ? *table : std::vector<mounts::Mount>();
  std::vector<storage::LoopBinding> loops;
  if (auto bound = storage::bound_loop_devices()) loops = *bound;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/sys/class/block", ec)) {
    const std::string name = entry.path().filename().string();
    std::ifstream size_file(entry.path() / "size");
    unsigned long long sectors = 0;
    if (!(size_file >> sectors) || sectors == 0) continue;
    const fs::path device = fs::path("/dev") / name;
    auto devno = device_number(device);
    if (!devno) continue;
    if (name.starts_with("loop")) {
      // A loop device over a file that cannot be reached is never a pool's disk (a pool's file
      // exists), and reading one can block: a maya volume's FUSE file whose target is down, or
      // one whose FUSE mount went lazily. Those are skipped without being opened.
      auto loop = std::find_if(loops.begin(), loops.end(),
                               [&](const storage::LoopBinding& b) { return b.device == device; });
      if (loop != loops.end() && !reachable_file(loop->backing_file, mounted)) continue;
    }
    auto found = probe_uuid(device);
    if (found && *found && **found == uuid) return device;
  }
  return std::nullopt;
}

Result<void> check_disk_free(const fs::path& device, bool force) {
  auto devno = device_number(device);
  if (!devno) return fail(device.string() + " is not a block device");
  if (auto where = mounts::first_mount_of(*devno))
    return fail("disk " + device.string() + " is mounted at " + where->string() +
                "; unmount it first (--force does not override this)");
  int fd = ::open(device.c_str(), O_RDONLY | O_EXCL | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == EBUSY)
      return fail("disk " + device.string() +
                  " is in use (held open exclusively: a mount, device mapper or RAID); "
                  "--force does not override this");
    return fail_errno("cannot open disk " + device.string(), err);
  }
  ::close(fd);
  MAYA_TRY(signature, linux_os::probe_signature(device));
  if (*signature && !force)
    return fail("disk " + device.string() + " holds " + **signature +
                " (libblkid); refusing to format it. Wipe it, or pass --force to format it "
                "anyway");
  return {};
}

Result<std::string> fresh_uuid() {
  MAYA_TRY(text, read_file("/proc/sys/kernel/random/uuid"));
  std::string uuid = *text;
  while (!uuid.empty() && std::isspace(static_cast<unsigned char>(uuid.back()))) uuid.pop_back();
  if (uuid.size() != 36) return fail("the kernel gave a malformed UUID \"" + uuid + "\"");
  return uuid;
}

std::string xfs_label(const std::string& name) {
  if (name.size() <= 12) return name;
  return name.substr(0, 11) + "~";
}

}  // namespace maya::drivers::pools
