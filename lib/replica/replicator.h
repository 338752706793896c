// Replicator: a BlockBackend that mirrors a volume over N replicas (Longhorn's engine split:
// fan-out writes, a replica set with RW/WO/ERR modes, a failure policy, a rebuild task).
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
// - Rebuild (rebuild.cpp): a WO replica gets the allocated ranges of an RW one (holes stay
//   holes), region by region under a region lock (region_locks.h) so concurrent writes land
//   right, each region read back and compared, then it becomes RW.
// - Snapshots (snapshot_copier.h): a point-in-time copy into a file, by reflink when the file
//   system can, else copied in the background with copy-before-write of regions not yet copied.
#pragma once

#include <sys/types.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "lib/block/backend.h"
#include "lib/replica/region_bitmap.h"
#include "lib/replica/region_locks.h"
#include "lib/replica/replica_journal.h"
#include "lib/replica/snapshot_copier.h"

namespace maya::replica {

enum class ReplicaMode { RW, WO, ERR };
const char* mode_name(ReplicaMode mode);

struct ReplicaStatus {
  std::string id;
  ReplicaMode mode = ReplicaMode::ERR;
  std::uint64_t generation = 0;
  std::uint64_t revision = 0;
  std::string error;  // why it is ERR
};

struct RebuildStatus {
  std::string replica;
  std::string kind;  // "full" | "regions"
  std::uint64_t done_bytes = 0, total_bytes = 0;
  double rate_bytes_per_s = 0;
  double eta_seconds = 0;
};

class Replicator final : public block::BlockBackend {
 public:
  struct Member {
    std::string id;
    std::unique_ptr<block::BlockBackend> data;
    std::unique_ptr<ReplicaJournal> journal;  // null: the replica could not be opened (ERR)
    std::string error;                        // why it could not be opened
  };
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
  };

  // Opens the volume over `members` (the manifest's replicas, in order): picks the sources,
  // marks stale ones for rebuild, starts the rebuild and cleaner threads. Fails when no replica
  // can serve current data.
  static Result<std::unique_ptr<Replicator>> open(std::vector<Member> members, Options options);
  ~Replicator() override;  // close() if not done

  std::uint64_t size_bytes() const override { return options_.size_bytes; }
  std::uint32_t block_size() const override { return options_.block_size; }
  bool thin() const override { return options_.thin; }
  bool discard_zeroes() const override { return discard_zeroes_; }
  Result<void> read(std::uint64_t offset, std::span<std::byte> out) override;
  Result<void> write(std::uint64_t offset, std::span<const std::byte> data, bool fua) override;
  Result<void> flush() override;
  Result<void> discard(std::uint64_t offset, std::uint64_t length) override;
  Result<block::Extent> extent_at(std::uint64_t offset) override;

  // Flushes everything, marks the journals clean and stops the threads. Idempotent.
  void close();

  std::vector<ReplicaStatus> replicas() const;
  std::string health() const;  // healthy | degraded | failed
  std::optional<RebuildStatus> rebuild_status() const;
  std::uint64_t generation() const;
  // Why writes are refused while reads go on (the membership cannot be saved: no space), or "".
  std::string read_only_reason() const;
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
  Result<void> fail_replica(const std::string& id, const std::string& why);
  // Adds a new (empty) replica, or brings back one that is ERR with fresh handles: it starts
  // WO and is rebuilt, from the regions it missed when its journal allows, else fully.
  Result<void> add_replica(Member member);
  // Removes a replica for good; the last RW one cannot go.
  Result<void> remove_replica(const std::string& id);
  // Waits until no rebuild is pending or running (tests).
  void wait_rebuilds();

  // A point-in-time copy of the volume into `file` (created). Returns once the point is taken;
  // the copy may finish in the background (snapshot_status()).
  Result<void> snapshot(const std::filesystem::path& file);
  std::optional<SnapshotCopyStatus> snapshot_status() const;
  // Waits for a background snapshot copy; its error if it failed.
  Result<void> wait_snapshot();
  // Replaces the contents of every replica with `file` (the caller ensures nobody uses the
  // volume); replicas not RW are rebuilt afterwards.
  Result<void> revert(const std::filesystem::path& file);

 private:
  struct Replica;
  struct RebuildPlan;
  using ReplicaPtr = std::shared_ptr<Replica>;

  explicit Replicator(Options options);
  Result<void> start(std::vector<Member> members);

