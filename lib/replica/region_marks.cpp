#include "lib/replica/region_marks.h"

#include <algorithm>
#include <bit>

namespace maya::replica {

RegionMarks::RegionMarks(std::uint64_t regions)
    : regions_(regions),
      dirty_(regions),
      recent_(regions),
      degraded_(regions),
      durable_dirty_(regions),
      durable_degraded_(regions),
      diverged_(regions) {}

Result<std::vector<ReplicaError>> RegionMarks::mark_written(std::uint64_t offset,
                                                            std::uint64_t length,
                                                            const std::vector<ReplicaPtr>& targets,
                                                            bool degraded) {
  std::vector<ReplicaError> failed;
  if (length == 0) return failed;
  if (targets.size() <= 1 && !degraded) return failed;  // nothing can diverge
  const std::uint64_t first = offset >> kRegionShift;
  const std::uint64_t last = (offset + length - 1) >> kRegionShift;
  std::vector<std::uint64_t> dirty_words, degraded_words;
  bool need = false;
  for (std::uint64_t r = first; r <= last; ++r) {
    recent_.set(r);
    if (targets.size() > 1 && !durable_dirty_.test(r)) need = true;
    if (degraded && !durable_degraded_.test(r)) need = true;
  }
  if (!need) return failed;
  // Decided again under the lock: a bit another writer set is durable once its save is done
  // (and is gone again if that save found no room).
  std::lock_guard lock(mutex_);
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
    if (!saved) failed.push_back({t, saved.error()});
  }
  // No journal has room for the marks: the write is refused before it starts, nobody leaves,
  // and the marks are taken back so the next write to these regions saves them again.
  const bool all_full = !failed.empty() && failed.size() == targets.size() &&
                        std::all_of(failed.begin(), failed.end(),
                                    [](const ReplicaError& f) { return out_of_space(f.error); });
  if (all_full) {
    for (auto r : newly_dirty) dirty_.clear(r);
    for (auto r : newly_degraded) degraded_.clear(r);
    return fail("out of space: " + failed.front().error.message, failed.front().error.code);
  }
  // Saved on every target that stays (those that failed leave).
  for (auto r : saving_dirty) durable_dirty_.set(r);
  for (auto r : saving_degraded) durable_degraded_.set(r);
  return failed;
}

// Regions a write that was not acknowledged may have left different between replicas: read from
// one replica and copied to the others (the rebuilder's converge), dirty until then. The dirty
// marks are saved to the targets' journals where they have room (best effort: the write
// already failed).
void RegionMarks::mark_diverged(std::uint64_t offset, std::uint64_t length,
                                const std::vector<ReplicaPtr>& targets) {
  if (length == 0) return;
  std::lock_guard lock(mutex_);
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

// A flush (fdatasync) that fails for space has lost written-back pages, maybe different ones on
// each replica, and reports it once: the next flush succeeds. Every region written since the
// last good flush is dirty; none may be cleared before it is copied.
void RegionMarks::mark_dirty_diverged() {
  std::lock_guard lock(mutex_);
  for (std::size_t w = 0; w < dirty_.words(); ++w) {
    const std::uint64_t fresh = dirty_.word(w) & ~diverged_.word(w);
    if (fresh == 0) continue;
    diverged_.set_word(w, diverged_.word(w) | fresh);
    diverged_count_.fetch_add(static_cast<std::uint64_t>(std::popcount(fresh)));
  }
}

void RegionMarks::mark_degraded(std::uint64_t offset, std::uint64_t length,
                                const std::vector<ReplicaPtr>& targets) {
  std::lock_guard lock(mutex_);
  const std::uint64_t first = offset >> kRegionShift;
  const std::uint64_t last = (offset + length - 1) >> kRegionShift;
  std::vector<std::uint64_t> words;
  for (std::uint64_t r = first; r <= last; ++r) {
    if (degraded_.set(r)) words.push_back(RegionBitmap::word_of(r));
  }
  // Durable before the write that failed on the replica is acknowledged.
  for (const auto& t : targets) {
    for (auto w : words) (void)t->journal->save_word(BitmapKind::degraded, w, degraded_.word(w));
    if (!words.empty()) (void)t->journal->sync();
  }
}

bool RegionMarks::diverged_in(std::uint64_t offset, std::uint64_t length) {
  std::lock_guard lock(mutex_);
  bool any = false;
  for (std::uint64_t r = offset >> kRegionShift;
       r <= (offset + length - 1) >> kRegionShift && r < regions_; ++r)
    if (diverged_.test(r)) any = true;
  return any;
}

RegionBitmap RegionMarks::diverged() {
  std::lock_guard lock(mutex_);
  return diverged_;
}

void RegionMarks::clear_diverged(std::uint64_t region) {
  std::lock_guard lock(mutex_);
  diverged_.clear(region);
  diverged_count_.fetch_sub(1);
}

RegionBitmap RegionMarks::idle_candidates() {
  RegionBitmap candidates(regions_.load());
  std::lock_guard lock(mutex_);
  if (dirty_.empty()) return candidates;
  for (std::size_t w = 0; w < dirty_.words(); ++w)  // diverged regions stay dirty
    candidates.set_word(w, dirty_.word(w) & ~recent_.take_word(w) & ~diverged_.word(w));
  return candidates;
}

void RegionMarks::clear_idle(std::size_t stripe, std::size_t stripes,
                             const RegionBitmap& candidates,
                             const std::vector<ReplicaPtr>& targets) {
  std::vector<std::uint64_t> words;
  std::lock_guard lock(mutex_);
  for (std::uint64_t r = stripe; r < regions_; r += stripes) {
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

void RegionMarks::grow(std::uint64_t regions) {
  std::lock_guard lock(mutex_);
  if (regions <= regions_) return;
  for (RegionBitmap* b :
       {&dirty_, &recent_, &degraded_, &durable_dirty_, &durable_degraded_, &diverged_})
    b->grow(regions);
  regions_ = regions;
}

void RegionMarks::loaded() {
  durable_dirty_ = dirty_;
  durable_degraded_ = degraded_;
}

void RegionMarks::forget_degraded(const std::vector<ReplicaPtr>& replicas) {
  std::lock_guard lock(mutex_);
  durable_degraded_.clear_all();
  degraded_.clear_all();
  for (const auto& r : replicas) (void)r->journal->save_bitmap(BitmapKind::degraded, degraded_);
}

void RegionMarks::reset(const std::vector<ReplicaPtr>& replicas) {
  std::lock_guard lock(mutex_);
  durable_dirty_.clear_all();
  durable_degraded_.clear_all();
  dirty_.clear_all();
  degraded_.clear_all();
  for (const auto& r : replicas) {
    if (r->mode == ReplicaMode::ERR) continue;
    (void)r->journal->save_bitmap(BitmapKind::dirty, dirty_);
    (void)r->journal->save_bitmap(BitmapKind::degraded, degraded_);
    (void)r->journal->sync();
  }
}

}  // namespace maya::replica
