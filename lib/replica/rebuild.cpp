// Replicator's rebuild task: one background thread that brings WO replicas up to date from an
// RW one, region by region, then makes them RW.
#include <chrono>
#include <cstring>

#include "lib/common/log.h"
#include "lib/replica/replicator_internal.h"

namespace maya::replica {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

void Replicator::rebuild_loop() {
  std::unique_lock lock(threads_mutex_);
  while (!stopping_) {
    ReplicaPtr target, source;
    {
      std::shared_lock members(members_mutex_);
      for (const auto& r : replicas_) {
        if (!target && r->mode == ReplicaMode::WO && r->plan) target = r;
        if (!source && r->mode == ReplicaMode::RW) source = r;
      }
    }
    if (!target && source) {  // space may be back for a replica that left when it ran out
      lock.unlock();
      const bool retried = retry_full_replicas();
      lock.lock();
      if (retried) continue;
    }
    if (!target || !source) {
      rebuild_busy_ = false;
      threads_cv_.notify_all();
      threads_cv_.wait_for(lock, std::chrono::milliseconds(500));
      continue;
    }
    rebuild_busy_ = true;
    lock.unlock();
    auto rebuilt = rebuild_one(source, target);
    lock.lock();
    rebuild_.reset();
    if (!rebuilt && !stopping_) {
      const bool cancelled = rebuilt.error().message.starts_with("cancelled");
      (cancelled ? log::info : log::error)("rebuild of replica " + target->id +
                                           " stopped: " + rebuilt.error().message);
    }
    threads_cv_.notify_all();
  }
  rebuild_busy_ = false;
  threads_cv_.notify_all();
}

void Replicator::wait_rebuilds() {
  std::unique_lock lock(threads_mutex_);
  threads_cv_.wait(lock, [&] {
    if (stopping_) return true;
    if (rebuild_busy_) return false;
    std::shared_lock members(members_mutex_);
    for (const auto& r : replicas_) {
      if (r->mode == ReplicaMode::WO && r->plan) return false;
    }
    return true;
  });
}

std::optional<RebuildStatus> Replicator::rebuild_status() const {
  std::lock_guard lock(threads_mutex_);
  return rebuild_;
}

// Copies [offset, offset + length) (inside one region) from `source` to `target` with the
// region's stripe held exclusively: no write to it runs meanwhile, and writes after it reach
// both replicas. Allocated ranges are copied and read back; holes are punched on a target that
// may hold data there. `done` counts the bytes copied.
Result<void> Replicator::copy_region_range(Replica& source, Replica& target, std::uint64_t offset,
                                           std::uint64_t length, bool target_may_hold_data,
                                           std::uint64_t& done,
                                           const std::function<bool()>& still_valid) {
  std::shared_lock io(io_mutex_);
  std::unique_lock stripe(locks_.of_region(offset >> kRegionShift));
  // A write that failed on the source marked it ERR while holding this stripe: checked now,
  // the source cannot have missed a write to this region.
  if (!still_valid()) return fail("cancelled: the source or the plan changed");
  std::vector<std::byte> a, b;
  const std::uint64_t end = offset + length;
  for (std::uint64_t pos = offset; pos < end;) {
    auto extent = source.data->extent_at(pos);
    if (!extent) return fail("source " + source.id, extent.error());
    const std::uint64_t stop = std::min(end, extent->offset + extent->length);
    if (stop <= pos) return fail("source " + source.id + ": no extent at " + std::to_string(pos));
    const std::uint64_t n = stop - pos;
    if (extent->mapped) {
      a.resize(n);
      b.resize(n);
      if (auto got = source.data->read(pos, a); !got)
        return fail("source " + source.id, got.error());
      if (auto put = target.data->write(pos, a, false); !put)
        return fail("target " + target.id, put.error());
      if (auto back = target.data->read(pos, b); !back)
        return fail("target " + target.id, back.error());
      if (std::memcmp(a.data(), b.data(), n) != 0)
        return fail("target " + target.id + ": what was written at " + std::to_string(pos) +
                    " reads back different");
      done += n;
    } else if (target_may_hold_data) {
      if (auto punched = target.data->discard(pos, n); !punched)
        return fail("target " + target.id, punched.error());
    }
    pos = stop;
  }
  return {};
}

Result<void> Replicator::rebuild_one(const ReplicaPtr& source, const ReplicaPtr& target) {
  RebuildPlan plan;
  std::uint64_t epoch = 0;
  {
    std::shared_lock members(members_mutex_);
    if (!target->plan) return {};
    plan.full = target->plan->full;
    plan.regions = target->plan->regions;
    plan.target_may_hold_data = target->plan->target_may_hold_data;
    epoch = target->plan_epoch;
  }
  auto still_valid = [&] {
    std::shared_lock members(members_mutex_);
    return !target->removed && target->mode == ReplicaMode::WO && target->plan_epoch == epoch &&
           source->mode == ReplicaMode::RW;
  };
  RebuildStatus status;
  status.replica = target->id;
  status.kind = plan.full ? "full" : "regions";
  if (plan.full) {
    std::shared_lock io(io_mutex_);  // the source's handles stay put
    for (std::uint64_t pos = 0; pos < options_.size_bytes;) {
      auto extent = source->data->extent_at(pos);
      if (!extent || extent->length == 0) break;
      if (extent->mapped) status.total_bytes += extent->length;
      pos = extent->offset + extent->length;
    }
  } else {
    for (std::uint64_t r = 0; r < regions_; ++r) {
      if (plan.regions.test(r))
        status.total_bytes += std::min(kRegionBytes, options_.size_bytes - (r << kRegionShift));
    }
  }
  {
    std::lock_guard lock(threads_mutex_);
    rebuild_ = status;
  }
  log::info("rebuilding replica " + target->id + " from " + source->id + " (" + status.kind + ", " +
            std::to_string(status.total_bytes) + " bytes)");
  const auto started = Clock::now();
  std::uint64_t done = 0;
  auto progress = [&] {
    double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    std::lock_guard lock(threads_mutex_);
    if (!rebuild_) return;
    rebuild_->done_bytes = done;
    rebuild_->rate_bytes_per_s = seconds > 0 ? static_cast<double>(done) / seconds : 0;
    rebuild_->eta_seconds =
        rebuild_->rate_bytes_per_s > 0
            ? static_cast<double>(rebuild_->total_bytes - std::min(done, rebuild_->total_bytes)) /
                  rebuild_->rate_bytes_per_s
            : 0;
  };

  for (std::uint64_t r = 0; r < regions_; ++r) {
    if (!plan.full && !plan.regions.test(r)) continue;
    {
      std::lock_guard lock(threads_mutex_);
      if (stopping_) return fail("the target process is stopping");
    }
    if (!still_valid()) return fail("cancelled: the source or the plan changed");
    const std::uint64_t offset = r << kRegionShift;
    const std::uint64_t length = std::min(kRegionBytes, options_.size_bytes - offset);
    std::uint64_t copied = 0;
    auto result = copy_region_range(*source, *target, offset, length,
                                    plan.target_may_hold_data || !plan.full, copied, still_valid);
    if (!result && result.error().message.starts_with("cancelled")) return result;
    if (!result) {
      const bool source_side = result.error().message.starts_with("source ");
      replica_failed(source_side ? source : target, result.error().message, 0, 0,
                     out_of_space(result.error()));
      return result;
    }
    done += plan.full ? copied : length;
    progress();
  }
  {
    std::shared_lock io(io_mutex_);
    if (!still_valid()) return fail("cancelled: the source or the plan changed");
    if (auto flushed = target->data->flush(); !flushed) {
      io.unlock();
      replica_failed(target, flushed.error().message, 0, 0, out_of_space(flushed.error()));
      return flushed;
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  log::info("replica " + target->id + ": " + std::to_string(done) +
            " bytes copied and verified in " + std::to_string(seconds) + " s");
  promote(target, epoch);
  return {};
}

// Regions where a write ran out of space on every replica may differ (a partial write on one):
// the first RW replica's content is copied to the others, holes included, under the region's
// stripe. A region stays marked while any copy fails (for lack of space: tried again later).
void Replicator::converge_once() {
  if (diverged_count_.load() == 0) return;
  RegionBitmap todo(regions_);
  {
    std::lock_guard lock(bitmap_mutex_);
    todo = diverged_;
  }
  for (std::uint64_t region = 0; region < regions_; ++region) {
    if (!todo.test(region)) continue;
    ReplicaPtr lead;
    std::vector<std::pair<ReplicaPtr, ReplicaMode>> others;
    {
      std::shared_lock members(members_mutex_);
      if (!read_only_.empty()) return;
      for (const auto& r : replicas_) {
        if (r->mode == ReplicaMode::RW && !lead) {
          lead = r;
        } else if (r->mode != ReplicaMode::ERR) {
          others.emplace_back(r, r->mode);
        }
      }
    }
    if (!lead) return;
    const std::uint64_t offset = region << kRegionShift;
    const std::uint64_t length = std::min(kRegionBytes, options_.size_bytes - offset);
    bool converged = true;
    for (const auto& entry : others) {
      const ReplicaPtr& other = entry.first;
      const ReplicaMode mode = entry.second;
      auto still_valid = [&] {
        std::shared_lock members(members_mutex_);
        return lead->mode == ReplicaMode::RW && other->mode == mode && !other->removed;
      };
      std::uint64_t copied = 0;
      auto result = copy_region_range(*lead, *other, offset, length, true, copied, still_valid);
      if (result) continue;
      converged = false;
      if (result.error().message.starts_with("cancelled") || out_of_space(result.error()))
        continue;  // the set changed, or still no room: next time
      const bool source_side = result.error().message.starts_with("source ");
      replica_failed(source_side ? lead : other, result.error().message, 0, 0);
    }
    if (converged) {
      std::lock_guard lock(bitmap_mutex_);
      diverged_.clear(region);
      diverged_count_.fetch_sub(1);
    }
  }
}

}  // namespace maya::replica
