// Replicator's I/O path: reads, writes, flushes, discards, and the cleaner of idle dirty regions.
#include <algorithm>
#include <bit>
#include <latch>

#include "lib/common/log.h"
#include "lib/replica/replicator_internal.h"

namespace maya::replica {

const char* mode_name(ReplicaMode mode) {
  switch (mode) {
    case ReplicaMode::RW:
      return "RW";
    case ReplicaMode::WO:
      return "WO";
    case ReplicaMode::ERR:
      return "ERR";
  }
  return "?";
}

Replicator::Replicator(Options options)
    : options_(options),
      regions_(region_count(options.size_bytes)),
      dirty_(regions_),
      recent_(regions_),
      degraded_(regions_),
      durable_dirty_(regions_),
      durable_degraded_(regions_),
      diverged_(regions_),
      copier_(SnapshotCopier::Volume{
          .size_bytes = options.size_bytes,
          .locks = &locks_,
          .stopping =
              [this] {
                std::lock_guard lock(threads_mutex_);
                return stopping_;
              },
          .with_reader =
              [this](const std::function<Result<void>(block::BlockBackend*)>& copy) {
                std::shared_lock io(io_mutex_);
                return copy(first_reader());
              },
      }) {}

Replicator::~Replicator() {
  close();
}

std::vector<Replicator::ReplicaPtr> Replicator::write_set() const {
  std::shared_lock lock(members_mutex_);
  std::vector<ReplicaPtr> out;
  for (const auto& r : replicas_) {
    if (r->mode != ReplicaMode::ERR) out.push_back(r);
  }
  return out;
}

std::vector<Replicator::ReplicaPtr> Replicator::read_set() const {
  std::shared_lock lock(members_mutex_);
  std::vector<ReplicaPtr> out;
  for (const auto& r : replicas_) {
    if (r->mode == ReplicaMode::RW) out.push_back(r);
  }
  return out;
}

block::BlockBackend* Replicator::first_reader() const {
  auto readers = read_set();
  return readers.empty() ? nullptr : readers.front()->data.get();
}

Result<void> Replicator::mark_written(std::uint64_t offset, std::uint64_t length,
                                      const std::vector<ReplicaPtr>& targets) {
  if (length == 0) return {};
  const bool degraded = degraded_since_.load() != 0;
  if (targets.size() <= 1 && !degraded) return {};  // nothing can diverge
  const std::uint64_t first = offset >> kRegionShift;
  const std::uint64_t last = (offset + length - 1) >> kRegionShift;
  std::vector<std::uint64_t> dirty_words, degraded_words;
  bool need = false;
  for (std::uint64_t r = first; r <= last; ++r) {
    recent_.set(r);
    if (targets.size() > 1 && !durable_dirty_.test(r)) need = true;
    if (degraded && !durable_degraded_.test(r)) need = true;
  }
  if (!need) return {};
  std::vector<std::pair<ReplicaPtr, Error>> failed;
  {
    // Decided again under the lock: a bit another writer set is durable once its save is done
    // (and is gone again if that save found no room).
    std::lock_guard lock(bitmap_mutex_);
    std::vector<std::uint64_t> newly_dirty, newly_degraded, saving_dirty, saving_degraded;
    for (std::uint64_t r = first; r <= last; ++r) {
      if (targets.size() > 1 && !durable_dirty_.test(r)) {
        if (dirty_.set(r)) newly_dirty.push_back(r);
        dirty_words.push_back(RegionBitmap::word_of(r));
        saving_dirty.push_back(r);
      }
      if (degraded && !durable_degraded_.test(r)) {
        if (degraded_.set(r)) newly_degraded.push_back(r);
        degraded_words.push_back(RegionBitmap::word_of(r));
        saving_degraded.push_back(r);
      }
    }
    dirty_words.erase(std::unique(dirty_words.begin(), dirty_words.end()), dirty_words.end());
    degraded_words.erase(std::unique(degraded_words.begin(), degraded_words.end()),
                         degraded_words.end());
    // Durable before the data write (md's write-intent rule): after a power loss, a region
    // whose data may differ between replicas is always marked.
    for (const auto& t : targets) {
      Result<void> saved;
      for (auto w : dirty_words) {
        if (saved) saved = t->journal->save_word(BitmapKind::dirty, w, dirty_.word(w));
      }
      for (auto w : degraded_words) {
        if (saved) saved = t->journal->save_word(BitmapKind::degraded, w, degraded_.word(w));
      }
      if (saved && (!dirty_words.empty() || !degraded_words.empty())) saved = t->journal->sync();
      if (!saved) failed.emplace_back(t, saved.error());
    }
    // No journal has room for the marks: the write is refused before it starts, nobody leaves,
    // and the marks are taken back so the next write to these regions saves them again.
    const bool all_full = !failed.empty() && failed.size() == targets.size() &&
                          std::all_of(failed.begin(), failed.end(),
                                      [](const auto& f) { return out_of_space(f.second); });
    if (all_full) {
      for (auto r : newly_dirty) dirty_.clear(r);
      for (auto r : newly_degraded) degraded_.clear(r);
      return fail("out of space: " + failed.front().second.message, failed.front().second.code);
    }
    // Saved on every target that stays (those that failed leave below).
    for (auto r : saving_dirty) durable_dirty_.set(r);
    for (auto r : saving_degraded) durable_degraded_.set(r);
  }
  for (auto& [t, error] : failed)
    replica_failed(t, "journal: " + error.message, offset, length, out_of_space(error));
  return {};
}

// Regions a write that was not acknowledged may have left different between replicas: read from
// one replica and copied to the others (converge_once), dirty until then. The dirty marks are
// saved to the targets' journals where they have room (best effort: the write already failed).
void Replicator::mark_diverged(std::uint64_t offset, std::uint64_t length,
                               const std::vector<ReplicaPtr>& targets) {
  if (length == 0) return;
  std::lock_guard lock(bitmap_mutex_);
  std::vector<std::uint64_t> words;
  for (std::uint64_t r = offset >> kRegionShift; r <= (offset + length - 1) >> kRegionShift; ++r) {
    if (diverged_.set(r)) diverged_count_.fetch_add(1);
    if (dirty_.set(r)) words.push_back(RegionBitmap::word_of(r));
  }
  words.erase(std::unique(words.begin(), words.end()), words.end());
  if (words.empty()) return;
  for (const auto& t : targets) {
    for (auto w : words) (void)t->journal->save_word(BitmapKind::dirty, w, dirty_.word(w));
    (void)t->journal->sync();
  }
}

Result<void> Replicator::fan_out(const std::vector<ReplicaPtr>& targets, std::uint64_t bytes,
                                 const std::function<Result<void>(Replica&)>& op,
                                 std::uint64_t offset, std::uint64_t length) {
  // With every replica gone there is nobody to write to, and the threaded branch below needs
  // a first target: answer with an error (a CHECK CONDITION to the initiator), never a crash.
  if (targets.empty()) return fail("no replica holds the data any more (all failed)");
  std::vector<Result<void>> results(targets.size());
  if (targets.size() == 1 || bytes < options_.inline_write_bytes) {
    for (std::size_t i = 0; i < targets.size(); ++i) results[i] = op(*targets[i]);
  } else {
    std::latch done(static_cast<std::ptrdiff_t>(targets.size() - 1));
    for (std::size_t i = 1; i < targets.size(); ++i) {
      targets[i]->lane->post([&, i] {
        results[i] = op(*targets[i]);
        done.count_down();
      });
    }
    results[0] = op(*targets[0]);
    done.wait();
  }
  // Out of space on the RW replicas (they share a full store, or each filled up) and none took
  // the write: the volume is full, not broken. Those replicas stay (any that failed otherwise
  // leave); the initiator gets the cause; what the write left may differ between replicas, so
  // its regions stay dirty until they are copied.
  bool rw_ok = false, rw_any_full = false;
  std::vector<bool> was_rw(targets.size(), false);
  Error full_error;
  {
    std::shared_lock lock(members_mutex_);
    for (std::size_t i = 0; i < targets.size(); ++i) {
      was_rw[i] = targets[i]->mode == ReplicaMode::RW;
      if (!was_rw[i]) continue;
      if (results[i]) {
        rw_ok = true;
      } else if (out_of_space(results[i].error())) {
        rw_any_full = true;
        full_error = results[i].error();
      }
    }
  }
  const bool volume_full = !rw_ok && rw_any_full;
  std::string last_error;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    if (results[i]) continue;
    const bool space = out_of_space(results[i].error());
    if (volume_full && space && was_rw[i]) continue;  // stays
    last_error = results[i].error().message;
    replica_failed(targets[i], results[i].error().message, offset, length, space);
  }
  if (volume_full) {
    if (targets.size() > 1) {
      if (length > 0) {
        mark_diverged(offset, length, targets);
      } else {
        // A flush (fdatasync) that fails for space has lost written-back pages, maybe different
        // ones on each replica, and reports it once: the next flush succeeds. Every region
        // written since the last good flush is dirty; none may be cleared before it is copied.
        std::lock_guard lock(bitmap_mutex_);
        for (std::size_t w = 0; w < dirty_.words(); ++w) {
          const std::uint64_t fresh = dirty_.word(w) & ~diverged_.word(w);
          if (fresh == 0) continue;
          diverged_.set_word(w, diverged_.word(w) | fresh);
          diverged_count_.fetch_add(static_cast<std::uint64_t>(std::popcount(fresh)));
        }
      }
    }
    return fail("out of space: " + full_error.message, full_error.code);
  }
  bool served = false, refused = false;
  std::string why;
  {
    std::shared_lock lock(members_mutex_);
    for (std::size_t i = 0; i < targets.size(); ++i)
      if (results[i] && targets[i]->mode == ReplicaMode::RW) served = true;
    // Read-only: a replica left (maybe while this write ran, maybe just before it took its
    // targets) and the others could not record it for lack of space, so the durable membership
    // still names a replica that may not hold this write. Acknowledging it would let that
    // replica serve the old data as a source after a restart: the write is refused, whether or
    // not it failed anywhere itself. A flush that lost no replica has nothing to protect.
    refused = served && !read_only_.empty() && (length > 0 || !last_error.empty());
    why = read_only_;
  }
  if (refused) {
    // Not acknowledged, but its data may be on some replicas and not others: one answer for
    // reads, and the region kept dirty (durably where the journals allow) until copied.
    if (length > 0) mark_diverged(offset, length, targets);
    return fail("the volume is read-only: " + why, errno_code(ENOSPC));
  }
  if (!served) {
    return fail("no replica holds the data any more" +
                (last_error.empty() ? std::string() : " (last error: " + last_error + ")"));
  }
  return {};
}

