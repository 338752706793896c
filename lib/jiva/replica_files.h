// A jiva replica on disk, opened for the replicator: <replica dir>/data.img (the blocks) and
// its journal (replica.json, dirty.bitmap, degraded.bitmap; lib/replica/replica_journal.h).
#pragma once

#include "lib/jiva/manifest.h"
#include "lib/replica/replicator.h"

namespace maya::jiva {

// Never fails: a replica that cannot be opened comes back without handles and with the reason,
// and the replicator counts it as away.
replica::Replicator::Member open_replica(const ReplicaRef& replica, const Manifest& manifest);

// Every replica of the manifest.
std::vector<replica::Replicator::Member> open_replicas(const Manifest& manifest);

}  // namespace maya::jiva
