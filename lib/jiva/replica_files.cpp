#include "lib/jiva/replica_files.h"

#include "lib/block/file_backend.h"

namespace maya::jiva {

replica::Replicator::Member open_replica(const ReplicaRef& replica, const Manifest& manifest) {
  maya::replica::Replicator::Member m;
  m.id = replica.id;
  auto dir = replica_dir(replica);
  if (!dir) {
    m.error = dir.error().message;
    return m;
  }
  block::FileBackendOptions options;
  options.size = manifest.size_bytes;
  options.block_size = manifest.block_size;
  auto data = block::FileBackend::open(replica_data(*dir), options);
  if (!data) {
    m.error = data.error().message;
    return m;
  }
  auto journal = maya::replica::FileJournal::open(*dir);
  if (!journal) {
    m.error = journal.error().message;
    return m;
  }
  m.data = std::move(*data);
  m.journal = std::move(*journal);
  return m;
}

std::vector<replica::Replicator::Member> open_replicas(const Manifest& manifest) {
  std::vector<replica::Replicator::Member> members;
  for (const auto& r : manifest.replicas) members.push_back(open_replica(r, manifest));
  return members;
}

}  // namespace maya::jiva