Result<void> Replicator::read(std::uint64_t offset, std::span<std::byte> out) {
  std::shared_lock io(io_mutex_);
  if (closing_) return fail("the volume is shutting down");
  for (int attempt = 0; attempt < 16; ++attempt) {
    auto readers = read_set();
    if (readers.empty()) return fail("no replica can serve reads (all failed)");
    std::size_t pick = next_read_.fetch_add(1, std::memory_order_relaxed) % readers.size();
    if (diverged_count_.load() != 0 && !out.empty()) {  // one answer until replicas converge
      std::lock_guard lock(bitmap_mutex_);
      for (std::uint64_t r = offset >> kRegionShift;
           r <= (offset + out.size() - 1) >> kRegionShift && r < regions_; ++r)
        if (diverged_.test(r)) pick = 0;
    }
    const auto& r = readers[pick];
    auto got = r->data->read(offset, out);
    if (got) return got;
    replica_failed(r, got.error().message, 0, 0);
  }
  return fail("reads keep failing on every replica");
}

Result<void> Replicator::write(std::uint64_t offset, std::span<const std::byte> data, bool fua) {
  std::shared_lock io(io_mutex_);
  if (closing_) return fail("the volume is shutting down");
  if (read_only_flag_.load()) MAYA_TRY_VOID(leave_read_only());
  if (copier_.active()) {
    if (auto saved = copier_.before_write(offset, data.size(), [this] { return first_reader(); });
        !saved)
      return saved;
  }
  RegionLocks::Shared regions(locks_, offset, data.size());
  auto targets = write_set();
  MAYA_TRY(marked, mark_written(offset, data.size(), targets));
  MAYA_TRY(written,
           fan_out(
               targets, data.size(), [&](Replica& r) { return r.data->write(offset, data, fua); },
               offset, data.size()));
  revision_.fetch_add(1, std::memory_order_relaxed);
  return {};
}

