#include "lib/jiva/replica_files.h"

#include "lib/jiva/remote_replicas.h"
#include "lib/replica/child_factory.h"

namespace maya::jiva {

replica::Replicator::Member open_replica(const ReplicaRef& replica, const Manifest& manifest,
                                         const OpenContext& context) {
  maya::replica::Replicator::Member m;
  m.id = replica.id;
  std::string uri = replica.uri;
  if (is_remote_uri(uri)) {
    auto secrets = read_replica_chap(context.volume_dir);
    if (!secrets) {
      m.error = secrets.error().message;
      return m;
    }
    if (auto it = secrets->find(replica.id); it != secrets->end())
      uri = uri_with_secret(uri, it->second);
  }
  auto child = maya::replica::open_child(replica.id, uri,
                                         {manifest.size_bytes, manifest.block_size, manifest.thin,
                                          context.io_timeout, context.owner_key, context.claim});
  if (!child) {
    m.error = child.error().message;
    return m;
  }
  m.data = std::move(child->data);
  m.journal = std::move(child->journal);
  return m;
}

std::vector<replica::Replicator::Member> open_replicas(const Manifest& manifest,
                                                       const OpenContext& context) {
  std::vector<replica::Replicator::Member> members;
  for (const auto& r : manifest.replicas) members.push_back(open_replica(r, manifest, context));
  return members;
}

}  // namespace maya::jiva
