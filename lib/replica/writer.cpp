#include "lib/replica/writer.h"

#include <latch>
#include <string>

namespace maya::replica {

Result<void> Writer::mark_written(std::uint64_t offset, std::uint64_t length,
                                  const std::vector<ReplicaPtr>& targets) {
  MAYA_TRY(failed, marks_.mark_written(offset, length, targets, set_.degraded()));
  for (const auto& f : *failed)
    set_.replica_failed(f.replica, "journal: " + f.error.message, offset, length,
                        out_of_space(f.error));
  return {};
}

std::vector<Result<void>> Writer::run(const std::vector<ReplicaPtr>& targets, std::uint64_t bytes,
                                      const std::function<Result<void>(Replica&)>& op) {
  std::vector<Result<void>> results(targets.size());
  // Large writes: every replica but the first on its lane. Small ones run here one after
  // another (a thread hand-off costs more than a local pwrite), except on remote replicas,
  // whose round trips are overlapped on their lanes while the local ones are written here.
  std::vector<bool> on_lane(targets.size(), false);
  std::ptrdiff_t posted = 0;
  if (targets.size() > 1) {
    for (std::size_t i = 0; i < targets.size(); ++i) {
      const bool remote = targets[i]->data && targets[i]->data->remote();
      on_lane[i] = bytes >= inline_write_bytes_ ? i > 0 : remote;
      posted += on_lane[i] ? 1 : 0;
    }
  }
  if (posted == 0) {
    for (std::size_t i = 0; i < targets.size(); ++i) results[i] = op(*targets[i]);
    return results;
  }
  std::latch done(posted);
  for (std::size_t i = 0; i < targets.size(); ++i) {
    if (!on_lane[i]) continue;
    targets[i]->lane->post([&, i] {
      results[i] = op(*targets[i]);
      done.count_down();
    });
  }
  for (std::size_t i = 0; i < targets.size(); ++i)
    if (!on_lane[i]) results[i] = op(*targets[i]);
  done.wait();
  return results;
}

Result<void> Writer::fan_out(const std::vector<ReplicaPtr>& targets, std::uint64_t bytes,
                             const std::function<Result<void>(Replica&)>& op, std::uint64_t offset,
                             std::uint64_t length) {
  // With every replica gone there is nobody to write to, and the threaded branch needs a first
  // target: answer with an error (a CHECK CONDITION to the initiator), never a crash.
  if (targets.empty()) return fail("no replica holds the data any more (all failed)");
  const std::vector<Result<void>> results = run(targets, bytes, op);
  // Out of space on the RW replicas (they share a full store, or each filled up) and none took
  // the write: the volume is full, not broken. Those replicas stay (any that failed otherwise
  // leave); the initiator gets the cause; what the write left may differ between replicas, so
  // its regions stay dirty until they are copied.
  std::vector<bool> was_rw(targets.size(), false);
  set_.rw_of(targets, was_rw);
  bool rw_ok = false, rw_any_full = false;
  Error full_error;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    if (!was_rw[i]) continue;
    if (results[i]) {
      rw_ok = true;
    } else if (out_of_space(results[i].error())) {
      rw_any_full = true;
      full_error = results[i].error();
    }
  }
  const bool volume_full = !rw_ok && rw_any_full;
  std::vector<ReplicaError> left;  // the replicas this call took out, each with its error
  for (std::size_t i = 0; i < targets.size(); ++i) {
    if (results[i]) continue;
    const bool space = out_of_space(results[i].error());
    if (volume_full && space && was_rw[i]) continue;  // stays
    left.push_back({targets[i], results[i].error()});
    set_.replica_failed(targets[i], results[i].error().message, offset, length, space);
  }
  const std::string last_error = left.empty() ? std::string() : left.back().error.message;
  if (volume_full) {
    if (targets.size() > 1) {
      if (length > 0) {
        marks_.mark_diverged(offset, length, targets);
      } else {
        marks_.mark_dirty_diverged();
      }
    }
    return fail("out of space: " + full_error.message, full_error.code);
  }
  // Read-only: a replica left (maybe while this write ran, maybe just before it took its
  // targets) and the others could not record it for lack of space, so the durable membership
  // still names a replica that may not hold this write. Acknowledging it would let that replica
  // serve the old data as a source after a restart: the write is refused, whether or not it
  // failed anywhere itself. A flush that lost no replica has nothing to protect.
  std::string why;
  const bool served = set_.served(
      targets, [&](std::size_t i) { return results[i].has_value(); }, why);
  const bool refused = served && !why.empty() && (length > 0 || !last_error.empty());
  if (refused) {
    // Not acknowledged, but its data may be on some replicas and not others: one answer for
    // reads, and the region kept dirty (durably where the journals allow) until copied.
    if (length > 0) marks_.mark_diverged(offset, length, targets);
    const std::error_code code = set_.read_only_code();
    return fail("the volume is read-only: " + why, code ? code : errno_code(ENOSPC));
  }
  if (!served) {
    return fail("no replica holds the data any more" +
                (last_error.empty() ? std::string() : " (last error: " + last_error + ")"));
  }
  return {};
}

}  // namespace maya::replica