Result<void> Replicator::discard(std::uint64_t offset, std::uint64_t length) {
  std::shared_lock io(io_mutex_);
  if (closing_) return fail("the volume is shutting down");
  if (read_only_flag_.load()) MAYA_TRY_VOID(leave_read_only());
  if (copier_.active()) {
    if (auto saved = copier_.before_write(offset, length, [this] { return first_reader(); });
        !saved)
      return saved;
  }
  RegionLocks::Shared regions(locks_, offset, length);
  auto targets = write_set();
  MAYA_TRY(marked, mark_written(offset, length, targets));
  MAYA_TRY(done, fan_out(
                     targets, 0, [&](Replica& r) { return r.data->discard(offset, length); },
                     offset, length));
  revision_.fetch_add(1, std::memory_order_relaxed);
  return {};
}

Result<void> Replicator::flush() {
  std::shared_lock io(io_mutex_);
  if (closing_) return fail("the volume is shutting down");
  auto targets = write_set();
  return fan_out(
      targets, 0,
      [](Replica& r) -> Result<void> {
        MAYA_TRY(synced, r.journal->sync());
        return r.data->flush();
      },
      0, 0);
}

Result<block::Extent> Replicator::extent_at(std::uint64_t offset) {
  std::shared_lock io(io_mutex_);
  for (int attempt = 0; attempt < 16; ++attempt) {
    auto readers = read_set();
    if (readers.empty()) return fail("no replica can serve reads (all failed)");
    auto got = readers.front()->data->extent_at(offset);
    if (got) return got;
    replica_failed(readers.front(), got.error().message, 0, 0);
  }
  return fail("every replica fails");
}

