// Growing a replicated volume in place (`maya volume resize`, EBS ModifyVolume): the replica
// set's part (data, then metadata, of every replica in the I/O path), the replicator's (the
// volume's I/O paused, the region marks, the rebuilder's and the snapshot copier's size), and
// the check at open that lets a replica whose grow was cut short by a crash catch up.
//
// The manifest's size is the truth: the daemon writes it first, then asks the target to grow.
// A crash anywhere after that leaves replicas whose metadata says a smaller size; at open their
// data is grown and they serve (fit_to_volume). Metadata of a larger size is never accepted: a
// volume does not shrink.
#include <algorithm>

#include "lib/common/log.h"
#include "lib/replica/replica_set.h"
#include "lib/replica/replicator.h"

namespace maya::replica {

Result<void> ReplicaSet::fit_to_volume(Replica& replica, const ReplicaMeta& meta) {
  const std::uint64_t size = policy_.size_bytes;
  const std::uint64_t data = replica.data->size_bytes();
  if (meta.generation != 0 && meta.size_bytes > size)
    return fail("its metadata is of a larger volume (" + std::to_string(meta.size_bytes) +
                " bytes, the volume is " + std::to_string(size) + "); a volume cannot shrink");
  if (data >= size) return {};
  // Data smaller than the volume: a grow that did not reach it, if its metadata says so.
  if (meta.generation != 0 && (meta.size_bytes == size || data < meta.size_bytes))
    return fail("its data is smaller than the volume");
  if (auto grown = replica.data->grow(size); !grown)
    return fail("its data is smaller than the volume and cannot grow: " + grown.error().message);
  log::info("replica " + replica.id + " grown from " + std::to_string(data) + " to " +
            std::to_string(size) + " bytes (a grow of the volume had not reached it)");
  return {};
}

Result<void> ReplicaSet::grow(std::uint64_t size_bytes) {
  std::vector<ReplicaPtr> targets;
  {
    std::shared_lock lock(mutex_);
    for (const auto& r : replicas_)
      if (r->mode != ReplicaMode::ERR) targets.push_back(r);
  }
  // The data first: metadata that names the new size must never sit beside smaller data.
  std::vector<ReplicaError> failed;
  bool any_rw = false;
  for (const auto& r : targets) {
    // Data already as large (a backend made larger than the volume) has nothing to do.
    if (r->data->size_bytes() >= size_bytes) {
      std::shared_lock lock(mutex_);
      any_rw = any_rw || r->mode == ReplicaMode::RW;
      continue;
    }
    if (auto grown = r->data->grow(size_bytes); !grown) {
      failed.push_back({r, grown.error()});
    } else {
      std::shared_lock lock(mutex_);
      any_rw = any_rw || r->mode == ReplicaMode::RW;
    }
  }
  // With no RW replica grown the volume stays as it was (a WO one that did grow is only larger
  // than what it exports).
  if (!any_rw)
    return fail("no replica can grow to " + std::to_string(size_bytes) +
                " bytes: " + describe(failed));
  {
    std::unique_lock lock(mutex_);
    policy_.size_bytes = size_bytes;
  }
  for (auto& [r, error] : failed)
    replica_failed(r, "cannot grow to " + std::to_string(size_bytes) + " bytes: " + error.message,
                   0, 0, out_of_space(error));
  // Then the metadata of those that grew. One that cannot be saved keeps the old size, which
  // open accepts (a grow that did not finish); a journal failing otherwise takes it out.
  std::vector<ReplicaError> unsaved;
  {
    std::unique_lock lock(mutex_);
    for (const auto& r : replicas_) {
      if (r->mode == ReplicaMode::ERR) continue;
      ReplicaMeta meta = r->meta;
      meta.size_bytes = size_bytes;
      if (r->mode == ReplicaMode::RW) meta.revision = revision_.load();
      if (auto saved = r->journal->save_meta(meta); saved) {
        r->meta = meta;
      } else if (out_of_space(saved.error())) {
        log::warn("replica " + r->id +
                  " grew but its metadata keeps the old size for now: " + saved.error().message);
      } else {
        unsaved.push_back({r, saved.error()});
      }
    }
  }
  for (auto& [r, error] : unsaved)
    replica_failed(r, "cannot save its metadata after growing: " + error.message, 0, 0);
  return {};
}

Result<void> Replicator::grow(std::uint64_t new_size) {
  std::unique_lock io(io_mutex_);  // no I/O in flight: every replica changes size at once
  if (closing_) return fail("the volume is shutting down");
  const std::uint64_t size = options_.size_bytes;
  if (new_size < size)
    return fail("the volume is " + std::to_string(size) + " bytes; it cannot shrink to " +
                std::to_string(new_size));
  if (new_size == size) return {};
  if (new_size % options_.block_size != 0)
    return fail(std::to_string(new_size) + " bytes is not a whole number of " +
                std::to_string(options_.block_size) + "-byte blocks");
  // A copy running over the old size would miss the new range, and its region plan with it.
  if (auto running = rebuilder_.status())
    return fail("a rebuild of replica " + running->replica +
                " is running; resize once it completes");
  if (auto pending = set_.next_rebuild().first)
    return fail("a rebuild of replica " + pending->id + " is running; resize once it completes");
  if (copier_.copying()) return fail("a snapshot is still being copied; resize once it completes");
  MAYA_TRY_VOID(set_.grow(new_size));
  marks_.grow(region_count(new_size));
  rebuilder_.set_size(new_size);
  copier_.set_size(new_size);
  options_.size_bytes = new_size;
  size_bytes_.store(new_size, std::memory_order_release);
  log::info("volume grown from " + std::to_string(size) + " to " + std::to_string(new_size) +
            " bytes (" + set_.health() + ")");
  return {};
}

}  // namespace maya::replica
