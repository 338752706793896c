#include "lib/replica/replica_set.h"

#include <algorithm>

#include "lib/block/file_copy.h"
#include "lib/common/log.h"

namespace maya::replica {

namespace {
// save_membership's refusal of a membership without a majority (quorum_writes).
bool no_quorum(const Error& error) {
  return error.code == errno_code(EIO);
}
}  // namespace

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

ReplicaSet::ReplicaSet(Policy policy, RegionMarks& marks, std::shared_mutex& io)
    : policy_(policy), marks_(marks), io_(io) {}

std::vector<ReplicaPtr> ReplicaSet::write_set() const {
  std::shared_lock lock(mutex_);
  std::vector<ReplicaPtr> out;
  for (const auto& r : replicas_) {
    if (r->mode != ReplicaMode::ERR) out.push_back(r);
  }
  return out;
}

std::vector<ReplicaPtr> ReplicaSet::read_set() const {
  std::shared_lock lock(mutex_);
  std::vector<ReplicaPtr> out;
  for (const auto& r : replicas_) {
    if (r->mode == ReplicaMode::RW) out.push_back(r);
  }
  return out;
}

void ReplicaSet::rw_of(const std::vector<ReplicaPtr>& targets, std::vector<bool>& rw) const {
  std::shared_lock lock(mutex_);
  for (std::size_t i = 0; i < targets.size(); ++i) rw[i] = targets[i]->mode == ReplicaMode::RW;
}

ReplicaPtr ReplicaSet::find(const std::string& id) const {
  for (const auto& r : replicas_) {
    if (r->id == id) return r;
  }
  return nullptr;
}

Result<void> ReplicaSet::open(std::vector<Member> members) {
  std::unique_lock lock(mutex_);
  for (auto& m : members) {
    auto r = std::make_shared<Replica>();
    r->id = m.id;
    r->data = std::move(m.data);
    r->journal = std::move(m.journal);
    r->error = m.error;
    r->lane = std::make_unique<Lane>();
    if (r->data && r->journal) {
      if (auto meta = r->journal->load_meta(); !meta) {
        r->error = meta.error().message;
      } else if (auto fits = fit_to_volume(*r, *meta); !fits) {
        r->error = fits.error().message;
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
    // without the others, and what they hold may be older than what it holds. With write
    // quorums, reaching a majority is enough: a missing member cannot have gone on without a
    // majority, which would include one of those reached.
    const auto reached = static_cast<std::size_t>(
        std::count_if(replicas_.begin(), replicas_.end(),
                      [](const ReplicaPtr& r) { return r->mode != ReplicaMode::ERR; }));
    const bool majority = policy_.quorum_writes && reached >= quorum();
    for (const auto& id : sources.front()->meta.members) {
      auto member = find(id);
      if (!member) {  // removed from the manifest on purpose (`maya volume replica remove`)
        log::warn("replica " + id + " of generation " + std::to_string(newest) +
                  " is no longer in the manifest; going on without it");
        continue;
      }
      bool present = std::any_of(sources.begin(), sources.end(),
                                 [&](const ReplicaPtr& s) { return s->id == id; });
      if (!present && majority) {
        log::warn("replica " + id + " of generation " + std::to_string(newest) +
                  " cannot be reached (" + member->error + "); going on with a majority (" +
                  std::to_string(reached) + " of " + std::to_string(replicas_.size()) + ")");
        continue;
      }
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
    if (auto bm = lead->journal->load_bitmap(BitmapKind::degraded, marks_.regions()); bm)
      marks_.degraded() = *bm;
    bool all_clean = true;
    for (const auto& s : sources) {
      all_clean = all_clean && s->meta.clean;
      if (auto bm = s->journal->load_bitmap(BitmapKind::dirty, marks_.regions()); bm)
        marks_.dirty().merge(*bm);
    }
    if (all_clean) marks_.dirty().clear_all();
    lead->mode = ReplicaMode::RW;
    for (const auto& s : sources) {
      if (s == lead) continue;
      if (marks_.dirty().empty()) {
        s->mode = ReplicaMode::RW;
      } else {
        s->plan = std::make_unique<RebuildPlan>(RebuildPlan{false, marks_.dirty(), true});
        ++s->plan_epoch;
      }
    }
  }
  generation_ = std::max(newest, policy_.min_generation);
  // Stale replicas (older generations, or new ones) are rebuilt.
  for (const auto& r : replicas_) {
    if (r->mode == ReplicaMode::WO && !r->plan) plan_rebuild(*r);
  }
  bool any_away = false;
  for (const auto& r : replicas_) any_away = any_away || r->mode == ReplicaMode::ERR;
  if (any_away && degraded_since_ == 0) degraded_since_ = generation_ + 1;
  if (auto saved = save_membership(); !saved) {
    // A full store must not take the data offline: serve reads, refuse writes, say why, and
    // save the membership again once there is room (see leave_read_only). Too few RW replicas
    // for a quorum (stale ones still rebuilding) likewise, until they are back.
    if (!out_of_space(saved.error()) && !no_quorum(saved.error())) return saved;
    set_read_only(saved.error());
  }
  // What was loaded is in the journals (the sources'); new marks are saved before they count.
  marks_.loaded();
  for (const auto& r : replicas_) {
    if (r->mode != ReplicaMode::ERR)
      (void)r->journal->save_bitmap(BitmapKind::dirty, marks_.dirty());
    if (r->mode == ReplicaMode::ERR) log::warn("replica " + r->id + " is offline: " + r->error);
  }
  return {};
}

// The regions `replica` (WO, handles open) must copy: those written while it was away and those
// dirty when it left, if the degraded bitmap reaches back to its generation; else everything.
void ReplicaSet::plan_rebuild(Replica& replica) {
  auto plan = std::make_unique<RebuildPlan>();
  const std::uint64_t since = degraded_since_.load();
  if (replica.meta.generation != 0 && since != 0 && replica.meta.generation + 1 >= since) {
    plan->full = false;
    plan->regions = marks_.degraded();
    if (auto own = replica.journal->load_bitmap(BitmapKind::dirty, marks_.regions()); own)
      plan->regions.merge(*own);
    plan->regions.merge(marks_.dirty());
  }
  // A replica with no data at all (new) needs no holes punched.
  auto first = replica.data->extent_at(0);
  plan->target_may_hold_data =
      !(first && !first->mapped && first->offset + first->length >= policy_.size_bytes);
  replica.plan = std::move(plan);
  ++replica.plan_epoch;
  replica.mode = ReplicaMode::WO;
}

// Writes the new membership to every RW replica (and the others' ids are left out). Called
// whenever the RW set changes, with generation_ already advanced.
Result<void> ReplicaSet::save_membership() {
  std::vector<std::string> members;
  for (const auto& r : replicas_) {
    if (r->mode == ReplicaMode::RW) members.push_back(r->id);
  }
  if (members.empty()) return fail("no replica is left to serve the volume");
  if (members.size() < quorum())
    return fail(std::to_string(members.size()) + " of the volume's " +
                    std::to_string(replicas_.size()) +
                    " replicas are in sync, fewer than the majority writes need (" +
                    std::to_string(quorum()) + "); writes wait for the others",
                errno_code(EIO));
  ++generation_;
  std::vector<ReplicaError> failed;
  for (const auto& r : replicas_) {
    if (r->mode != ReplicaMode::RW) continue;
    ReplicaMeta meta{r->id,   policy_.size_bytes,    generation_, revision_.load(), false,
                     members, degraded_since_.load()};
    if (auto saved = r->journal->save_meta(meta); saved) {
      r->meta = meta;
    } else {
      failed.push_back({r, saved.error()});
    }
  }
  // No RW replica has room for its metadata: none of them is broken, the membership just
  // cannot be recorded. The caller decides (read-only until there is room).
  if (!failed.empty() && failed.size() == members.size() &&
      std::all_of(failed.begin(), failed.end(),
                  [](const ReplicaError& f) { return out_of_space(f.error); })) {
    // generation_ is not taken back: a save can fail after its rename (the directory's fsync),
    // so this number may be on a disk with this member set; the next attempt takes a new one.
    return fail(failed.front().error.message, failed.front().error.code);
  }
  for (auto& [r, error] : failed) {
    r->mode = ReplicaMode::ERR;
    r->error = "cannot save its metadata: " + error.message;
    if (out_of_space(error)) {
      r->out_of_space = true;
      r->retry_backoff = policy_.space_retry;
      r->retry_at = std::chrono::steady_clock::now() + r->retry_backoff;
    }
  }
  if (!failed.empty()) {
    if (degraded_since_ == 0) degraded_since_ = generation_ + 1;  // they miss what follows
    log::warn("replicas failed while saving generation " + std::to_string(generation_) + ": " +
              describe(failed));
    return save_membership();  // the set changed again
  }
  return {};
}

void ReplicaSet::set_read_only(const Error& why) {
  if (read_only_.empty())
    log::warn(no_quorum(why)
                  ? "volume refuses writes (reads go on): " + why.message
                  : "volume is read-only until space is freed (reads go on): " + why.message);
  read_only_ = why.message;
  read_only_code_ = why.code;
  read_only_flag_ = true;
}

Result<void> ReplicaSet::leave_read_only() {
  std::unique_lock lock(mutex_);
  if (read_only_.empty()) return {};
  if (auto saved = save_membership(); !saved) {
    if (out_of_space(saved.error()) || no_quorum(saved.error())) {
      read_only_ = saved.error().message;
      read_only_code_ = saved.error().code;
    }
    return fail("the volume is read-only: " + read_only_, read_only_code_);
  }
  log::info("the membership is saved again (generation " + std::to_string(generation_) +
            "); the volume takes writes");
  read_only_.clear();
  read_only_flag_ = false;
  return {};
}

std::error_code ReplicaSet::read_only_code() const {
  std::shared_lock lock(mutex_);
  return read_only_code_;
}

std::string ReplicaSet::read_only_reason() const {
  std::shared_lock lock(mutex_);
  return read_only_;
}

bool ReplicaSet::retry_full_replicas() {
  const auto now = std::chrono::steady_clock::now();
  auto due = [&](const Replica& r) {
    return r.mode == ReplicaMode::ERR && r.out_of_space && !r.removed && r.data && r.journal &&
           now >= r.retry_at;
  };
  {
    std::shared_lock lock(mutex_);
    if (!read_only_.empty() || std::none_of(replicas_.begin(), replicas_.end(),
                                            [&](const ReplicaPtr& r) { return due(*r); }))
      return false;
  }
  // As add_replica: no write is in flight while the plan is made, so none is missed by it.
  std::unique_lock io(io_);
  std::unique_lock lock(mutex_);
  for (const auto& r : replicas_) {
    if (!due(*r)) continue;
    // It may have left during a grow of the volume (its store full): its data grows first.
    if (r->data->size_bytes() < policy_.size_bytes) {
      if (auto grown = r->data->grow(policy_.size_bytes); !grown) {
        r->retry_at = now + r->retry_backoff;
        r->error = "cannot grow to the volume's size: " + grown.error().message;
        continue;
      }
    }
    plan_rebuild(*r);
    r->error.clear();
    log::info("replica " + r->id + " left because its store was full; trying to rebuild it");
    return true;
  }
  return false;
}

void ReplicaSet::replica_failed(const ReplicaPtr& replica, const std::string& why,
                                std::uint64_t offset, std::uint64_t length, bool space) {
  {
    std::unique_lock lock(mutex_);
    if (replica->mode != ReplicaMode::ERR) {
      const bool was_rw = replica->mode == ReplicaMode::RW;
      replica->mode = ReplicaMode::ERR;
      replica->error = why;
      replica->plan.reset();
      ++replica->plan_epoch;
      if (space) {  // retried when space may be back, less often while it keeps failing
        replica->retry_backoff = replica->out_of_space && replica->retry_backoff.count() > 0
                                     ? std::min(replica->retry_backoff * 2, policy_.space_retry_max)
                                     : policy_.space_retry;
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
          if (out_of_space(saved.error()) || no_quorum(saved.error())) set_read_only(saved.error());
        }
      }
    }
  }
  // The write that failed here is not on that replica: remember its regions.
  if (length > 0) marks_.mark_degraded(offset, length, write_set());
}

Result<void> ReplicaSet::fail_replica(const std::string& id, const std::string& why) {
  ReplicaPtr r;
  {
    std::shared_lock lock(mutex_);
    r = find(id);
  }
  if (!r) return fail("volume has no replica " + id);
  replica_failed(r, why, 0, 0);
  return {};
}

std::size_t ReplicaSet::voters() const {
  return static_cast<std::size_t>(std::count_if(replicas_.begin(), replicas_.end(),
                                                [](const ReplicaPtr& r) { return r->voter; }));
}

Result<void> ReplicaSet::add_replica(Member member) {
  if (!member.data || !member.journal)
    return fail("replica " + member.id + " cannot be opened: " + member.error);
  MAYA_TRY(meta, member.journal->load_meta());
  std::unique_lock io(io_);  // no I/O holds the old handles meanwhile
  std::unique_lock lock(mutex_);
  if (member.data->size_bytes() < policy_.size_bytes)  // policy_ changes under these locks
    return fail("replica " + member.id + " is smaller than the volume");
  auto existing = find(member.id);
  if (existing && existing->mode != ReplicaMode::ERR)
    return fail("replica " + member.id + " is already part of the volume (" +
                mode_name(existing->mode) + ")");
  auto r = existing ? existing : std::make_shared<Replica>();
  r->id = member.id;
  r->data = std::move(member.data);
  r->journal = std::move(member.journal);
  r->meta =
      (meta->generation != 0 && meta->size_bytes == policy_.size_bytes) ? *meta : ReplicaMeta{};
  // A replica never part of the volume votes once it is in sync (promote); one coming back
  // (it was a member) votes as before.
  if (!existing) r->voter = meta->generation != 0;
  r->error.clear();
  if (!r->lane) r->lane = std::make_unique<Lane>();
  plan_rebuild(*r);
  if (!existing) replicas_.push_back(r);
  log::info("replica " + r->id + " joins the volume write-only; rebuilding " +
            (r->plan->full ? std::string("everything")
                           : std::to_string(r->plan->regions.count()) + " region(s)"));
  return {};
}

Result<void> ReplicaSet::remove_replica(const std::string& id) {
  std::unique_lock io(io_);
  std::unique_lock lock(mutex_);
  auto r = find(id);
  if (!r) return fail("volume has no replica " + id);
  if (r->mode == ReplicaMode::RW) {
    auto rw = std::count_if(replicas_.begin(), replicas_.end(),
                            [](const ReplicaPtr& x) { return x->mode == ReplicaMode::RW; });
    if (rw == 1)
      return fail("replica " + id + " is the last one holding the data; add another first");
    // With write quorums, what stays must still be a majority of the voters that stay.
    if (policy_.quorum_writes && static_cast<std::size_t>(rw - 1) < (voters() - 1) / 2 + 1)
      return fail("removing replica " + id + " leaves " + std::to_string(rw - 1) +
                  " in sync, fewer than the majority writes need; bring the others back first");
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

void ReplicaSet::promote(const ReplicaPtr& replica, std::uint64_t plan_epoch) {
  std::unique_lock lock(mutex_);
  if (replica->removed || replica->mode != ReplicaMode::WO || replica->plan_epoch != plan_epoch)
    return;  // it failed, left, or got a new plan meanwhile
  const std::uint64_t since = degraded_since_.load();
  replica->mode = ReplicaMode::RW;
  // In the membership from now on, it votes: a write acknowledged by a majority of the voters
  // must reach a majority of the replicas a next owner counts without it (realm_drain.cpp).
  const bool was_voter = replica->voter;
  replica->voter = true;
  const bool all_rw = std::all_of(replicas_.begin(), replicas_.end(),
                                  [](const ReplicaPtr& r) { return r->mode == ReplicaMode::RW; });
  if (all_rw) degraded_since_ = 0;
  if (auto saved = save_membership(); !saved) {
    // It is no member on disk, so it must not serve reads (a restart would not count it) and the
    // regions it missed stay marked. It goes out again and is retried later, as a replica whose
    // store was full (the others' stores are: nothing else stops the membership being saved).
    degraded_since_ = since;
    replica->voter = was_voter;
    if (replica->mode == ReplicaMode::RW) {
      replica->mode = ReplicaMode::ERR;
      replica->plan.reset();
      ++replica->plan_epoch;
      replica->error =
          "rebuilt, but the membership naming it cannot be saved: " + saved.error().message;
      replica->out_of_space = true;
      replica->retry_backoff = replica->retry_backoff.count() > 0
                                   ? std::min(replica->retry_backoff * 2, policy_.space_retry_max)
                                   : policy_.space_retry;
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
  if (all_rw && still_all_rw) marks_.forget_degraded(replicas_);
  log::info("replica " + replica->id + " is rebuilt and serves reads (generation " +
            std::to_string(generation_) + ")");
}

// Every RW replica gets the snapshot's contents; the others are rebuilt from them.
Result<void> ReplicaSet::revert(int from) {
  std::unique_lock io(io_);
  std::unique_lock lock(mutex_);
  for (const auto& r : replicas_) {
    if (r->mode != ReplicaMode::RW) continue;
    if (r->data->native_fd() < 0) return fail("replica " + r->id + " is not a file");
    auto copied = block::copy_fd(from, r->data->native_fd(), policy_.size_bytes);
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
  marks_.reset(replicas_);
  if (auto saved = save_membership(); !saved) {
    // Too few in sync for a quorum: writes wait (refused) until the others are back.
    if (!no_quorum(saved.error())) return saved;
    set_read_only(saved.error());
  }
  return {};
}

std::vector<ReplicaStatus> ReplicaSet::statuses() const {
  std::shared_lock lock(mutex_);
  std::vector<ReplicaStatus> out;
  for (const auto& r : replicas_) {
    out.push_back({r->id, r->mode, r->meta.generation,
                   r->mode == ReplicaMode::RW ? revision_.load() : r->meta.revision, r->error,
                   r->out_of_space});
  }
  return out;
}

std::string ReplicaSet::health() const {
  std::shared_lock lock(mutex_);
  std::size_t rw = 0;
  for (const auto& r : replicas_) rw += r->mode == ReplicaMode::RW ? 1 : 0;
  if (rw == 0) return "failed";
  return rw == replicas_.size() ? "healthy" : "degraded";
}

std::uint64_t ReplicaSet::generation() const {
  std::shared_lock lock(mutex_);
  return generation_;
}

void ReplicaSet::close() {
  std::unique_lock io(io_);
  std::unique_lock lock(mutex_);
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

std::pair<ReplicaPtr, ReplicaPtr> ReplicaSet::next_rebuild() const {
  ReplicaPtr target, source;
  std::shared_lock lock(mutex_);
  for (const auto& r : replicas_) {
    if (!target && r->mode == ReplicaMode::WO && r->plan) target = r;
    if (!source && r->mode == ReplicaMode::RW) source = r;
  }
  return {target, source};
}

bool ReplicaSet::rebuild_pending() const {
  std::shared_lock lock(mutex_);
  for (const auto& r : replicas_) {
    if (r->mode == ReplicaMode::WO && r->plan) return true;
  }
  return false;
}

std::optional<std::pair<RebuildPlan, std::uint64_t>> ReplicaSet::plan_of(
    const ReplicaPtr& target) const {
  std::shared_lock lock(mutex_);
  if (!target->plan) return std::nullopt;
  RebuildPlan plan;
  plan.full = target->plan->full;
  plan.regions = target->plan->regions;
  plan.target_may_hold_data = target->plan->target_may_hold_data;
  return std::make_pair(std::move(plan), target->plan_epoch);
}

bool ReplicaSet::still_rebuilding(const ReplicaPtr& target, std::uint64_t epoch,
                                  const ReplicaPtr& source) const {
  std::shared_lock lock(mutex_);
  return !target->removed && target->mode == ReplicaMode::WO && target->plan_epoch == epoch &&
         source->mode == ReplicaMode::RW;
}

std::optional<ReplicaSet::ConvergeSet> ReplicaSet::converge_set() const {
  std::shared_lock lock(mutex_);
  if (!read_only_.empty()) return std::nullopt;
  ConvergeSet set;
  for (const auto& r : replicas_) {
    if (r->mode == ReplicaMode::RW && !set.lead) {
      set.lead = r;
    } else if (r->mode != ReplicaMode::ERR) {
      set.others.emplace_back(r, r->mode);
    }
  }
  return set;
}

bool ReplicaSet::still_converging(const ReplicaPtr& lead, const ReplicaPtr& other,
                                  ReplicaMode mode) const {
  std::shared_lock lock(mutex_);
  return lead->mode == ReplicaMode::RW && other->mode == mode && !other->removed;
}

ReplicaSet::Fullest ReplicaSet::fullest() const {
  Fullest worst;
  std::shared_lock io(io_);  // handles stay put
  std::shared_lock lock(mutex_);
  for (const auto& r : replicas_) {
    if (!r->data || r->removed) continue;
    auto usage = r->data->space();
    if (!usage || usage->total_bytes == 0) continue;
    const std::uint64_t used = usage->total_bytes - std::min(usage->free_bytes, usage->total_bytes);
    const auto percent = static_cast<unsigned>(used * 100 / usage->total_bytes);
    if (!worst.usage || percent > worst.percent) {
      worst.usage = usage;
      worst.percent = percent;
      worst.id = r->id;
    }
  }
  return worst;
}

}  // namespace maya::replica
