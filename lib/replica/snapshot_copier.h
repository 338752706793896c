// SnapshotCopier: a point-in-time copy of a replicated volume into a file. The point is taken
// with the volume's I/O paused; the copy is a reflink when the replica's file system allows,
// else a background copy in which a write first copies the old contents of a region the copy
// has not reached (copy-before-write). One copy at a time; the last one's status is kept.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "lib/block/backend.h"
#include "lib/common/result.h"
#include "lib/replica/region_locks.h"

namespace maya::replica {

struct SnapshotCopyStatus {
  std::filesystem::path file;
  std::uint64_t done_bytes = 0, total_bytes = 0;
  bool reflinked = false;
  bool finished = false;
  std::string error;  // why the copy failed (finished)
};

class SnapshotCopier {
 public:
  // What a copy needs from the volume.
  struct Volume {
    std::uint64_t size_bytes = 0;
    RegionLocks* locks = nullptr;
    // The volume is stopping: a background copy gives up.
    std::function<bool()> stopping;
    // Runs `copy` with the volume's I/O held shared, on the data of a replica that serves
    // reads (null when none does).
    std::function<Result<void>(const std::function<Result<void>(block::BlockBackend*)>& copy)>
        with_reader;
  };

  explicit SnapshotCopier(Volume volume);
  ~SnapshotCopier();  // waits for a background copy's thread

  // The replica a snapshot is copied from, and where on its file system the image goes (so
  // that the copy is a reflink): empty, at the snapshot's own name; else in this directory,
  // and the snapshot's name is a symbolic link to it.
  struct Source {
    block::BlockBackend* data = nullptr;
    std::filesystem::path image_dir;
  };
  // Takes a new snapshot into `file` (created), the volume's I/O held exclusively by the
  // caller. `prepare` flushes the replicas and gives the one to copy from. Fails while the
  // last copy is still running.
  Result<void> take(const std::filesystem::path& file,
                    const std::function<Result<Source>()>& prepare);
  // There is a copy (running or not); read under the volume's I/O held shared, as it changes
  // only while the I/O is held exclusively.
  bool active() const { return current_ != nullptr; }
  // A background copy is still running.
  bool copying() const;
  // Copy-before-write of the regions of [offset, offset + length) the background copy has not
  // reached, from the replica `reader` gives (null: none serves reads). Under the volume's I/O
  // held shared, before the write takes its region locks.
  Result<void> before_write(std::uint64_t offset, std::uint64_t length,
                            const std::function<block::BlockBackend*()>& reader);
  std::optional<SnapshotCopyStatus> status() const;
  // Waits for a background copy; its error if it failed.
  Result<void> wait();
  // The volume grew (its I/O held exclusively, no copy running): the next snapshot is this size.
  void set_size(std::uint64_t size_bytes);

 private:
  class Copy;
  std::shared_ptr<Copy> current() const;

  Volume volume_;
  // Replaced only with the volume's I/O held exclusively and mutex_ held; writes read it under
  // the I/O held shared, everyone else copies the pointer under mutex_.
  std::shared_ptr<Copy> current_;
  mutable std::mutex mutex_;
};

}  // namespace maya::replica
