#include "lib/replica/rebuilder.h"

#include <chrono>
#include <cstring>
#include <vector>

#include "lib/common/log.h"

namespace maya::replica {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

Rebuilder::Rebuilder(Volume volume) : volume_(volume), regions_(region_count(volume.size_bytes)) {}

Rebuilder::~Rebuilder() {
  stop();
}

void Rebuilder::set_size(std::uint64_t size_bytes) {
  std::lock_guard lock(mutex_);
  volume_.size_bytes = size_bytes;
  regions_ = region_count(size_bytes);
}

Rebuilder::Extent Rebuilder::extent() const {
  std::lock_guard lock(mutex_);
  return {volume_.size_bytes, regions_};
}

void Rebuilder::start() {
  thread_ = std::thread([this] { loop(); });
}

void Rebuilder::request_stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
}

void Rebuilder::stop() {
  request_stop();
  if (thread_.joinable()) thread_.join();
}

void Rebuilder::wake() {
  cv_.notify_all();
}

void Rebuilder::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    auto [target, source] = volume_.set->next_rebuild();
    if (!target && source) {  // space may be back for a replica that left when it ran out
      lock.unlock();
      const bool retried = volume_.set->retry_full_replicas();
      lock.lock();
      if (retried) continue;
    }
    if (!target || !source) {
      busy_ = false;
      cv_.notify_all();
      cv_.wait_for(lock, std::chrono::milliseconds(500));
      continue;
    }
    busy_ = true;
    lock.unlock();
    auto rebuilt = rebuild_one(source, target);
    lock.lock();
    status_.reset();
    if (!rebuilt && !stopping_) {
      const bool cancelled = rebuilt.error().message.starts_with("cancelled");
      (cancelled ? log::info : log::error)("rebuild of replica " + target->id +
                                           " stopped: " + rebuilt.error().message);
    }
    cv_.notify_all();
  }
  busy_ = false;
  cv_.notify_all();
}

void Rebuilder::wait() {
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [&] {
    if (stopping_) return true;
    if (busy_) return false;
    return !volume_.set->rebuild_pending();
  });
}

std::optional<RebuildStatus> Rebuilder::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

std::optional<RebuildStatus> Rebuilder::last() const {
  std::lock_guard lock(mutex_);
  return last_;
}

