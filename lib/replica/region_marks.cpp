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
  const bool dirty = targets.size() > 1;
  const std::uint64_t first = offset >> kRegionShift;
  const std::uint64_t last = (offset + length - 1) >> kRegionShift;
  std::vector<Wanted> own;
  for (std::uint64_t r = first; r <= last; ++r) {
    recent_.set(r);
    if (dirty && !durable_dirty_.test(r)) own.push_back({r, BitmapKind::dirty});
    if (degraded && !durable_degraded_.test(r)) own.push_back({r, BitmapKind::degraded});
  }
  if (own.empty()) return failed;
  // Group commit: the marks wanted are posted, and whoever takes the lock next saves all those
  // posted so far, its own with them. Writers waiting behind a save usually find theirs saved
  // by it (one round of journal syncs for many regions, not one each).
  {
    std::lock_guard posting(wanted_mutex_);
    wanted_.insert(wanted_.end(), own.begin(), own.end());
  }
  std::lock_guard lock(mutex_);
  std::vector<Wanted> batch;
  {
    std::lock_guard posting(wanted_mutex_);
    batch.swap(wanted_);
  }
  // Its own again: a save that took them may have failed (and taken the bits back).
  batch.insert(batch.end(), own.begin(), own.end());
  std::sort(batch.begin(), batch.end(), [](const Wanted& a, const Wanted& b) {
    return a.kind != b.kind ? a.kind < b.kind : a.region < b.region;
  });
  batch.erase(std::unique(batch.begin(), batch.end(),
                          [](const Wanted& a, const Wanted& b) {
                            return a.kind == b.kind && a.region == b.region;
                          }),
              batch.end());
  std::vector<std::uint64_t> newly_dirty, newly_degraded, saving_dirty, saving_degraded;
  std::vector<std::uint64_t> dirty_words, degraded_words;
  for (const Wanted& w : batch) {
    const bool is_dirty = w.kind == BitmapKind::dirty;
    RegionBitmap& durable = is_dirty ? durable_dirty_ : durable_degraded_;
    if (durable.test(w.region)) continue;
    (is_dirty ? saving_dirty : saving_degraded).push_back(w.region);
    if ((is_dirty ? dirty_ : degraded_).set(w.region))
      (is_dirty ? newly_dirty : newly_degraded).push_back(w.region);
    (is_dirty ? dirty_words : degraded_words).push_back(RegionBitmap::word_of(w.region));
  }
  if (saving_dirty.empty() && saving_degraded.empty()) return failed;  // saved by another
  for (auto* words : {&dirty_words, &degraded_words})                  // sorted: regions were
    words->erase(std::unique(words->begin(), words->end()), words->end());
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
    if (saved) saved = t->journal->sync();
    if (!saved) failed.push_back({t, saved.error()});
  }
  // No journal has room for the marks: the write is refused before it starts, nobody leaves,
  // and the marks are taken back so the next write to these regions saves them again (the
  // writers whose marks this save took find them not saved, and try themselves).
  const bool all_full = !failed.empty() && failed.size() == targets.size() &&
                        std::all_of(failed.begin(), failed.end(),
                                    [](const ReplicaError& f) { return out_of_space(f.error); });
  if (all_full) {
    for (auto r : newly_dirty) dirty_.clear(r);
    for (auto r : newly_degraded) degraded_.clear(r);
    // A writer whose own marks an earlier save made durable is not refused for the others'.
    const bool own_durable = std::all_of(own.begin(), own.end(), [&](const Wanted& w) {
      return (w.kind == BitmapKind::dirty ? durable_dirty_ : durable_degraded_).test(w.region);
    });
    if (own_durable) return std::vector<ReplicaError>{};
    return fail("out of space: " + failed.front().error.message, failed.front().error.code);
  }
  // A journal that failed here is reported to this writer only, which makes its replica leave;
  // the writers whose marks this save took find them durable and go on, as if saved first.
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
