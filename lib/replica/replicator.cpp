// Replicator: the facade that composes the replica set, the writer, the rebuilder and the
// snapshot copier, and the volume's I/O path, cleaner and close.
#include "lib/replica/replicator.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "lib/common/errno_text.h"
#include "lib/common/fd.h"
#include "lib/common/log.h"

namespace maya::replica {

Replicator::Replicator(Options options)
    : options_(options),
      size_bytes_(options.size_bytes),
      marks_(region_count(options.size_bytes)),
      set_(ReplicaSet::Policy{options.size_bytes, options.space_retry, options.space_retry_max,
                              options.quorum_writes, options.min_generation},
           marks_, io_mutex_),
      writer_(set_, marks_, options.inline_write_bytes),
      rebuilder_(Rebuilder::Volume{options.size_bytes, &set_, &marks_, &locks_, &io_mutex_}),
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

Result<std::unique_ptr<Replicator>> Replicator::open(std::vector<Member> members, Options options) {
  if (members.empty()) return fail("a volume needs at least one replica");
  std::unique_ptr<Replicator> r(new Replicator(options));
  MAYA_TRY_VOID(r->set_.open(std::move(members)));
  r->check_space();
  r->cleaner_ = std::thread([p = r.get()] { p->clean_loop(); });
  r->rebuilder_.start();
  return r;
}

// A range past the end is the caller's error, not a replica's: refused before any replica sees
// it (each would fail it, and leave).
Result<void> Replicator::check_range(std::uint64_t offset, std::uint64_t length) const {
  const std::uint64_t size = size_bytes();
  if (offset > size || length > size - offset)
    return fail(std::to_string(length) + " bytes at " + std::to_string(offset) +
                " are past the end of the volume (" + std::to_string(size) + " bytes)");
  return {};
}

block::BlockBackend* Replicator::first_reader() const {
  auto readers = set_.read_set();
  return readers.empty() ? nullptr : readers.front()->data.get();
}

Result<void> Replicator::read(std::uint64_t offset, std::span<std::byte> out) {
  IoTimer timer(io_stats_.reads);
  std::shared_lock io(io_mutex_);
  if (closing_) return fail("the volume is shutting down");
  MAYA_TRY_VOID(check_range(offset, out.size()));
  for (int attempt = 0; attempt < 16; ++attempt) {
    auto readers = set_.read_set();
    if (readers.empty()) return fail("no replica can serve reads (all failed)");
    // One answer until replicas converge: the first RW replica's, which converging copies.
    const bool diverged =
        marks_.any_diverged() && !out.empty() && marks_.diverged_in(offset, out.size());
    // Otherwise reads stay on this host while a replica here can serve them: a remote one costs
    // a round trip and the network's bandwidth.
    if (!diverged && std::any_of(readers.begin(), readers.end(),
                                 [](const ReplicaPtr& r) { return !r->data->remote(); }))
      std::erase_if(readers, [](const ReplicaPtr& r) { return r->data->remote(); });
    std::size_t pick = next_read_.fetch_add(1, std::memory_order_relaxed) % readers.size();
    if (diverged) pick = 0;
    const auto& r = readers[pick];
    auto got = r->data->read(offset, out);
    if (got) {
      timer.done(out.size());
      return got;
    }
    // "read: " tells the host's pools' watch that its disk failed a read (pool degraded).
    set_.replica_failed(r, "read: " + got.error().message, 0, 0);
  }
  return fail("reads keep failing on every replica");
}

Result<void> Replicator::modify(std::uint64_t offset, std::uint64_t length,
                                const std::function<Result<void>(Replica&)>& op,
                                std::uint64_t bytes) {
  std::shared_lock io(io_mutex_);
  if (closing_) return fail("the volume is shutting down");
  MAYA_TRY_VOID(check_range(offset, length));
  if (set_.read_only()) MAYA_TRY_VOID(set_.leave_read_only());
  if (copier_.active()) {
    if (auto saved = copier_.before_write(offset, length, [this] { return first_reader(); });
        !saved)
      return saved;
  }
  RegionLocks::Shared regions(locks_, offset, length);
  auto targets = set_.write_set();
  MAYA_TRY(marked, writer_.mark_written(offset, length, targets));
  MAYA_TRY_VOID(writer_.fan_out(targets, bytes, op, offset, length));
  set_.count_write();
  return {};
}

Result<void> Replicator::write(std::uint64_t offset, std::span<const std::byte> data, bool fua) {
  IoTimer timer(io_stats_.writes);
  auto written = modify(
      offset, data.size(), [&](Replica& r) { return r.data->write(offset, data, fua); },
      data.size());
  if (written) timer.done(data.size());
  return written;
}

Result<void> Replicator::discard(std::uint64_t offset, std::uint64_t length) {
  IoTimer timer(io_stats_.discards);
  auto discarded = modify(
      offset, length, [&](Replica& r) { return r.data->discard(offset, length); }, 0);
  if (discarded) timer.done(length);
  return discarded;
}

Result<void> Replicator::flush() {
  std::shared_lock io(io_mutex_);
  if (closing_) return fail("the volume is shutting down");
  auto targets = set_.write_set();
  return writer_.fan_out(
      targets, 0,
      [](Replica& r) -> Result<void> {
        MAYA_TRY_VOID(r.journal->sync());
        return r.data->flush();
      },
      0, 0);
}

Result<block::Extent> Replicator::extent_at(std::uint64_t offset) {
  std::shared_lock io(io_mutex_);
  if (offset >= size_bytes())
    return fail("extent at " + std::to_string(offset) + " is past the end of the volume");
  for (int attempt = 0; attempt < 16; ++attempt) {
    auto readers = set_.read_set();
    if (readers.empty()) return fail("no replica can serve reads (all failed)");
    auto got = readers.front()->data->extent_at(offset);
    if (got) return got;
    set_.replica_failed(readers.front(), got.error().message, 0, 0);
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
    rebuilder_.converge_once();
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
  const RegionBitmap candidates = marks_.idle_candidates();
  if (candidates.empty()) return;
  std::vector<bool> busy(RegionLocks::kStripes, false);
  for (std::uint64_t r = 0; r < marks_.regions(); ++r) {
    if (candidates.test(r)) busy[r % RegionLocks::kStripes] = true;
  }
  for (std::size_t s = 0; s < RegionLocks::kStripes; ++s) {
    if (busy[s]) std::unique_lock barrier(locks_.stripe(s));  // waits for writes in flight there
  }
  // The flush goes by the write path's policy: out of space on every RW replica keeps them all
  // and keeps the dirty regions (diverged) until they are copied; any other failure, or a
  // replica that alone ran out, takes that replica out. Either way nothing is cleared now.
  auto targets = set_.write_set();
  if (auto flushed = writer_.fan_out(
          targets, 0, [](Replica& r) { return r.data->flush(); }, 0, 0);
      !flushed)
    return;
  if (set_.write_set().size() != targets.size()) return;
  for (std::size_t s = 0; s < RegionLocks::kStripes; ++s) {
    if (!busy[s]) continue;
    std::unique_lock stripe(locks_.stripe(s), std::try_to_lock);
    if (!stripe.owns_lock()) continue;  // busy: next time
    marks_.clear_idle(s, RegionLocks::kStripes, candidates, targets);
  }
}

// The fullest store among the replicas in the volume decides: crossing space_warn_percent
// upwards logs a warning and counts one soft-threshold event; falling back below clears it.
void Replicator::check_space() {
  const auto fullest = set_.fullest();
  const std::optional<block::SpaceUsage> worst = fullest.usage;
  const std::string& worst_id = fullest.id;
  const unsigned worst_percent = fullest.percent;
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

Result<void> Replicator::add_replica(Member member) {
  MAYA_TRY_VOID(set_.add_replica(std::move(member)));
  rebuilder_.wake();
  return {};
}

Result<void> Replicator::snapshot(
    const std::filesystem::path& file,
    const std::function<std::filesystem::path(const std::string& replica_id)>& image_dir_of) {
  std::unique_lock io(io_mutex_);  // the point in time: no I/O in flight from here
  return copier_.take(file, [&]() -> Result<SnapshotCopier::Source> {
    auto readers = set_.read_set();
    if (readers.empty()) return fail("no replica can serve reads (all failed)");
    for (const auto& r : set_.write_set()) {
      if (auto flushed = r->data->flush(); !flushed)
        return fail("flush before the snapshot", flushed.error());
    }
    for (const auto& r : readers) {
      if (auto dir = image_dir_of ? image_dir_of(r->id) : std::filesystem::path(); !dir.empty())
        return SnapshotCopier::Source{r->data.get(), dir};
    }
    return SnapshotCopier::Source{readers.front()->data.get(), {}};
  });
}

Result<void> Replicator::revert(const std::filesystem::path& file) {
  Fd from(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (from.get() < 0) return fail_errno("cannot open " + file.string());
  if (copier_.copying()) return fail("a snapshot is still being copied; try again when it is done");
  MAYA_TRY_VOID(set_.revert(from.get()));
  rebuilder_.wake();
  return {};
}

void Replicator::close() {
  closing_ = true;  // I/O that starts now fails; what is in flight ends before the clean mark
  {
    std::lock_guard lock(threads_mutex_);
    if (closed_) return;
    closed_ = true;
    stopping_ = true;
  }
  rebuilder_.request_stop();
  threads_cv_.notify_all();
  if (cleaner_.joinable()) cleaner_.join();
  rebuilder_.stop();
  (void)copier_.wait();
  set_.close();
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