// Copies [offset, offset + length) (inside one region) from `source` to `target` with the
// region's stripe held exclusively: no write to it runs meanwhile, and writes after it reach
// both replicas. Allocated ranges are copied and read back; holes are punched on a target that
// may hold data there. `done` counts the bytes copied.
Result<void> Rebuilder::copy_region_range(Replica& source, Replica& target, std::uint64_t offset,
                                          std::uint64_t length, bool target_may_hold_data,
                                          std::uint64_t& done,
                                          const std::function<bool()>& still_valid) {
  std::shared_lock io(*volume_.io);
  std::unique_lock stripe(volume_.locks->of_region(offset >> kRegionShift));
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

Result<void> Rebuilder::rebuild_one(const ReplicaPtr& source, const ReplicaPtr& target) {
  ReplicaSet& set = *volume_.set;
  const auto [size_bytes, regions] = extent();
  auto planned = set.plan_of(target);
  if (!planned) return {};
  const RebuildPlan& plan = planned->first;
  const std::uint64_t epoch = planned->second;
  auto still_valid = [&] { return set.still_rebuilding(target, epoch, source); };
  RebuildStatus status;
  status.replica = target->id;
  status.kind = plan.full ? "full" : "regions";
  if (plan.full) {
    std::shared_lock io(*volume_.io);  // the source's handles stay put
    for (std::uint64_t pos = 0; pos < size_bytes;) {
      auto extent = source->data->extent_at(pos);
      if (!extent || extent->length == 0) break;
      if (extent->mapped) status.total_bytes += extent->length;
      pos = extent->offset + extent->length;
    }
  } else {
    for (std::uint64_t r = 0; r < regions; ++r) {
      if (plan.regions.test(r))
        status.total_bytes += std::min(kRegionBytes, size_bytes - (r << kRegionShift));
    }
  }
  {
    std::lock_guard lock(mutex_);
    status_ = status;
  }
  log::info("rebuilding replica " + target->id + " from " + source->id + " (" + status.kind + ", " +
            std::to_string(status.total_bytes) + " bytes)");
  const auto started = Clock::now();
  std::uint64_t done = 0;
  auto progress = [&] {
    double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    std::lock_guard lock(mutex_);
    if (!status_) return;
    status_->done_bytes = done;
    status_->rate_bytes_per_s = seconds > 0 ? static_cast<double>(done) / seconds : 0;
    status_->eta_seconds =
        status_->rate_bytes_per_s > 0
            ? static_cast<double>(status_->total_bytes - std::min(done, status_->total_bytes)) /
                  status_->rate_bytes_per_s
            : 0;
  };

  for (std::uint64_t r = 0; r < regions; ++r) {
    if (!plan.full && !plan.regions.test(r)) continue;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return fail("the target process is stopping");
    }
    if (!still_valid()) return fail("cancelled: the source or the plan changed");
    const std::uint64_t offset = r << kRegionShift;
    const std::uint64_t length = std::min(kRegionBytes, size_bytes - offset);
    std::uint64_t copied = 0;
    auto result = copy_region_range(*source, *target, offset, length,
                                    plan.target_may_hold_data || !plan.full, copied, still_valid);
    if (!result && result.error().message.starts_with("cancelled")) return result;
    if (!result) {
      const bool source_side = result.error().message.starts_with("source ");
      set.replica_failed(source_side ? source : target, result.error().message, 0, 0,
                         out_of_space(result.error()));
      return result;
    }
    done += plan.full ? copied : length;
    progress();
  }
  {
    std::shared_lock io(*volume_.io);
    if (!still_valid()) return fail("cancelled: the source or the plan changed");
    if (auto flushed = target->data->flush(); !flushed) {
      io.unlock();
      set.replica_failed(target, flushed.error().message, 0, 0, out_of_space(flushed.error()));
      return flushed;
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  log::info("replica " + target->id + ": " + std::to_string(done) +
            " bytes copied and verified in " + std::to_string(seconds) + " s");
  {
    std::lock_guard lock(mutex_);
    last_ = status_;
    if (last_) {
      last_->done_bytes = done;
      last_->rate_bytes_per_s = seconds > 0 ? static_cast<double>(done) / seconds : 0;
      last_->eta_seconds = 0;
    }
  }
  set.promote(target, epoch);
  return {};
}

// Regions where a write ran out of space on every replica may differ (a partial write on one):
// the first RW replica's content is copied to the others, holes included, under the region's
// stripe. A region stays marked while any copy fails (for lack of space: tried again later).
void Rebuilder::converge_once() {
  RegionMarks& marks = *volume_.marks;
  ReplicaSet& set = *volume_.set;
  if (!marks.any_diverged()) return;
  RegionBitmap todo = marks.diverged();
  const auto [size_bytes, regions] = extent();
  for (std::uint64_t region = 0; region < regions; ++region) {
    if (!todo.test(region)) continue;
    auto current = set.converge_set();
    if (!current) return;  // read-only
    const ReplicaPtr lead = current->lead;
    if (!lead) return;
    const std::uint64_t offset = region << kRegionShift;
    const std::uint64_t length = std::min(kRegionBytes, size_bytes - offset);
    bool converged = true;
    for (const auto& entry : current->others) {
      const ReplicaPtr& other = entry.first;
      const ReplicaMode mode = entry.second;
      auto still_valid = [&] { return set.still_converging(lead, other, mode); };
      std::uint64_t copied = 0;
      auto result = copy_region_range(*lead, *other, offset, length, true, copied, still_valid);
      if (result) continue;
      converged = false;
      if (result.error().message.starts_with("cancelled") || out_of_space(result.error()))
        continue;  // the set changed, or still no room: next time
      const bool source_side = result.error().message.starts_with("source ");
      set.replica_failed(source_side ? lead : other, result.error().message, 0, 0);
    }
    if (converged) marks.clear_diverged(region);
  }
}

}  // namespace maya::replica