void Replicator::clean_loop() {
  std::unique_lock lock(threads_mutex_);
  while (!stopping_) {
    threads_cv_.wait_for(lock, options_.clean_interval, [&] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    clean_once();
    converge_once();
    check_space();
    lock.lock();
  }
}

// Regions that saw no write during the last interval lose their dirty bit once their data is
// flushed. A write marks its region `recent` and checks the dirty bit while holding its stripe
// shared. Here `recent` is harvested word by word (exchange), so a write marking a region after
// the harvest is seen below; every stripe with a candidate is then taken once, so writes that
// marked a region before the harvest have finished before the flush; and a bit is cleared only
// under its stripe held exclusively, and only if no write marked the region since the harvest.
void Replicator::clean_once() {
  std::shared_lock io(io_mutex_);  // replicas' handles stay put (add_replica swaps them)
  RegionBitmap candidates(regions_);
  {
    std::lock_guard lock(bitmap_mutex_);
    if (dirty_.empty()) return;
    for (std::size_t w = 0; w < dirty_.words(); ++w)  // diverged regions stay dirty
      candidates.set_word(w, dirty_.word(w) & ~recent_.take_word(w) & ~diverged_.word(w));
  }
  if (candidates.empty()) return;
  std::vector<bool> busy(kStripes, false);
  for (std::uint64_t r = 0; r < regions_; ++r) {
    if (candidates.test(r)) busy[r % kStripes] = true;
  }
  for (std::size_t s = 0; s < kStripes; ++s) {
    if (busy[s]) std::unique_lock barrier(locks_.stripe(s));  // waits for writes in flight there
  }
  // The flush goes by the write path's policy: out of space on every RW replica keeps them all
  // and keeps the dirty regions (diverged) until they are copied; any other failure, or a
  // replica that alone ran out, takes that replica out. Either way nothing is cleared now.
  auto targets = write_set();
  if (auto flushed = fan_out(
          targets, 0, [](Replica& r) { return r.data->flush(); }, 0, 0);
      !flushed)
    return;
  if (write_set().size() != targets.size()) return;
  for (std::size_t s = 0; s < kStripes; ++s) {
    if (!busy[s]) continue;
    std::unique_lock stripe(locks_.stripe(s), std::try_to_lock);
    if (!stripe.owns_lock()) continue;  // busy: next time
    std::vector<std::uint64_t> words;
    std::lock_guard lock(bitmap_mutex_);
    for (std::uint64_t r = s; r < regions_; r += kStripes) {
      if (candidates.test(r) && !recent_.test(r) && dirty_.test(r)) {
        durable_dirty_.clear(r);  // before dirty_: a writer never skips a bit being cleared
        dirty_.clear(r);
        words.push_back(RegionBitmap::word_of(r));
      }
    }
    for (const auto& t : targets) {
      for (auto w : words) (void)t->journal->save_word(BitmapKind::dirty, w, dirty_.word(w));
    }
  }
}

// The fullest store among the replicas in the volume decides: crossing space_warn_percent
// upwards logs a warning and counts one soft-threshold event; falling back below clears it.
void Replicator::check_space() {
  std::optional<block::SpaceUsage> worst;
  std::string worst_id;
  unsigned worst_percent = 0;
  {
    std::shared_lock io(io_mutex_);  // handles stay put
    std::shared_lock members(members_mutex_);
    for (const auto& r : replicas_) {
      if (!r->data || r->removed) continue;
      auto usage = r->data->space();
      if (!usage || usage->total_bytes == 0) continue;
      const std::uint64_t used =
          usage->total_bytes - std::min(usage->free_bytes, usage->total_bytes);
      const auto percent = static_cast<unsigned>(used * 100 / usage->total_bytes);
      if (!worst || percent > worst_percent) {
        worst = usage;
        worst_percent = percent;
        worst_id = r->id;
      }
    }
  }
  const unsigned warn = options_.space_warn_percent;
  std::lock_guard lock(space_mutex_);
  space_status_.usage = worst;
  space_status_.used_percent = worst ? worst_percent : 0;
  space_status_.warn_percent = warn;
  const bool over = worst && warn > 0 && worst_percent >= warn;
  if (over && space_status_.warning.empty()) {
    space_status_.warning = "the store of replica " + worst_id + " is " +
                            std::to_string(worst_percent) + "% full (warning at " +
                            std::to_string(warn) + "%): writes fail once it is full";
    log::warn(space_status_.warning);
    soft_threshold_events_.fetch_add(1);
  } else if (!over && !space_status_.warning.empty()) {
    log::info("the store of replica " + worst_id + " is " + std::to_string(worst_percent) +
              "% full again, below the warning at " + std::to_string(warn) + "%");
    space_status_.warning.clear();
  } else if (over) {
    space_status_.warning = "the store of replica " + worst_id + " is " +
                            std::to_string(worst_percent) + "% full (warning at " +
                            std::to_string(warn) + "%): writes fail once it is full";
  }
}

Result<void> Replicator::snapshot(const std::filesystem::path& file) {
  std::unique_lock io(io_mutex_);  // the point in time: no I/O in flight from here
  return copier_.take(file, [&]() -> Result<block::BlockBackend*> {
    auto readers = read_set();
    if (readers.empty()) return fail("no replica can serve reads (all failed)");
    for (const auto& r : write_set()) {
      if (auto flushed = r->data->flush(); !flushed)
        return fail("flush before the snapshot", flushed.error());
    }
    return readers.front()->data.get();
  });
}

std::optional<SnapshotCopyStatus> Replicator::snapshot_status() const {
  return copier_.status();
}

Result<void> Replicator::wait_snapshot() {
  return copier_.wait();
}

Replicator::SpaceStatus Replicator::space_status() const {
  std::lock_guard lock(space_mutex_);
  return space_status_;
}

std::optional<block::SpaceUsage> Replicator::space() const {
  std::lock_guard lock(space_mutex_);
  return space_status_.usage;
}

}  // namespace maya::replica
