// Replicator: a BlockBackend that mirrors a volume over N replicas (Longhorn's engine split:
// fan-out writes, a replica set with RW/WO/ERR modes, a failure policy, a rebuild task). It is
// the facade over the types that do each job: ReplicaSet (replica_set.h: membership,
// generations, failure policy), Writer (writer.h: fan-out), RegionMarks (region_marks.h: the
// dirty/degraded/diverged regions and their journaling), Rebuilder (rebuilder.h) and
// SnapshotCopier (snapshot_copier.h). It owns the volume's I/O lock and the cleaner thread.
//
// - Writes go to every RW and WO replica from the caller's one buffer and are acknowledged once
//   all of them have it; small writes run one after another on the caller's thread (cheaper
//   than a hand-off), large ones in parallel. Reads go round-robin across RW replicas. Flush,
//   FUA and discard reach every replica.
// - A replica that fails (I/O error, journal error, a fault injected for tests) becomes ERR and
//   leaves the I/O path; before the failing write is acknowledged, the replicas that stay move
//   to a new generation that names them as the members. The volume serves while one RW replica
//   remains ("degraded"); with none, I/O fails (never stale data).
// - Out of space is not a failure of the medium (SBC-4 thin provisioning): when every RW
//   replica's write fails with ENOSPC/EDQUOT, the write fails with that cause and every replica
//   stays (no generation bump); the regions it touched may differ between replicas (a partial
//   write on one), so they stay dirty and are copied from the first RW replica to the others
//   once space allows. A replica that alone runs out of space leaves like a failed one, and is
//   rebuilt by itself when space returns (retried with a bounded backoff). A membership that
//   cannot be saved for lack of space leaves the volume read-only until it can.
// - At open, the replicas of the newest generation are the sources; older ones are stale and
//   rebuilt before they serve reads. If a member of the newest generation known is missing, the
//   volume does not serve: that member may have gone on without the others (the data-loss case
//   of openebs/openebs#2956).
// - Regions are 1 MiB. `dirty` marks regions written since they were last idle, so that after
//   a crash only those are compared; `degraded` marks regions written while a replica is away,
//   so that it catches up by copying only those. Both live in every replica's journal.
// - Rebuild (rebuilder.h): a WO replica gets the allocated ranges of an RW one (holes stay
//   holes), region by region under a region lock (region_locks.h) so concurrent writes land
//   right, each region read back and compared, then it becomes RW.
// - Snapshots (snapshot_copier.h): a point-in-time copy into a file, by reflink when the file
//   system can, else copied in the background with copy-before-write of regions not yet copied.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "lib/block/backend.h"
#include "lib/common/io_stats.h"
#include "lib/replica/rebuilder.h"
#include "lib/replica/region_locks.h"
#include "lib/replica/region_marks.h"
#include "lib/replica/replica.h"
#include "lib/replica/replica_set.h"
#include "lib/replica/snapshot_copier.h"
#include "lib/replica/writer.h"

namespace maya::replica {

class Replicator final : public block::BlockBackend {
 public:
  using Member = ::maya::replica::Member;
  struct Options {
    std::uint64_t size_bytes = 0;
    std::uint32_t block_size = 512;
    bool thin = true;
    std::chrono::milliseconds clean_interval{2000};  // how often idle dirty regions are cleared
    std::size_t inline_write_bytes = 64 * 1024;      // smaller writes go replica after replica
    // A replica that left because its store was full is tried again after this, doubling up
    // to space_retry_max while it keeps failing.
    std::chrono::milliseconds space_retry{1000};
    std::chrono::milliseconds space_retry_max{30000};
    // Warn when a replica's store is this full (percent used; 0: never): a log line, the
    // warning in status, and soft_threshold_events() for the SCSI unit attention.
    unsigned space_warn_percent = 90;
    // Writes need a majority of the replicas (ReplicaSet::Policy::quorum_writes).
    bool quorum_writes = false;
    // Generations start above this (ReplicaSet::Policy::min_generation).
    std::uint64_t min_generation = 0;
  };

  // Opens the volume over `members` (the manifest's replicas, in order): picks the sources,
  // marks stale ones for rebuild, starts the rebuild and cleaner threads. Fails when no replica
  // can serve current data.
  static Result<std::unique_ptr<Replicator>> open(std::vector<Member> members, Options options);
  ~Replicator() override;  // close() if not done

  std::uint64_t size_bytes() const override { return size_bytes_.load(std::memory_order_acquire); }
  std::uint32_t block_size() const override { return options_.block_size; }
  bool thin() const override { return options_.thin; }
  bool discard_zeroes() const override { return set_.discard_zeroes(); }
  Result<void> read(std::uint64_t offset, std::span<std::byte> out) override;
  Result<void> write(std::uint64_t offset, std::span<const std::byte> data, bool fua) override;
  Result<void> flush() override;
  Result<void> discard(std::uint64_t offset, std::uint64_t length) override;
  Result<block::Extent> extent_at(std::uint64_t offset) override;

  // Flushes everything, marks the journals clean and stops the threads. Idempotent.
  void close();