  // I/O path (replicator.cpp). Every write and discard holds its regions' locks shared while
  // it marks them and reaches the replicas (region_locks.h).
  Result<void> mark_written(std::uint64_t offset, std::uint64_t length,
                            const std::vector<ReplicaPtr>& targets);
  std::vector<ReplicaPtr> write_set() const;
  std::vector<ReplicaPtr> read_set() const;
  Result<void> fan_out(const std::vector<ReplicaPtr>& targets, std::uint64_t bytes,
                       const std::function<Result<void>(Replica&)>& op, std::uint64_t offset,
                       std::uint64_t length);
  // Marks regions a failed write may have left different between replicas (diverged_ and
  // dirty), saving the dirty marks to `targets` where they have room.
  void mark_diverged(std::uint64_t offset, std::uint64_t length,
                     const std::vector<ReplicaPtr>& targets);
  // The data of the first RW replica, or null (snapshot copies read from it).
  block::BlockBackend* first_reader() const;
  void clean_loop();
  void clean_once();
  // Copies regions a write that ran out of space may have left different (diverged_) from the
  // first RW replica to the others (rebuild.cpp).
  void converge_once();
  // Saves the membership again after it could not be (read-only); an error while it still can't.
  Result<void> leave_read_only();

  // Membership (replicator_membership.cpp). replica_failed takes members_mutex_ itself.
  // `space`: it failed for lack of space (retried later, see Options::space_retry).
  void replica_failed(const ReplicaPtr& replica, const std::string& why, std::uint64_t offset,
                      std::uint64_t length, bool space = false);
  void set_read_only(const Error& why);  // members_mutex_ held exclusively
  // ERR replicas that left for lack of space and are due for a retry become WO with a plan.
  bool retry_full_replicas();
  Result<void> save_membership();  // members_mutex_ held exclusively
  ReplicaPtr find(const std::string& id) const;
  void plan_rebuild(Replica& replica);  // members_mutex_ held exclusively

  // Rebuild (rebuild.cpp).
  void rebuild_loop();
  Result<void> rebuild_one(const ReplicaPtr& source, const ReplicaPtr& target);
  // Copies under the region's stripe, once `still_valid` (checked with the stripe held) says
  // the source is RW and the target's plan is the one being carried out.
  Result<void> copy_region_range(Replica& source, Replica& target, std::uint64_t offset,
                                 std::uint64_t length, bool target_may_hold_data,
                                 std::uint64_t& done, const std::function<bool()>& still_valid);
  void promote(const ReplicaPtr& replica, std::uint64_t plan_epoch);

  Options options_;
  bool discard_zeroes_ = true;
  std::uint64_t regions_;

  mutable std::shared_mutex members_mutex_;  // replicas_' modes and plans, generation_, meta
  std::vector<ReplicaPtr> replicas_;
  std::uint64_t generation_ = 0;
  std::atomic<std::uint64_t> degraded_since_{0};
  std::atomic<std::uint64_t> revision_{0};
  std::atomic<std::uint64_t> next_read_{0};

  // `dirty` is saved to the journals before a region's first write; `recent` lives in memory.
  std::mutex bitmap_mutex_;
  RegionBitmap dirty_, recent_, degraded_;
  // The bits of dirty_ and degraded_ known to be in the journals (set only after the save, and
  // cleared with them, under bitmap_mutex_): a writer that finds its regions here skips the
  // lock; one that finds a bit in dirty_ alone (being saved, or rolled back) takes it.
  RegionBitmap durable_dirty_, durable_degraded_;
  RegionBitmap diverged_;  // a write ran out of space there: replicas may differ until copied
  std::atomic<std::uint64_t> diverged_count_{0};
  std::string read_only_;  // members_mutex_; why writes are refused
  std::atomic<bool> read_only_flag_{false};
  mutable std::mutex space_mutex_;
  SpaceStatus space_status_;  // space_mutex_
  std::atomic<std::uint64_t> soft_threshold_events_{0};

  // I/O pauses (snapshot point, revert, remove) take this exclusively; every I/O shares it.
  std::shared_mutex io_mutex_;
  RegionLocks locks_;
  static constexpr std::size_t kStripes = RegionLocks::kStripes;

  mutable std::mutex threads_mutex_;
  std::condition_variable threads_cv_;
  bool stopping_ = false;
  bool closed_ = false;
  std::atomic<bool> closing_{false};  // close() began: I/O is refused from now on
  std::thread cleaner_;
  std::thread rebuilder_;
  std::optional<RebuildStatus> rebuild_;
  bool rebuild_busy_ = false;

  // Last: destroyed first, so that no copy thread outlives what it reads.
  SnapshotCopier copier_;
};

}  // namespace maya::replica
