// Pool routes of the control API (what `maya pool …` calls):
//   GET    /v1/pools                  -> {"pools": [POOL…]}
//   POST   /v1/pools  {"name": N, "disks": [D…], "force": false} -> 201 POOL
//   GET    /v1/pools/{name}           -> POOL
//   DELETE /v1/pools/{name}[?force=true] -> {"destroyed": N, "deleted": [ENTRY…], "detached": D}
// POOL is drivers::pools::pool_json, the `maya pool inspect -o json` object. Replicas:
//   GET    /v1/replicas[?pool=P]      -> {"replicas": [REPLICA…]} (REPLICA's "share": the share
//                                        without its secret, or null)
//   POST   /v1/pools/P/replicas {"name", "size_bytes", "thin"} -> 201 REPLICA
//   DELETE /v1/pools/P/replicas/NAME
//   POST   /v1/pools/P/replicas/NAME/share {"port": N?} -> 200 SHARE (with uri_with_secret)
//   DELETE /v1/pools/P/replicas/NAME/share
#pragma once

#include "drivers/pools/pool_service.h"
#include "drivers/pools/replica_shares.h"
#include "lib/http/router.h"

namespace maya::daemon {

// `pools` may be null on a host without the storage role: the routes then say so.
void add_pool_routes(http::Router& router, drivers::pools::PoolService* pools,
                     drivers::pools::ReplicaShares* shares);

}  // namespace maya::daemon
