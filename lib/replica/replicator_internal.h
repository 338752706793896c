// The parts of Replicator that its .cpp files share (not for other users).
#pragma once

#include <chrono>
#include <memory>

#include "lib/replica/lane.h"
#include "lib/replica/replicator.h"

namespace maya::replica {

struct Replicator::RebuildPlan {
  bool full = true;
  RegionBitmap regions;  // when not full
  bool target_may_hold_data = true;
};

struct Replicator::Replica {
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
};

}  // namespace maya::replica
