// Rebuilder: one background thread that brings WO replicas up to date from an RW one, region by
// region under the region's lock (so writes meanwhile land right), each region read back and
// compared, then has the replica set promote them to RW. It also retries replicas that left
// for lack of space, and converges regions a write that ran out of space may have left
// different between replicas (converge_once, run by the cleaner).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>

#include "lib/common/result.h"
#include "lib/replica/region_locks.h"
#include "lib/replica/region_marks.h"
#include "lib/replica/replica_set.h"

namespace maya::replica {

struct RebuildStatus {
  std::string replica;
  std::string kind;  // "full" | "regions"
  std::uint64_t done_bytes = 0, total_bytes = 0;
  double rate_bytes_per_s = 0;
  double eta_seconds = 0;
};

class Rebuilder {
 public:
  struct Volume {
    std::uint64_t size_bytes = 0;
    ReplicaSet* set = nullptr;
    RegionMarks* marks = nullptr;
    RegionLocks* locks = nullptr;
    std::shared_mutex* io = nullptr;  // the volume's I/O lock, held shared while copying
  };
  explicit Rebuilder(Volume volume);
  ~Rebuilder();  // stop()

  void start();
  // Asks the thread to stop (a running rebuild ends at its next region).
  void request_stop();
  void stop();  // request_stop() and join
  // A replica may need a rebuild: look now rather than at the next poll.
  void wake();
  // Waits until no rebuild is pending or running (or the rebuilder stops).
  void wait();
  std::optional<RebuildStatus> status() const;
  // The last rebuild that finished (done_bytes: what it copied), since the target started.
  std::optional<RebuildStatus> last() const;

  // Copies regions a write that ran out of space may have left different (diverged) from the
  // first RW replica to the others.
  void converge_once();
  // The volume grew (its I/O held exclusively, no rebuild running): rebuilds and converging
  // from now on cover `size_bytes`.
  void set_size(std::uint64_t size_bytes);

 private:
  struct Extent {
    std::uint64_t size_bytes, regions;
  };
  Extent extent() const;  // the volume's size now, read under mutex_
  void loop();
  Result<void> rebuild_one(const ReplicaPtr& source, const ReplicaPtr& target);
  // Copies under the region's lock, once `still_valid` (checked with the lock held) says the
  // source is RW and the target's plan is the one being carried out.
  Result<void> copy_region_range(Replica& source, Replica& target, std::uint64_t offset,
                                 std::uint64_t length, bool target_may_hold_data,
                                 std::uint64_t& done, const std::function<bool()>& still_valid);

  Volume volume_;  // volume_.size_bytes and regions_ change under mutex_ (set_size)
  std::uint64_t regions_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool busy_ = false;
  std::optional<RebuildStatus> status_;
  std::optional<RebuildStatus> last_;
  std::thread thread_;
};

}  // namespace maya::replica
