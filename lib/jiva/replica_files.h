// A jiva replica, opened for the replicator from its URI in the manifest through
// lib/replica/child_factory.h (file:///DIR today: DIR/data.img and its journal).
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
