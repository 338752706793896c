// Replicator's snapshots: the point in time is taken with all I/O paused; the copy is a reflink
// when the replica's file system allows, else a background copy in which a write first copies
// the old contents of a region the copy has not reached (copy-before-write).
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "lib/block/file_copy.h"
#include "lib/common/fd.h"
#include "lib/common/log.h"
#include "lib/replica/replicator_internal.h"

namespace maya::replica {

namespace fs = std::filesystem;

// Copies region `r` into the snapshot unless done, with the region's stripe held exclusively.
Result<void> copy_snapshot_region(Replicator::SnapshotCopy& s, block::BlockBackend& source,
                                  std::shared_mutex& stripe, std::uint64_t r, std::uint64_t size) {
  std::unique_lock lock(stripe);
  if (s.copied.test(r)) return {};
  const std::uint64_t begin = r << kRegionShift;
  const std::uint64_t end = std::min(size, begin + kRegionBytes);
  std::vector<std::byte> buffer;
  for (std::uint64_t pos = begin; pos < end;) {
    MAYA_TRY(extent, source.extent_at(pos));
    const std::uint64_t stop = std::min(end, extent->offset + extent->length);
    if (stop <= pos) return fail("the replica reports no extent at " + std::to_string(pos));
    if (extent->mapped) {
      buffer.resize(stop - pos);
      MAYA_TRY(got, source.read(pos, buffer));
      MAYA_TRY_VOID(block::write_at(s.fd.get(), buffer, pos));
    }
    pos = stop;
  }
  s.copied.set(r);
  s.done += end - begin;
  return {};
}

Result<void> Replicator::snapshot_before_write(std::uint64_t offset, std::uint64_t length) {
  SnapshotCopy& s = *snapshot_;
  if (s.finished.load() || length == 0) return {};
  auto readers = read_set();
  if (readers.empty()) return fail("no replica can serve reads (all failed)");
  const std::uint64_t first = offset >> kRegionShift;
  const std::uint64_t last = (offset + length - 1) >> kRegionShift;
  for (std::uint64_t r = first; r <= last; ++r) {
    if (s.copied.test(r)) continue;
    if (auto copied = copy_snapshot_region(s, *readers.front()->data, stripes_[r % kStripes], r,
                                           options_.size_bytes);
        !copied) {
      return fail("snapshot " + s.file.string() + ": " + copied.error().message);
    }
  }
  return {};
}

std::shared_ptr<Replicator::SnapshotCopy> Replicator::current_snapshot() const {
  std::lock_guard lock(snapshot_mutex_);
  return snapshot_;
}

Result<void> Replicator::snapshot(const fs::path& file) {
  std::unique_lock io(io_mutex_);  // the point in time: no I/O in flight from here
  std::unique_lock guard(snapshot_mutex_);
  if (snapshot_ && !snapshot_->finished.load())
    return fail("a snapshot is still being copied; try again when it is done");
  snapshot_.reset();
  auto readers = read_set();
  if (readers.empty()) return fail("no replica can serve reads (all failed)");
  for (const auto& r : write_set()) {
    if (auto flushed = r->data->flush(); !flushed)
      return fail("flush before the snapshot", flushed.error());
  }
  Fd fd(::open(file.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (fd.get() < 0) return fail("cannot create " + file.string() + ": " + std::strerror(errno));
  auto s = std::make_shared<SnapshotCopy>(file, std::move(fd), regions_);
  s->total = options_.size_bytes;
  block::BlockBackend& source = *readers.front()->data;
  if (source.native_fd() >= 0 &&
      ::ftruncate(s->fd.get(), static_cast<off_t>(options_.size_bytes)) == 0 &&
      ::ioctl(s->fd.get(), FICLONE, source.native_fd()) == 0 &&
      ::ftruncate(s->fd.get(), static_cast<off_t>(options_.size_bytes)) == 0) {
    s->reflinked = true;
    s->done = s->total;
    s->finished = true;
    snapshot_ = std::move(s);
    return {};
  }
  if (::ftruncate(s->fd.get(), static_cast<off_t>(options_.size_bytes)) != 0) {
    std::error_code ec;
    fs::remove(file, ec);
    return fail("cannot size " + file.string() + ": " + std::strerror(errno));
  }
  SnapshotCopy* copy = s.get();
  snapshot_ = std::move(s);
  copy->thread = std::thread([this, copy] {
    std::string error;
    for (std::uint64_t r = 0; r < regions_ && error.empty(); ++r) {
      {
        std::lock_guard lock(threads_mutex_);
        if (stopping_) error = "the target stopped before the snapshot was copied";
      }
      if (!error.empty()) break;
      std::shared_lock io(io_mutex_);
      auto readers = read_set();
      if (readers.empty()) {
        error = "no replica can serve reads";
        break;
      }
      if (auto copied = copy_snapshot_region(*copy, *readers.front()->data, stripes_[r % kStripes],
                                             r, options_.size_bytes);
          !copied)
        error = copied.error().message;
    }
    if (error.empty() && ::fdatasync(copy->fd.get()) != 0) error = std::strerror(errno);
    {
      std::lock_guard lock(copy->mutex);
      copy->error = error;
    }
    if (!error.empty()) log::error("snapshot " + copy->file.string() + ": " + error);
    copy->finished = true;
  });
  return {};
}

std::optional<SnapshotCopyStatus> Replicator::snapshot_status() const {
  auto copy = current_snapshot();
  if (!copy) return std::nullopt;
  SnapshotCopyStatus status{copy->file,      copy->done.load(),     copy->total,
                            copy->reflinked, copy->finished.load(), ""};
  if (status.finished) {
    std::lock_guard lock(copy->mutex);
    status.error = copy->error;
  }
  return status;
}

Result<void> Replicator::wait_snapshot() {
  auto copy = current_snapshot();
  if (!copy) return {};
  while (!copy->finished.load()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::lock_guard lock(copy->mutex);
  if (!copy->error.empty()) return fail(copy->error);
  return {};
}

Result<void> Replicator::revert(const fs::path& file) {
  Fd from(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (from.get() < 0) return fail("cannot open " + file.string() + ": " + std::strerror(errno));
  if (auto copy = current_snapshot(); copy && !copy->finished.load())
    return fail("a snapshot is still being copied; try again when it is done");
  std::unique_lock io(io_mutex_);
  std::unique_lock lock(members_mutex_);
  for (const auto& r : replicas_) {
    if (r->mode != ReplicaMode::RW) continue;
    if (r->data->native_fd() < 0) return fail("replica " + r->id + " is not a file");
    auto copied = block::copy_fd(from.get(), r->data->native_fd(), options_.size_bytes);
    if (!copied) {
      r->mode = ReplicaMode::ERR;
      r->error = "revert failed: " + copied.error().message;
      log::error("replica " + r->id + ": " + r->error);
    }
  }
  // Every RW replica now holds the snapshot; the others copy everything again.
  for (const auto& r : replicas_) {
    if (r->mode == ReplicaMode::WO) plan_rebuild(*r);
    if (r->mode == ReplicaMode::WO && r->plan)
      r->plan->full = true;  // plan_rebuild bumped the epoch
  }
  // Replicas that are away hold pre-revert data everywhere: when they come back they copy
  // everything (their generation is older than where the degraded bitmap starts now).
  const bool any_away = std::any_of(replicas_.begin(), replicas_.end(),
                                    [](const ReplicaPtr& r) { return r->mode != ReplicaMode::RW; });
  degraded_since_ = any_away ? generation_ + 2 : 0;  // save_membership() moves to generation_ + 1
  {
    std::lock_guard bits(bitmap_mutex_);
    durable_dirty_.clear_all();
    durable_degraded_.clear_all();
    dirty_.clear_all();
    degraded_.clear_all();
    for (const auto& r : replicas_) {
      if (r->mode == ReplicaMode::ERR) continue;
      (void)r->journal->save_bitmap(BitmapKind::dirty, dirty_);
      (void)r->journal->save_bitmap(BitmapKind::degraded, degraded_);
      (void)r->journal->sync();
    }
  }
  MAYA_TRY(saved, save_membership());
  lock.unlock();
  threads_cv_.notify_all();
  return {};
}

}  // namespace maya::replica
