// ReplicaSet: the replicas of a volume and who may serve: the choice of sources at open (a
// stale replica never wins), the failure policy (a replica that fails leaves the I/O path; one
// whose store is full is retried later), generations (whenever the RW set changes, the
// replicas that stay record a new one naming them), adding, removing and promoting replicas,
// and the read-only state while a membership cannot be saved for lack of space.
//
// Lock order: the volume's I/O lock, then this set's lock, then RegionMarks'.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "lib/common/result.h"
#include "lib/replica/region_marks.h"
#include "lib/replica/replica.h"

namespace maya::replica {

class ReplicaSet {
 public:
  struct Policy {
    std::uint64_t size_bytes = 0;
    // A replica that left because its store was full is tried again after space_retry,
    // doubling up to space_retry_max while it keeps failing.
    std::chrono::milliseconds space_retry{1000};
    std::chrono::milliseconds space_retry_max{30000};
    // Writes need a majority of the replicas (N/2 + 1 of the N in the manifest): a membership
    // with fewer RW replicas is never saved, and the volume refuses writes (EIO) until enough
    // are back, rather than go on alone. In exchange, open() accepts members of the newest
    // generation that it cannot reach, as long as it reaches a majority: a majority cannot have
    // moved on without one of them. For volumes whose owner can move (a realm's).
    bool quorum_writes = false;
    // The open saves its membership above this generation: a new owner's epoch (the realm),
    // so that an older owner, fenced, can never reach a generation as new as this one's.
    std::uint64_t min_generation = 0;
  };

  // `io`: the volume's I/O lock, taken exclusively while handles or the membership change
  // under running I/O.
  ReplicaSet(Policy policy, RegionMarks& marks, std::shared_mutex& io);

  // Takes `members` (the manifest's replicas, in order): picks the sources, marks stale ones
  // for rebuild, loads the region marks, saves the membership. Fails when no replica can serve
  // current data.
  Result<void> open(std::vector<Member> members);
  bool discard_zeroes() const { return discard_zeroes_; }

  // The replicas writes reach (RW and WO) and those reads go to (RW).
  std::vector<ReplicaPtr> write_set() const;
  std::vector<ReplicaPtr> read_set() const;
  // Which of `targets` are RW now (into `rw`, sized like `targets`).
  void rw_of(const std::vector<ReplicaPtr>& targets, std::vector<bool>& rw) const;
  // Whether a target `took(i)` says took a write is RW now, and why writes are refused (into
  // `read_only`, "" when they are not), read at one moment.
  template <class Took>
  bool served(const std::vector<ReplicaPtr>& targets, const Took& took,
              std::string& read_only) const {
    std::shared_lock lock(mutex_);
    bool any = false;
    for (std::size_t i = 0; i < targets.size(); ++i)
      if (took(i) && targets[i]->mode == ReplicaMode::RW) any = true;
    read_only = read_only_;
    return any;
  }
  // A replica is away: writes also mark their regions degraded.
  bool degraded() const { return degraded_since_.load() != 0; }
  bool read_only() const { return read_only_flag_.load(); }
  // Saves the membership again after it could not be (read-only); an error while it still can't.
  Result<void> leave_read_only();
  std::string read_only_reason() const;
  std::error_code read_only_code() const;  // ENOSPC (a full store) or EIO (no quorum)
  void count_write() { revision_.fetch_add(1, std::memory_order_relaxed); }

  // The failure policy: `replica` leaves the I/O path (ERR); the others move to a new
  // generation. `space`: it failed for lack of space (retried later). A failed write's regions
  // [offset, offset + length) are marked degraded.
  void replica_failed(const ReplicaPtr& replica, const std::string& why, std::uint64_t offset,
                      std::uint64_t length, bool space = false);
  Result<void> fail_replica(const std::string& id, const std::string& why);
  Result<void> add_replica(Member member);
  Result<void> remove_replica(const std::string& id);
  // ERR replicas that left for lack of space and are due for a retry become WO with a plan.
  bool retry_full_replicas();
  // A rebuilt replica becomes RW, if its plan is still `plan_epoch`.
  void promote(const ReplicaPtr& replica, std::uint64_t plan_epoch);
  // Copies `from` (size_bytes of it) over every RW replica; the others are rebuilt from them.
  Result<void> revert(int from);
  // Flushes, and records on the RW replicas that the volume stopped cleanly (or not).
  void close();
  // Grows every replica in the I/O path to `size_bytes` (replica_grow.cpp), the volume's I/O
  // held exclusively by the caller: their data, then their metadata. A replica that cannot
  // grow leaves as a failed one; when no RW replica can, nothing changes and that is the error.
  Result<void> grow(std::uint64_t size_bytes);

  // For the rebuilder: a WO replica with a plan and an RW replica to copy from (either null).
  std::pair<ReplicaPtr, ReplicaPtr> next_rebuild() const;
  bool rebuild_pending() const;
  // The plan of `target` and its epoch, if it has one.
  std::optional<std::pair<RebuildPlan, std::uint64_t>> plan_of(const ReplicaPtr& target) const;
  // `target` is still WO with plan `epoch`, and `source` RW.
  bool still_rebuilding(const ReplicaPtr& target, std::uint64_t epoch,
                        const ReplicaPtr& source) const;
  // For converging diverged regions: the first RW replica and the other replicas in the I/O
  // path with their modes; nothing while read-only.
  struct ConvergeSet {
    ReplicaPtr lead;
    std::vector<std::pair<ReplicaPtr, ReplicaMode>> others;
  };
  std::optional<ConvergeSet> converge_set() const;
  bool still_converging(const ReplicaPtr& lead, const ReplicaPtr& other, ReplicaMode mode) const;

  std::vector<ReplicaStatus> statuses() const;
  std::string health() const;
  std::uint64_t generation() const;
  // The fullest store among the replicas in the volume.
  struct Fullest {
    std::optional<block::SpaceUsage> usage;
    std::string id;
    unsigned percent = 0;
  };
  Fullest fullest() const;

 private:
  // The RW replicas a membership needs (a majority of the voters with quorum_writes, else 1).
  std::size_t quorum() const { return policy_.quorum_writes ? voters() / 2 + 1 : 1; }
  std::size_t voters() const;  // mutex_ held
  ReplicaPtr find(const std::string& id) const;
  // At open: whether a replica whose metadata is `meta` fits the volume's size. Metadata of a
  // smaller volume is a grow the target did not finish (the manifest is grown first): its data
  // is grown now. Of a larger one, or data smaller than its metadata says, it does not fit.
  Result<void> fit_to_volume(Replica& replica, const ReplicaMeta& meta);
  void plan_rebuild(Replica& replica);   // mutex_ held exclusively
  Result<void> save_membership();        // mutex_ held exclusively
  void set_read_only(const Error& why);  // mutex_ held exclusively

  Policy policy_;
  RegionMarks& marks_;
  std::shared_mutex& io_;
  bool discard_zeroes_ = true;

  mutable std::shared_mutex mutex_;  // replicas_' modes and plans, generation_, meta
  std::vector<ReplicaPtr> replicas_;
  std::uint64_t generation_ = 0;
  std::atomic<std::uint64_t> degraded_since_{0};
  std::atomic<std::uint64_t> revision_{0};
  std::string read_only_;  // mutex_; why writes are refused
  std::atomic<bool> read_only_flag_{false};
  std::error_code read_only_code_;  // why writes are refused: ENOSPC, or EIO (no quorum)
};

}  // namespace maya::replica
