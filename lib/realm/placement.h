// Replica placement across a realm's hosts: which pool of which host holds each replica of a
// new volume. Pure: it decides from the figures it is given (the hosts' published pools and
// liveness) and touches nothing, so that any host can place and every test can check it.
//
// Rules: at most one replica per host (a host's loss costs a volume one replica); hosts that are
// down or excluded are skipped; a pool qualifies when its free space holds the whole volume
// (thin or not: a replica may fill up); zones with fewest replicas so far come first (distinct
// zones before a second replica in any zone), then the host whose best pool has the most free
// space, then the host id and the pool name, so that equal inputs give equal answers on every
// host.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lib/common/result.h"

namespace maya::realm {

// One pool of one host, as the host publishes it.
struct PoolCandidate {
  std::string host_id;
  std::string host_name;  // for errors; the id when empty
  std::string zone;
  std::string pool;
  std::uint64_t free_bytes = 0;
  bool host_up = true;  // false: the host's lease expired
};

struct PlacementRequest {
  unsigned replicas = 1;
  std::uint64_t size_bytes = 0;
  // When non-empty: only these host ids, in this order of preference (the first qualifying ones
  // win, whatever their zones and space); each named once.
  std::vector<std::string> hosts;
  std::vector<std::string> exclude_hosts;   // never these (those holding the volume already)
  std::vector<std::string> draining_hosts;  // never these either: being drained
  // Zones that already hold a replica of the volume (a replica moved by a drain): counted as
  // taken, so that a zone without one comes first.
  std::vector<std::string> zones_used;
  // The first replica goes to a host of this zone when one qualifies (the EBS API's
  // AvailabilityZone: the volume's home zone); "" : no preference.
  std::string first_zone;
};

struct Placement {
  std::string host_id;
  std::string pool;
  bool operator==(const Placement&) const = default;
};

// One placement per replica, in the order chosen, on `replicas` distinct hosts; or an error that
// says how many replicas were asked, how many hosts qualify, and why each other host does not
// ("hostB: largest pool 2GiB free, needs 10GiB", "hostD: down", "hostE: excluded",
// "hostF: draining").
Result<std::vector<Placement>> place(const PlacementRequest& request,
                                     const std::vector<PoolCandidate>& candidates);

// Takes `size_bytes` off the free space of each placed pool (never below 0), so that a caller
// placing many volumes in a row places the next one against what is left.
void reserve(std::vector<PoolCandidate>& candidates, const std::vector<Placement>& placements,
             std::uint64_t size_bytes);

}  // namespace maya::realm
