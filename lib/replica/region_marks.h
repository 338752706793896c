// RegionMarks: which regions of a replicated volume may differ between its replicas, kept in
// memory and in every replica's journal (md's write-intent bitmap):
//   dirty     written since last idle: after a crash only these are compared. Saved to the
//             journals before a region's first write; cleared by the cleaner once idle and
//             flushed.
//   degraded  written while a replica was away: it copies only these when it comes back.
//   diverged  a write ran out of space there, or was refused: the replicas may differ until
//             the first RW replica's contents are copied to the others (in memory; such regions
//             stay dirty).
//   recent    written during the cleaner's current interval (in memory).
// Writers that find their regions durably marked skip the lock; one that finds a bit only in
// memory (being saved, or rolled back) takes it.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "lib/common/result.h"
#include "lib/replica/region_bitmap.h"
#include "lib/replica/replica.h"

namespace maya::replica {

class RegionMarks {
 public:
  explicit RegionMarks(std::uint64_t regions);

  std::uint64_t regions() const { return regions_.load(); }

  // Before a write or discard reaches `targets`: marks its regions recent, and dirty (more than
  // one target) and degraded (`degraded`: a replica is away) durably in the targets' journals.
  // An error when no journal has room (nothing is marked); else the targets whose journal
  // failed, which must leave.
  Result<std::vector<ReplicaError>> mark_written(std::uint64_t offset, std::uint64_t length,
                                                 const std::vector<ReplicaPtr>& targets,
                                                 bool degraded);
  // Regions a write that was not acknowledged may have left different between replicas:
  // diverged and dirty, the dirty marks saved to `targets` where they have room.
  void mark_diverged(std::uint64_t offset, std::uint64_t length,
                     const std::vector<ReplicaPtr>& targets);
  // A flush failed for space: every region written since the last good flush may differ.
  void mark_dirty_diverged();
  // Regions a replica that just failed did not get: degraded, saved to `targets`.
  void mark_degraded(std::uint64_t offset, std::uint64_t length,
                     const std::vector<ReplicaPtr>& targets);

  bool any_diverged() const { return diverged_count_.load() != 0; }
  // Whether a region of [offset, offset + length) is diverged (reads then go to one replica).
  bool diverged_in(std::uint64_t offset, std::uint64_t length);
  RegionBitmap diverged();
  void clear_diverged(std::uint64_t region);

  // The cleaner: dirty regions not written during the last interval (and not diverged), or an
  // empty bitmap. Then, per stripe held exclusively, clears those still idle and saves that to
  // `targets`.
  RegionBitmap idle_candidates();
  void clear_idle(std::size_t stripe, std::size_t stripes, const RegionBitmap& candidates,
                  const std::vector<ReplicaPtr>& targets);

  // At open, from the sources' journals (single-threaded).
  RegionBitmap& dirty() { return dirty_; }
  RegionBitmap& degraded() { return degraded_; }
  // What was loaded is in the journals: marks set from now on are saved before they count.
  void loaded();

  // Every replica holds every write again: no region is degraded, in memory and in `replicas`.
  void forget_degraded(const std::vector<ReplicaPtr>& replicas);
  // After a revert: nothing is dirty or degraded, in memory and in the journals of `replicas`
  // that are not ERR.
  void reset(const std::vector<ReplicaPtr>& replicas);
  // The volume grew to `regions`: every bitmap counts them, the new ones clear (a new range
  // was never written). With the volume's I/O held exclusively (the one thing that runs
  // outside it, converging, takes this object's lock).
  void grow(std::uint64_t regions);

 private:
  std::atomic<std::uint64_t> regions_;  // grows only with the volume's I/O held exclusively
  // A mark a writer waits to see saved (mark_written's group commit).
  struct Wanted {
    std::uint64_t region;
    BitmapKind kind;
  };
  std::mutex wanted_mutex_;     // guards wanted_ only; taken alone, or inside mutex_
  std::vector<Wanted> wanted_;  // posted, not yet taken by a save
  std::mutex mutex_;
  RegionBitmap dirty_, recent_, degraded_;
  // The bits of dirty_ and degraded_ known to be in the journals (set only after the save, and
  // cleared with them, under mutex_).
  RegionBitmap durable_dirty_, durable_degraded_;
  RegionBitmap diverged_;
  std::atomic<std::uint64_t> diverged_count_{0};
};

}  // namespace maya::replica
