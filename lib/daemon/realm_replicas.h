// The replicas etcd says this host holds (issue 16): for every realm volume with a replica
// placed here, a bare replica in the placed pool, shared over iSCSI, its URI published under
// shares/VOLUME/HOST_ID for the host that attaches the volume. A volume gone from etcd takes its
// replica here with it: unshared, destroyed, its share key removed. Runs on the daemon's realm
// thread (daemon_realm.cpp), woken by etcd's watch.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "drivers/pools/pool_service.h"
#include "drivers/pools/replica_shares.h"
#include "lib/realm/host_agent.h"
#include "lib/realm/volume_record.h"

namespace maya::daemon {

class RealmReplicas {
 public:
  RealmReplicas(realm::HostAgent& agent, drivers::pools::PoolService& pools,
                drivers::pools::ReplicaShares& shares, std::string host_id);

  // One pass; returns what it did, one line each, for the log. `revision` is set to the
  // revision of etcd's listing it worked from (0 when etcd did not answer).
  std::vector<std::string> reconcile(std::int64_t& revision);

 private:
  using PoolListings = std::map<std::string, std::vector<drivers::pools::PoolReplica>>;
  Result<std::string> hold(const realm::VolumeRecord& volume, const std::string& pool,
                           const realm::RealmShare* published, PoolListings& listed,
                           std::vector<std::string>& notes);
  void drop_orphans(const std::map<std::string, std::string>& mine,
                    std::vector<std::string>& notes);
  void note_error(const std::string& volume, const std::string& error,
                  std::vector<std::string>& notes);

  realm::HostAgent& agent_;
  drivers::pools::PoolService& pools_;
  drivers::pools::ReplicaShares& shares_;
  const std::string host_id_;
  std::map<std::string, std::string> errors_;  // volume → its last error, logged once
};

}  // namespace maya::daemon
