#include "lib/replica/snapshot_copier.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "lib/block/file_copy.h"
#include "lib/common/errno_text.h"
#include "lib/common/fd.h"
#include "lib/common/files.h"
#include "lib/common/log.h"
#include "lib/replica/region_bitmap.h"

namespace maya::replica {

namespace fs = std::filesystem;

class SnapshotCopier::Copy {
 public:
  Copy(fs::path file, Fd fd, std::uint64_t regions)
      : file(std::move(file)), fd(std::move(fd)), copied(regions) {}
  ~Copy() {
    if (thread.joinable()) thread.join();
  }

  // Copies region `r` into the snapshot unless done, with the region's stripe held exclusively.
  Result<void> copy_region(block::BlockBackend& source, std::shared_mutex& stripe, std::uint64_t r,
                           std::uint64_t size) {
    std::unique_lock lock(stripe);
    if (copied.test(r)) return {};
    const std::uint64_t begin = r << kRegionShift;
    const std::uint64_t end = std::min(size, begin + kRegionBytes);
    std::vector<std::byte> buffer;
    for (std::uint64_t pos = begin; pos < end;) {
      MAYA_TRY(extent, source.extent_at(pos));
      const std::uint64_t stop = std::min(end, extent->offset + extent->length);
      if (stop <= pos) return fail("the replica reports no extent at " + std::to_string(pos));
      if (extent->mapped) {
        buffer.resize(stop - pos);
        MAYA_TRY_VOID(source.read(pos, buffer));
        MAYA_TRY_VOID(block::write_at(fd.get(), buffer, pos));
      }
      pos = stop;
    }
    copied.set(r);
    done += end - begin;
    return {};
  }

  fs::path file;
  Fd fd;
  RegionBitmap copied;
  std::atomic<std::uint64_t> done{0};
  std::uint64_t total = 0;
  bool reflinked = false;
  std::atomic<bool> finished{false};
  std::mutex mutex;  // guards error
  std::string error;
  std::thread thread;
};

SnapshotCopier::SnapshotCopier(Volume volume) : volume_(std::move(volume)) {}

SnapshotCopier::~SnapshotCopier() = default;

std::shared_ptr<SnapshotCopier::Copy> SnapshotCopier::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

bool SnapshotCopier::copying() const {
  auto copy = current();
  return copy && !copy->finished.load();
}

Result<void> SnapshotCopier::before_write(std::uint64_t offset, std::uint64_t length,
                                          const std::function<block::BlockBackend*()>& reader) {
  Copy& s = *current_;
  if (s.finished.load() || length == 0) return {};
  block::BlockBackend* source = reader();
  if (!source) return fail("no replica can serve reads (all failed)");
  const std::uint64_t first = offset >> kRegionShift;
  const std::uint64_t last = (offset + length - 1) >> kRegionShift;
  // The copy's own size: a region past it (the volume grew since) is not in the snapshot.
  for (std::uint64_t r = first; r <= last && r < s.copied.regions(); ++r) {
    if (s.copied.test(r)) continue;
    if (auto copied = s.copy_region(*source, volume_.locks->of_region(r), r, s.total); !copied) {
      return fail("snapshot " + s.file.string() + ": " + copied.error().message);
    }
  }
  return {};
}

Result<void> SnapshotCopier::take(const fs::path& file,
                                  const std::function<Result<Source>()>& prepare) {
  std::unique_lock guard(mutex_);
  if (current_ && !current_->finished.load())
    return fail("a snapshot is still being copied; try again when it is done");
  current_.reset();
  MAYA_TRY(prepared, prepare());
  block::BlockBackend& source = *prepared->data;
  const std::uint64_t size = volume_.size_bytes;
  const fs::path image = prepared->image_dir.empty() ? file : prepared->image_dir / file.filename();
  if (image != file) MAYA_TRY_VOID(make_dirs(prepared->image_dir, 0700));
  Fd fd(::open(image.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (fd.get() < 0) return fail_errno("cannot create " + image.string());
  if (image != file && ::symlink(image.c_str(), file.c_str()) != 0) {
    auto failed = fail_errno("cannot link " + file.string() + " to " + image.string());
    ::unlink(image.c_str());
    return failed;
  }
  auto s = std::make_shared<Copy>(file, std::move(fd), region_count(size));
  s->total = size;
  // A new image in a pool: its directories (maybe made just now) are synced, so that a
  // snapshot listed after a crash still has its image.
  if (image != file) {
    for (const fs::path& dir : {prepared->image_dir, prepared->image_dir.parent_path()}) {
      Fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (d.get() < 0 || ::fsync(d.get()) != 0) {
        auto failed = fail_errno("cannot sync " + dir.string());
        remove_with_link_target(file);
        return failed;
      }
    }
  }
  if (source.native_fd() >= 0 && ::ftruncate(s->fd.get(), static_cast<off_t>(size)) == 0 &&
      ::ioctl(s->fd.get(), FICLONE, source.native_fd()) == 0 &&
      ::ftruncate(s->fd.get(), static_cast<off_t>(size)) == 0 && ::fdatasync(s->fd.get()) == 0) {
    s->reflinked = true;
    s->done = s->total;
    s->finished = true;
    current_ = std::move(s);
    return {};
  }
  if (::ftruncate(s->fd.get(), static_cast<off_t>(size)) != 0) {
    auto failed = fail_errno("cannot size " + image.string());
    remove_with_link_target(file);
    return failed;
  }
  Copy* copy = s.get();
  current_ = std::move(s);
  copy->thread = std::thread([this, copy, size] {
    const std::uint64_t regions = region_count(size);
    std::string error;
    for (std::uint64_t r = 0; r < regions && error.empty(); ++r) {
      if (volume_.stopping()) error = "the target stopped before the snapshot was copied";
      if (!error.empty()) break;
      auto copied = volume_.with_reader([&](block::BlockBackend* source) -> Result<void> {
        if (!source) return fail("no replica can serve reads");
        return copy->copy_region(*source, volume_.locks->of_region(r), r, size);
      });
      if (!copied) error = copied.error().message;
    }
    if (error.empty() && ::fdatasync(copy->fd.get()) != 0) error = errno_text(errno);
    {
      std::lock_guard lock(copy->mutex);
      copy->error = error;
    }
    if (!error.empty()) log::error("snapshot " + copy->file.string() + ": " + error);
    copy->finished = true;
  });
  return {};
}

void SnapshotCopier::set_size(std::uint64_t size_bytes) {
  std::lock_guard lock(mutex_);
  volume_.size_bytes = size_bytes;
}

std::optional<SnapshotCopyStatus> SnapshotCopier::status() const {
  auto copy = current();
  if (!copy) return std::nullopt;
  SnapshotCopyStatus status{copy->file,      copy->done.load(),     copy->total,
                            copy->reflinked, copy->finished.load(), ""};
  if (status.finished) {
    std::lock_guard lock(copy->mutex);
    status.error = copy->error;
  }
  return status;
}

Result<void> SnapshotCopier::wait() {
  auto copy = current();
  if (!copy) return {};
  while (!copy->finished.load()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::lock_guard lock(copy->mutex);
  if (!copy->error.empty()) return fail(copy->error);
  return {};
}

}  // namespace maya::replica
