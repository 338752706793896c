// Writer: fans a write, discard or flush out to the replicas and decides what its outcome is.
// Small operations run replica after replica on the caller's thread (cheaper than a hand-off),
// large ones in parallel on the replicas' lanes. Each replica's error is kept with that replica;
// the failure policy then decides:
// - out of space on every RW replica that had the write: the volume is full, not broken; those
//   replicas stay, the caller gets the cause, the regions stay diverged until copied;
// - any other failure, or a replica that alone ran out: that replica leaves (ReplicaSet);
// - the volume read-only (a membership could not be saved): the write is refused;
// - no RW replica took it: it fails, never acknowledged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "lib/common/result.h"
#include "lib/replica/region_marks.h"
#include "lib/replica/replica_set.h"

namespace maya::replica {

class Writer {
 public:
  Writer(ReplicaSet& set, RegionMarks& marks, std::size_t inline_write_bytes)
      : set_(set), marks_(marks), inline_write_bytes_(inline_write_bytes) {}

  // Marks [offset, offset + length) in the journals before `targets` get the data (write-intent);
  // replicas whose journal fails leave. An error when no journal has room.
  Result<void> mark_written(std::uint64_t offset, std::uint64_t length,
                            const std::vector<ReplicaPtr>& targets);
  // Runs `op` on every target and applies the failure policy above. `bytes` chooses inline or
  // parallel; [offset, offset + length) is the range written (length 0 for a flush).
  Result<void> fan_out(const std::vector<ReplicaPtr>& targets, std::uint64_t bytes,
                       const std::function<Result<void>(Replica&)>& op, std::uint64_t offset,
                       std::uint64_t length);

 private:
  // Runs `op` on each target: one result per target, in order.
  std::vector<Result<void>> run(const std::vector<ReplicaPtr>& targets, std::uint64_t bytes,
                                const std::function<Result<void>(Replica&)>& op);

  ReplicaSet& set_;
  RegionMarks& marks_;
  std::size_t inline_write_bytes_;
};

}  // namespace maya::replica
