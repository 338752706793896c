// One replica of a replicated volume as the replica set keeps it: its blocks, its journal, its
// mode (RW serves reads and takes writes, WO takes writes while it is rebuilt, ERR is out of
// the I/O path) and, while WO, the plan of what it must copy.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lib/block/backend.h"
#include "lib/common/result.h"
#include "lib/replica/lane.h"
#include "lib/replica/region_bitmap.h"
#include "lib/replica/replica_journal.h"

namespace maya::replica {

enum class ReplicaMode { RW, WO, ERR };
const char* mode_name(ReplicaMode mode);

struct ReplicaStatus {
  std::string id;
  ReplicaMode mode = ReplicaMode::ERR;
  std::uint64_t generation = 0;
  std::uint64_t revision = 0;
  std::string error;          // why it is ERR
  bool out_of_space = false;  // ERR because its store was full: the rebuilder retries it
};

// A replica as the volume's manifest names it, opened (lib/replica/child_factory.h).
struct Member {
  std::string id;
  std::unique_ptr<block::BlockBackend> data;
  std::unique_ptr<ReplicaJournal> journal;  // null: the replica could not be opened (ERR)
  std::string error;                        // why it could not be opened
};

// What a WO replica must copy before it serves reads.
struct RebuildPlan {
  bool full = true;
  RegionBitmap regions;  // when not full
  bool target_may_hold_data = true;
};

// Mode, plan and the rest are guarded by the replica set's lock; data and journal are
// replaced only with the volume's I/O paused.
struct Replica {
  std::string id;
  std::unique_ptr<block::BlockBackend> data;
  std::unique_ptr<ReplicaJournal> journal;
  ReplicaMode mode = ReplicaMode::ERR;
  ReplicaMeta meta;  // as loaded, then as last saved
  std::string error;
  std::unique_ptr<RebuildPlan> plan;  // WO replicas waiting for (or in) a rebuild
  std::uint64_t plan_epoch = 0;       // bumped whenever `plan` is replaced: a running rebuild of
                                      // an older plan stops and never promotes
  std::unique_ptr<Lane> lane;
  bool removed = false;
  bool out_of_space = false;  // ERR because its store was full: retried at retry_at
  std::chrono::steady_clock::time_point retry_at{};
  std::chrono::milliseconds retry_backoff{0};
  // Counts toward the write quorum's majority: every replica the volume opened with, and one
  // added later once it is first RW. A brand-new replica being rebuilt (a drain's) does not,
  // or adding it would raise the majority and cost the volume the failure it could take.
  bool voter = true;
};
using ReplicaPtr = std::shared_ptr<Replica>;

// A replica's failure, kept with the replica it happened on.
struct ReplicaError {
  ReplicaPtr replica;
  Error error;
};

// "r1: why; r2: why", for a log line.
inline std::string describe(const std::vector<ReplicaError>& errors) {
  std::string out;
  for (const auto& e : errors)
    out += (out.empty() ? "" : "; ") + e.replica->id + ": " + e.error.message;
  return out;
}

}  // namespace maya::replica
