// Growing a jiva volume online: jiva.json takes the new size first (the truth for every later
// start), then the running target grows its replicas and raises CAPACITY DATA HAS CHANGED
// (POST /v1/resize), then this host's device follows: the loop device over the FUSE file, or
// a rescan of the kernel initiator's disk. A target that is down grows the replicas when it
// starts; one that refuses (a rebuild running) leaves jiva.json as it was.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "drivers/storage/common/loop_device.h"
#include "drivers/storage/common/volume_dir.h"
#include "drivers/storage/jiva/jiva_storage_driver.h"
#include "lib/common/errno_text.h"
#include "lib/common/fd.h"
#include "lib/common/log.h"
#include "lib/common/names.h"
#include "lib/jiva/manifest.h"

namespace maya::drivers::jiva {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// The target answered the grow; the kernel learns the FUSE file's new size on its next stat
// (the target invalidated its cached attributes). Waits, bounded, until it does.
Result<void> wait_fuse_size(const fs::path& file, std::uint64_t size) {
  struct stat st {};
  for (int i = 0; i < 100; ++i) {
    if (::stat(file.c_str(), &st) == 0 && static_cast<std::uint64_t>(st.st_size) == size) return {};
    std::this_thread::sleep_for(50ms);
  }
  return fail(file.string() + " is still " + std::to_string(st.st_size) + " bytes, not " +
              std::to_string(size));
}

// Asks the SCSI layer to read the capacity of a kernel initiator's disk (/dev/sdX) again.
Result<void> rescan_disk(const fs::path& device) {
  const fs::path rescan = fs::path("/sys/class/block") / device.filename() / "device" / "rescan";
  Fd fd(::open(rescan.c_str(), O_WRONLY | O_CLOEXEC));
  if (fd.get() < 0 || ::write(fd.get(), "1", 1) != 1)
    return fail_errno("cannot rescan " + device.string() + " (" + rescan.string() + ")");
  return {};
}

}  // namespace

Result<std::uint64_t> JivaStorageDriver::grow(const std::string& name, std::uint64_t size_bytes) {
  MAYA_TRY_VOID(validate_volume_name(name));
  const fs::path dir = volume_dir(name);
  MAYA_TRY(lock, storage::lock_volume(dir, name));
  MAYA_TRY(m, maya::jiva::read_manifest(dir));
  const std::uint64_t block = m->block_size == 0 ? 512 : m->block_size;
  if (size_bytes > UINT64_MAX - block)
    return fail("volume " + name + " cannot be " + std::to_string(size_bytes) + " bytes");
  const std::uint64_t size = (size_bytes + block - 1) / block * block;
  if (size < m->size_bytes)
    return fail("volume " + name + " is " + std::to_string(m->size_bytes) +
                " bytes; it cannot shrink to " + std::to_string(size));
  const auto before = *m;
  if (size != m->size_bytes) {
    m->size_bytes = size;
    MAYA_TRY_VOID(maya::jiva::write_manifest(dir, *m));
  }
  // The same size again still brings a target and device that lag behind up to it.
  if (supervisor_->status(name).pid != 0) {
    if (auto grown = target(name).resize(std::chrono::minutes(10)); !grown) {
      // jiva.json goes back only when the target is known to serve the old size still (it
      // refused: a rebuild running). Replicas that may have grown need jiva.json's new size to
      // open; a target that grew partly, or died meanwhile, finishes the grow when it starts.
      auto now = target(name).status(std::chrono::seconds(5));
      if (size != before.size_bytes && now && now->size_bytes == before.size_bytes) {
        (void)maya::jiva::write_manifest(dir, before);
        return fail("volume " + name + " was not grown", grown.error());
      }
      return fail("volume " + name + " is growing to " + std::to_string(size) +
                      " bytes but its target did not finish; it finishes when the target "
                      "restarts, or run the resize again",
                  grown.error());
    }
  }
  MAYA_TRY(bindings, storage::bound_loop_devices());
  const fs::path file = fuse_file(name);
  for (const auto& device : storage::devices_backed_by_path(*bindings, file)) {
    MAYA_TRY_VOID(wait_fuse_size(file, size));
    MAYA_TRY(bytes, storage::refresh_loop_capacity(device));
    if (*bytes != size)
      return fail(device.string() + " is " + std::to_string(*bytes) + " bytes after volume " +
                  name + " grew to " + std::to_string(size));
  }
  if (options_.iscsi != nullptr && !options_.iscsi->unavailable()) {
    if (auto disk = options_.iscsi->device(m->iqn, portal(m->port)))
      MAYA_TRY_VOID(rescan_disk(*disk));
  }
  if (size != before.size_bytes)
    log::info("grew jiva volume " + name + " from " + std::to_string(before.size_bytes) + " to " +
              std::to_string(size) + " bytes");
  return size;
}

}  // namespace maya::drivers::jiva
