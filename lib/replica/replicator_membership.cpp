// Replicator's replica set: choosing the sources at open, the failure policy, generations,
// adding and removing replicas, reverting to a snapshot, clean close.
#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "lib/block/file_copy.h"
#include "lib/common/fd.h"
#include "lib/common/log.h"
#include "lib/replica/replicator_internal.h"

namespace maya::replica {

Result<std::unique_ptr<Replicator>> Replicator::open(std::vector<Member> members, Options options) {
  if (members.empty()) return fail("a volume needs at least one replica");
  std::unique_ptr<Replicator> r(new Replicator(options));
  MAYA_TRY(started, r->start(std::move(members)));
  return r;
}

Replicator::ReplicaPtr Replicator::find(const std::string& id) const {
  for (const auto& r : replicas_) {
    if (r->id == id) return r;
  }
  return nullptr;
}

Result<void> Replicator::start(std::vector<Member> members) {
  std::unique_lock lock(members_mutex_);
  for (auto& m : members) {
    auto r = std::make_shared<Replica>();
    r->id = m.id;
    r->data = std::move(m.data);
    r->journal = std::move(m.journal);
    r->error = m.error;
    r->lane = std::make_unique<Lane>();
    if (r->data && r->journal) {
      if (r->data->size_bytes() < options_.size_bytes) {
        r->error = "its data is smaller than the volume";
      } else if (auto meta = r->journal->load_meta(); !meta) {
        r->error = meta.error().message;
      } else if (meta->generation != 0 && meta->size_bytes != options_.size_bytes) {
        r->error = "its metadata is of a volume of another size";
      } else {
        r->meta = *meta;
        r->mode = ReplicaMode::WO;  // decided below
      }
      if (!r->error.empty()) r->mode = ReplicaMode::ERR;
    } else if (r->error.empty()) {
      r->error = "it cannot be opened";
    }
    if (r->data) discard_zeroes_ = discard_zeroes_ && r->data->discard_zeroes();
    replicas_.push_back(std::move(r));
  }

  std::uint64_t newest = 0;
  for (const auto& r : replicas_) {
    if (r->mode != ReplicaMode::ERR) newest = std::max(newest, r->meta.generation);
  }
  std::vector<ReplicaPtr> sources;
  for (const auto& r : replicas_) {
    if (r->mode != ReplicaMode::ERR && r->meta.generation == newest) sources.push_back(r);
  }
  if (sources.empty()) {
    std::string why;
    for (const auto& r : replicas_) why += (why.empty() ? "" : "; ") + r->id + ": " + r->error;
    return fail("no replica can be opened (" + why + ")");
  }

  if (newest == 0) {
    // A new volume: every replica is a member of generation 1. If one cannot be opened, the
    // others may be new replicas that never got their data (a WO replica keeps generation 0)
    // while the unreadable one holds it: nothing can be trusted.
    for (const auto& r : replicas_) {
      if (r->mode == ReplicaMode::ERR)
        return fail("replica " + r->id + " cannot be used (" + r->error +
                    ") and no other replica has ever held data; the volume stays offline");
    }
    for (const auto& r : sources) r->mode = ReplicaMode::RW;
  } else {
    // Every member of the newest generation must be here: a missing one may have gone on
    // without the others, and what they hold may be older than what it holds.
    for (const auto& id : sources.front()->meta.members) {
      auto member = find(id);
      if (!member) {  // removed from the manifest on purpose (`maya volume replica remove`)
        log::warn("replica " + id + " of generation " + std::to_string(newest) +
                  " is no longer in the manifest; going on without it");
        continue;
      }
      bool present = std::any_of(sources.begin(), sources.end(),
                                 [&](const ReplicaPtr& s) { return s->id == id; });
      if (!present) {
        return fail("replica " + id + " holds the newest data (generation " +
                    std::to_string(newest) + ") but " + "cannot be used: " + member->error +
                    "; the volume stays offline rather than serve older data. Bring " + id +
                    " back, or remove it with `maya volume replica remove` to accept the others");
      }
    }
    // The source that saw the most writes leads; after an unclean stop the others copy the
    // regions that were dirty on any of them before they serve reads.
    ReplicaPtr lead = *std::max_element(sources.begin(), sources.end(),
                                        [](const ReplicaPtr& a, const ReplicaPtr& b) {
                                          return a->meta.revision < b->meta.revision;
                                        });
    revision_ = lead->meta.revision;
    degraded_since_ = lead->meta.degraded_since;
    if (auto bm = lead->journal->load_bitmap(BitmapKind::degraded, regions_); bm) degraded_ = *bm;
    bool all_clean = true;
    for (const auto& s : sources) {
      all_clean = all_clean && s->meta.clean;
      if (auto bm = s->journal->load_bitmap(BitmapKind::dirty, regions_); bm) dirty_.merge(*bm);
    }
    if (all_clean) dirty_.clear_all();
    lead->mode = ReplicaMode::RW;
    for (const auto& s : sources) {
      if (s == lead) continue;
      if (dirty_.empty()) {
        s->mode = ReplicaMode::RW;
      } else {
        s->plan = std::make_unique<RebuildPlan>(RebuildPlan{false, dirty_, true});
        ++s->plan_epoch;
      }
    }
  }
  generation_ = newest;
  // Stale replicas (older generations, or new ones) are rebuilt.
  for (const auto& r : replicas_) {
    if (r->mode == ReplicaMode::WO && !r->plan) plan_rebuild(*r);
  }
  bool any_away = false;
  for (const auto& r : replicas_) any_away = any_away || r->mode == ReplicaMode::ERR;
  if (any_away && degraded_since_ == 0) degraded_since_ = generation_ + 1;
  if (auto saved = save_membership(); !saved) {
    // A full store must not take the data offline: serve reads, refuse writes, say why, and
    // save the membership again once there is room (see leave_read_only).
    if (!out_of_space(saved.error())) return saved;
    set_read_only(saved.error());
  }
  // What was loaded is in the journals (the sources'); new marks are saved before they count.
  durable_dirty_ = dirty_;
  durable_degraded_ = degraded_;
  for (const auto& r : replicas_) {
    if (r->mode != ReplicaMode::ERR) (void)r->journal->save_bitmap(BitmapKind::dirty, dirty_);
    if (r->mode == ReplicaMode::ERR) log::warn("replica " + r->id + " is offline: " + r->error);
  }
  lock.unlock();
  check_space();
  cleaner_ = std::thread([this] { clean_loop(); });
  rebuilder_ = std::thread([this] { rebuild_loop(); });
  return {};
}

// The regions `replica` (WO, handles open) must copy: those written while it was away and those
// dirty when it left, if the degraded bitmap reaches back to its generation; else everything.
void Replicator::plan_rebuild(Replica& replica) {
  auto plan = std::make_unique<RebuildPlan>();
  const std::uint64_t since = degraded_since_.load();
  if (replica.meta.generation != 0 && since != 0 && replica.meta.generation + 1 >= since) {
    plan->full = false;
    plan->regions = degraded_;
    if (auto own = replica.journal->load_bitmap(BitmapKind::dirty, regions_); own)
      plan->regions.merge(*own);
    plan->regions.merge(dirty_);
  }
  // A replica with no data at all (new) needs no holes punched.
  auto first = replica.data->extent_at(0);
  plan->target_may_hold_data =
      !(first && !first->mapped && first->offset + first->length >= options_.size_bytes);
  replica.plan = std::move(plan);
  ++replica.plan_epoch;
  replica.mode = ReplicaMode::WO;
}

// Writes the new membership to every RW replica (and the others' ids are left out). Called
// whenever the RW set changes, with generation_ already advanced.
Result<void> Replicator::save_membership() {
  std::vector<std::string> members;
  for (const auto& r : replicas_) {
    if (r->mode == ReplicaMode::RW) members.push_back(r->id);
  }
  if (members.empty()) return fail("no replica is left to serve the volume");
  ++generation_;
  std::string failures;
  std::vector<std::pair<ReplicaPtr, Error>> failed;
  for (const auto& r : replicas_) {
    if (r->mode != ReplicaMode::RW) continue;
    ReplicaMeta meta{r->id,   options_.size_bytes,   generation_, revision_.load(), false,
                     members, degraded_since_.load()};
    if (auto saved = r->journal->save_meta(meta); saved) {
      r->meta = meta;
    } else {
      failed.emplace_back(r, saved.error());
    }
  }
  // No RW replica has room for its metadata: none of them is broken, the membership just
  // cannot be recorded. The caller decides (read-only until there is room).
  if (!failed.empty() && failed.size() == members.size() &&
      std::all_of(failed.begin(), failed.end(),
                  [](const auto& f) { return out_of_space(f.second); })) {
    // generation_ is not taken back: a save can fail after its rename (the directory's fsync),
    // so this number may be on a disk with this member set; the next attempt takes a new one.
    return fail(failed.front().second.message, failed.front().second.code);
  }
  for (auto& [r, error] : failed) {
    failures += (failures.empty() ? "" : "; ") + r->id + ": " + error.message;
    r->mode = ReplicaMode::ERR;
    r->error = "cannot save its metadata: " + error.message;
    if (out_of_space(error)) {
      r->out_of_space = true;
      r->retry_backoff = options_.space_retry;
      r->retry_at = std::chrono::steady_clock::now() + r->retry_backoff;
    }
  }
  if (!failures.empty()) {
    if (degraded_since_ == 0) degraded_since_ = generation_ + 1;  // they miss what follows
    log::warn("replicas failed while saving generation " + std::to_string(generation_) + ": " +
              failures);
    return save_membership();  // the set changed again
  }
  return {};
}

void Replicator::set_read_only(const Error& why) {
  if (read_only_.empty())
    log::warn("volume is read-only until space is freed (reads go on): " + why.message);
  read_only_ = why.message;
  read_only_flag_ = true;
}

Result<void> Replicator::leave_read_only() {
  std::unique_lock lock(members_mutex_);
  if (read_only_.empty()) return {};
  if (auto saved = save_membership(); !saved) {
    if (out_of_space(saved.error())) read_only_ = saved.error().message;
    return fail("the volume is read-only: " + read_only_, errno_code(ENOSPC));
  }
  log::info("the membership is saved again (generation " + std::to_string(generation_) +
            "); the volume takes writes");
  read_only_.clear();
  read_only_flag_ = false;
  return {};
}

std::string Replicator::read_only_reason() const {
  std::shared_lock lock(members_mutex_);
  return read_only_;
}

bool Replicator::retry_full_replicas() {
  const auto now = std::chrono::steady_clock::now();
  auto due = [&](const Replica& r) {
    return r.mode == ReplicaMode::ERR && r.out_of_space && !r.removed && r.data && r.journal &&
           now >= r.retry_at;
  };
  {
    std::shared_lock lock(members_mutex_);
    if (!read_only_.empty() || std::none_of(replicas_.begin(), replicas_.end(),
                                            [&](const ReplicaPtr& r) { return due(*r); }))
      return false;
  }
  // As add_replica: no write is in flight while the plan is made, so none is missed by it.
  std::unique_lock io(io_mutex_);
  std::unique_lock lock(members_mutex_);
  for (const auto& r : replicas_) {
    if (!due(*r)) continue;
    plan_rebuild(*r);
    r->error.clear();
    log::info("replica " + r->id + " left because its store was full; trying to rebuild it");
    return true;
  }
  return false;
}

void Replicator::replica_failed(const ReplicaPtr& replica, const std::string& why,
                                std::uint64_t offset, std::uint64_t length, bool space) {
  {
    std::unique_lock lock(members_mutex_);
    if (replica->mode != ReplicaMode::ERR) {
      const bool was_rw = replica->mode == ReplicaMode::RW;
      replica->mode = ReplicaMode::ERR;
      replica->error = why;
      replica->plan.reset();
      ++replica->plan_epoch;
      if (space) {  // retried when space may be back, less often while it keeps failing
        replica->retry_backoff =
            replica->out_of_space && replica->retry_backoff.count() > 0
                ? std::min(replica->retry_backoff * 2, options_.space_retry_max)
                : options_.space_retry;
        replica->retry_at = std::chrono::steady_clock::now() + replica->retry_backoff;
      }
      replica->out_of_space = space;
      log::error("replica " + replica->id + " failed and left the volume: " + why +
                 (space ? " (retried in " + std::to_string(replica->retry_backoff.count()) + " ms)"
                        : std::string()));
      if (degraded_since_ == 0) degraded_since_ = generation_ + 1;
      if (was_rw) {
        if (auto saved = save_membership(); !saved) {
          log::error(saved.error().message);
          if (out_of_space(saved.error())) set_read_only(saved.error());
        }
      }
    }
  }
  // The write that failed here is not on that replica: remember its regions.
  if (length > 0) {
    const auto targets = write_set();  // before bitmap_mutex_: members_mutex_ comes first
    std::lock_guard lock(bitmap_mutex_);
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
}

Result<void> Replicator::fail_replica(const std::string& id, const std::string& why) {
  ReplicaPtr r;
  {
    std::shared_lock lock(members_mutex_);
    r = find(id);
  }
  if (!r) return fail("volume has no replica " + id);
  replica_failed(r, why, 0, 0);
  return {};
}

Result<void> Replicator::add_replica(Member member) {
  if (!member.data || !member.journal)
    return fail("replica " + member.id + " cannot be opened: " + member.error);
  if (member.data->size_bytes() < options_.size_bytes)
    return fail("replica " + member.id + " is smaller than the volume");
  MAYA_TRY(meta, member.journal->load_meta());
  std::unique_lock io(io_mutex_);  // no I/O holds the old handles meanwhile
  std::unique_lock lock(members_mutex_);
  auto existing = find(member.id);
  if (existing && existing->mode != ReplicaMode::ERR)
    return fail("replica " + member.id + " is already part of the volume (" +
                mode_name(existing->mode) + ")");
  auto r = existing ? existing : std::make_shared<Replica>();
  r->id = member.id;
  r->data = std::move(member.data);
  r->journal = std::move(member.journal);
  r->meta =
      (meta->generation != 0 && meta->size_bytes == options_.size_bytes) ? *meta : ReplicaMeta{};
  r->error.clear();
  if (!r->lane) r->lane = std::make_unique<Lane>();
  plan_rebuild(*r);
  if (!existing) replicas_.push_back(r);
  log::info("replica " + r->id + " joins the volume write-only; rebuilding " +
            (r->plan->full ? std::string("everything")
                           : std::to_string(r->plan->regions.count()) + " region(s)"));
  lock.unlock();
  threads_cv_.notify_all();
  return {};
}

Result<void> Replicator::remove_replica(const std::string& id) {
  std::unique_lock io(io_mutex_);
  std::unique_lock lock(members_mutex_);
  auto r = find(id);
  if (!r) return fail("volume has no replica " + id);
  if (r->mode == ReplicaMode::RW) {
    auto rw = std::count_if(replicas_.begin(), replicas_.end(),
                            [](const ReplicaPtr& x) { return x->mode == ReplicaMode::RW; });
    if (rw == 1)
      return fail("replica " + id + " is the last one holding the data; add another first");
  }
  const bool was_rw = r->mode == ReplicaMode::RW;
  r->removed = true;
  r->mode = ReplicaMode::ERR;
  replicas_.erase(std::find(replicas_.begin(), replicas_.end(), r));
  if (was_rw) {
    MAYA_TRY(saved, save_membership());
  }
  log::info("replica " + id + " removed from the volume");
  return {};
}

void Replicator::promote(const ReplicaPtr& replica, std::uint64_t plan_epoch) {
  std::unique_lock lock(members_mutex_);
  if (replica->removed || replica->mode != ReplicaMode::WO || replica->plan_epoch != plan_epoch)
    return;  // it failed, left, or got a new plan meanwhile
  const std::uint64_t since = degraded_since_.load();
  replica->mode = ReplicaMode::RW;
  const bool all_rw = std::all_of(replicas_.begin(), replicas_.end(),
                                  [](const ReplicaPtr& r) { return r->mode == ReplicaMode::RW; });
  if (all_rw) degraded_since_ = 0;
  if (auto saved = save_membership(); !saved) {
    // It is no member on disk, so it must not serve reads (a restart would not count it) and the
    // regions it missed stay marked. It goes out again and is retried later, as a replica whose
    // store was full (the others' stores are: nothing else stops the membership being saved).
    degraded_since_ = since;
    if (replica->mode == ReplicaMode::RW) {
      replica->mode = ReplicaMode::ERR;
      replica->plan.reset();
      ++replica->plan_epoch;
      replica->error =
          "rebuilt, but the membership naming it cannot be saved: " + saved.error().message;
      replica->out_of_space = true;
      replica->retry_backoff = replica->retry_backoff.count() > 0
                                   ? std::min(replica->retry_backoff * 2, options_.space_retry_max)
                                   : options_.space_retry;
      replica->retry_at = std::chrono::steady_clock::now() + replica->retry_backoff;
    }
    log::error("replica " + replica->id + " is rebuilt but cannot join (retried in " +
               std::to_string(replica->retry_backoff.count()) + " ms): " + saved.error().message);
    return;
  }
  replica->plan.reset();
  replica->out_of_space = false;
  replica->retry_backoff = std::chrono::milliseconds(0);
  // Only once the membership naming every replica is saved are the regions they missed
  // forgotten (a replica that failed while it was saved keeps the volume degraded).
  const bool still_all_rw =
      std::all_of(replicas_.begin(), replicas_.end(),
                  [](const ReplicaPtr& r) { return r->mode == ReplicaMode::RW; });
  if (all_rw && still_all_rw) {
    std::lock_guard bits(bitmap_mutex_);
    durable_degraded_.clear_all();
    degraded_.clear_all();
    for (const auto& r : replicas_) (void)r->journal->save_bitmap(BitmapKind::degraded, degraded_);
  }
  log::info("replica " + replica->id + " is rebuilt and serves reads (generation " +
            std::to_string(generation_) + ")");
}

// Every RW replica gets the snapshot's contents; the others are rebuilt from them.
Result<void> Replicator::revert(const std::filesystem::path& file) {
  Fd from(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (from.get() < 0) return fail("cannot open " + file.string() + ": " + std::strerror(errno));
  if (copier_.copying()) return fail("a snapshot is still being copied; try again when it is done");
  std::unique_lock io(io_mutex_);
  std::unique_lock lock(members_mutex_);
  for (const auto& r : replicas_) {
    if (r->mode != ReplicaMode::RW) continue;
    if (r->data->native_fd() < 0) return fail("replica " + r->id + " is not a file");
    auto copied = block::copy_fd(from.get(), r->data->native_fd(), options_.size_bytes);
    if (!copied) {
      r->mode = ReplicaMode::ERR;
      r->error = "revert failed: " + copied.error().message;
      log::error("replica " + r->id + ": " + r->error);
    }
  }
  // Every RW replica now holds the snapshot; the others copy everything again.
  for (const auto& r : replicas_) {
    if (r->mode == ReplicaMode::WO) plan_rebuild(*r);
    if (r->mode == ReplicaMode::WO && r->plan)
      r->plan->full = true;  // plan_rebuild bumped the epoch
  }
  // Replicas that are away hold pre-revert data everywhere: when they come back they copy
  // everything (their generation is older than where the degraded bitmap starts now).
  const bool any_away = std::any_of(replicas_.begin(), replicas_.end(),
                                    [](const ReplicaPtr& r) { return r->mode != ReplicaMode::RW; });
  degraded_since_ = any_away ? generation_ + 2 : 0;  // save_membership() moves to generation_ + 1
  {
    std::lock_guard bits(bitmap_mutex_);
    durable_dirty_.clear_all();
    durable_degraded_.clear_all();
    dirty_.clear_all();
    degraded_.clear_all();
    for (const auto& r : replicas_) {
      if (r->mode == ReplicaMode::ERR) continue;
      (void)r->journal->save_bitmap(BitmapKind::dirty, dirty_);
      (void)r->journal->save_bitmap(BitmapKind::degraded, degraded_);
      (void)r->journal->sync();
    }
  }
  MAYA_TRY(saved, save_membership());
  lock.unlock();
  threads_cv_.notify_all();
  return {};
}

std::vector<ReplicaStatus> Replicator::replicas() const {
  std::shared_lock lock(members_mutex_);
  std::vector<ReplicaStatus> out;
  for (const auto& r : replicas_) {
    out.push_back({r->id, r->mode, r->meta.generation,
                   r->mode == ReplicaMode::RW ? revision_.load() : r->meta.revision, r->error});
  }
  return out;
}

std::string Replicator::health() const {
  std::shared_lock lock(members_mutex_);
  std::size_t rw = 0;
  for (const auto& r : replicas_) rw += r->mode == ReplicaMode::RW ? 1 : 0;
  if (rw == 0) return "failed";
  return rw == replicas_.size() ? "healthy" : "degraded";
}

std::uint64_t Replicator::generation() const {
  std::shared_lock lock(members_mutex_);
  return generation_;
}

void Replicator::close() {
  closing_ = true;  // I/O that starts now fails; what is in flight ends before the clean mark
  {
    std::lock_guard lock(threads_mutex_);
    if (closed_) return;
    closed_ = true;
    stopping_ = true;
  }
  threads_cv_.notify_all();
  if (cleaner_.joinable()) cleaner_.join();
  if (rebuilder_.joinable()) rebuilder_.join();
  (void)wait_snapshot();
  std::unique_lock io(io_mutex_);
  std::unique_lock lock(members_mutex_);
  // Clean: everything flushed, nothing in flight; the dirty regions are settled.
  bool flushed = true;
  for (const auto& r : replicas_) {
    if (r->mode == ReplicaMode::ERR) continue;
    flushed = r->data->flush().has_value() && r->journal->sync().has_value() && flushed;
  }
  for (const auto& r : replicas_) {
    if (r->mode != ReplicaMode::RW) continue;
    ReplicaMeta meta = r->meta;
    meta.revision = revision_.load();
    meta.clean = flushed;
    meta.degraded_since = degraded_since_.load();
    if (auto saved = r->journal->save_meta(meta); !saved)
      log::warn("replica " + r->id + ": " + saved.error().message);
  }
}

}  // namespace maya::replica
