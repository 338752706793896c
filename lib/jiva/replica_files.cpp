#include "lib/jiva/replica_files.h"

#include "lib/replica/child_factory.h"

namespace maya::jiva {

replica::Replicator::Member open_replica(const ReplicaRef& replica, const Manifest& manifest) {
  maya::replica::Replicator::Member m;
  m.id = replica.id;
  auto child = maya::replica::open_child(replica.id, replica.uri,
                                         {manifest.size_bytes, manifest.block_size, manifest.thin});
  if (!child) {
    m.error = child.error().message;
    return m;
  }
  m.data = std::move(child->data);
  m.journal = std::move(child->journal);
  return m;
}

std::vector<replica::Replicator::Member> open_replicas(const Manifest& manifest) {
  std::vector<replica::Replicator::Member> members;
  for (const auto& r : manifest.replicas) members.push_back(open_replica(r, manifest));
  return members;
}

}  // namespace maya::jiva