  std::vector<ReplicaStatus> replicas() const { return set_.statuses(); }
  std::string health() const { return set_.health(); }  // healthy | degraded | failed
  std::optional<RebuildStatus> rebuild_status() const { return rebuilder_.status(); }
  std::optional<RebuildStatus> last_rebuild() const { return rebuilder_.last(); }
  std::uint64_t generation() const { return set_.generation(); }
  // Reads and writes served (counted as they complete; relaxed atomics, read without a lock).
  const IoStats& io_stats() const { return io_stats_; }
  // Why writes are refused while reads go on (the membership cannot be saved: no space), or "".
  std::string read_only_reason() const { return set_.read_only_reason(); }
  // The fullest replica store (checked every clean interval), and the warning while it is past
  // space_warn_percent ("" otherwise).
  struct SpaceStatus {
    std::optional<block::SpaceUsage> usage;
    unsigned used_percent = 0;
    unsigned warn_percent = 0;
    std::string warning;
  };
  SpaceStatus space_status() const;
  std::optional<block::SpaceUsage> space() const override;
  std::uint64_t soft_threshold_events() const override { return soft_threshold_events_.load(); }
  // Checks the stores now (the cleaner does it every clean interval).
  void check_space();

  // Takes replica `id` out of the I/O path as if it had failed (tests, `replica fault`).
  Result<void> fail_replica(const std::string& id, const std::string& why) {
    return set_.fail_replica(id, why);
  }
  // Adds a new (empty) replica, or brings back one that is ERR with fresh handles: it starts
  // WO and is rebuilt, from the regions it missed when its journal allows, else fully.
  Result<void> add_replica(Member member);
  // Removes a replica for good; the last RW one cannot go.
  Result<void> remove_replica(const std::string& id) { return set_.remove_replica(id); }
  // Waits until no rebuild is pending or running (tests).
  void wait_rebuilds() { rebuilder_.wait(); }

  // A point-in-time copy of the volume into `file` (created). Returns once the point is taken;
  // the copy may finish in the background (snapshot_status()).
  // `image_dir_of` says where on a replica's file system a snapshot taken from it goes (empty:
  // at `file`); a replica with such a place is copied from first (a reflink, not a copy).
  Result<void> snapshot(const std::filesystem::path& file,
                        const std::function<std::filesystem::path(const std::string& replica_id)>&
                            image_dir_of = nullptr);
  std::optional<SnapshotCopyStatus> snapshot_status() const { return copier_.status(); }
  // Waits for a background snapshot copy; its error if it failed.
  Result<void> wait_snapshot() { return copier_.wait(); }
  // Replaces the contents of every replica with `file` (the caller ensures nobody uses the
  // volume); replicas not RW are rebuilt afterwards.
  Result<void> revert(const std::filesystem::path& file);

  // Grows the volume to `new_size` bytes in place (replica_grow.cpp), its I/O paused: every
  // replica in the I/O path grows (one that cannot leaves, as after a failed write; when no RW
  // replica can, nothing changes and that is the error), then the region marks, the rebuild
  // and snapshot sizes, and the replicas' metadata. The new range reads as zeros. The same
  // size changes nothing; a smaller one is refused, as is a grow while a rebuild or a
  // snapshot copy runs. Replicas that are away grow when they come back (opened at the new
  // size). The frontends are told by the caller (the SCSI disk's capacity, FUSE attributes).
  Result<void> grow(std::uint64_t new_size);

 private:
  explicit Replicator(Options options);

  Result<void> check_range(std::uint64_t offset, std::uint64_t length) const;
  // The data of the first RW replica, or null (snapshot copies read from it).
  block::BlockBackend* first_reader() const;
  // Copy-before-write for a running snapshot copy, then the region locks, write-intent marks
  // and fan-out of a write or discard.
  Result<void> modify(std::uint64_t offset, std::uint64_t length,
                      const std::function<Result<void>(Replica&)>& op, std::uint64_t bytes);
  void clean_loop();
  // Clears the dirty marks of regions idle for an interval, once their data is flushed.
  void clean_once();

  Options options_;  // size_bytes changes by grow(), the volume's I/O held exclusively
  std::atomic<std::uint64_t> size_bytes_;
  RegionMarks marks_;
  // I/O pauses (snapshot point, revert, add and remove) take this exclusively; every I/O
  // shares it.
  std::shared_mutex io_mutex_;
  RegionLocks locks_;
  ReplicaSet set_;
  Writer writer_;
  Rebuilder rebuilder_;
  std::atomic<std::uint64_t> next_read_{0};
  IoStats io_stats_;

  mutable std::mutex space_mutex_;
  SpaceStatus space_status_;  // space_mutex_
  std::atomic<std::uint64_t> soft_threshold_events_{0};

  mutable std::mutex threads_mutex_;  // the cleaner's
  std::condition_variable threads_cv_;
  bool stopping_ = false;
  bool closed_ = false;
  std::atomic<bool> closing_{false};  // close() began: I/O is refused from now on
  std::thread cleaner_;

  // Last: destroyed first, so that no copy thread outlives what it reads.
  SnapshotCopier copier_;
};

}  // namespace maya::replica
