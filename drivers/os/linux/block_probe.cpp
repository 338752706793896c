#include "drivers/os/linux/block_probe.h"
#include "lib/common/errno_text.h"

#include <blkid/blkid.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace maya::drivers::linux_os {
namespace {

struct ProbeDeleter {
  void operator()(blkid_struct_probe* probe) const { blkid_free_probe(probe); }
};

std::optional<std::string> lookup(blkid_probe probe, const char* key) {
  const char* value = nullptr;
  if (blkid_probe_lookup_value(probe, key, &value, nullptr) == 0 && value != nullptr && *value)
    return std::string(value);
  return std::nullopt;
}

}  // namespace

Result<std::optional<std::string>> probe_signature(const std::filesystem::path& device) {
  const std::string dev = device.string();
  errno = 0;
  std::unique_ptr<blkid_struct_probe, ProbeDeleter> probe(
      blkid_new_probe_from_filename(dev.c_str()));
  if (!probe) {
    int err = errno;
    if (err == ENOENT) return fail("device " + dev + " does not exist");
    return fail("cannot open device " + dev +
                " for probing: " + (err != 0 ? errno_text(err) : "libblkid refused it"));
  }
  blkid_probe pr = probe.get();
  if (blkid_probe_enable_superblocks(pr, 1) != 0 ||
      blkid_probe_set_superblocks_flags(
          pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_USAGE | BLKID_SUBLKS_BADCSUM) != 0 ||
      blkid_probe_enable_partitions(pr, 1) != 0 ||
      blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC) != 0) {
    return fail("cannot set up libblkid to probe " + dev);
  }
  errno = 0;
  int rc = blkid_do_safeprobe(pr);
  if (rc == 1) return std::optional<std::string>();  // nothing found: blank
  if (rc == -2) {
    return fail("device " + dev +
                " holds several conflicting signatures (libblkid calls it ambivalent)");
  }
  if (rc < 0) {
    int err = errno;
    return fail("cannot probe device " + dev + ": " +
                (err != 0 ? errno_text(err) : "libblkid failed to read it"));
  }
  if (auto type = lookup(pr, "TYPE")) return type;
  if (auto pttype = lookup(pr, "PTTYPE")) return pttype;
  return fail("device " + dev + " holds a signature that libblkid cannot name");
}

}  // namespace maya::drivers::linux_os
