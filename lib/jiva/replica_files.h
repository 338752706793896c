// A jiva replica, opened for the replicator from its URI in the manifest through
// lib/replica/child_factory.h: file:///DIR (DIR/data.img and its journal) or iscsi://… (a
// replica another host shares; its secret joined from replica-chap.json).
#pragma once

#include <chrono>
#include <filesystem>

#include "lib/jiva/manifest.h"
#include "lib/replica/replicator.h"

namespace maya::jiva {

struct OpenContext {
  std::filesystem::path volume_dir;  // where replica-chap.json is
  std::chrono::milliseconds io_timeout{5000};
  std::uint64_t owner_key = 0;  // fences remote replicas; 0: no fencing
  bool claim = false;           // take remote replicas over from another owner
};

// Never fails: a replica that cannot be opened comes back without handles and with the reason,
// and the replicator counts it as away.
replica::Replicator::Member open_replica(const ReplicaRef& replica, const Manifest& manifest,
                                         const OpenContext& context);

// Every replica of the manifest.
std::vector<replica::Replicator::Member> open_replicas(const Manifest& manifest,
                                                       const OpenContext& context);

}  // namespace maya::jiva
