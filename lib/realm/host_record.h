// A host as the realm knows it: what it publishes under hosts/ID (who it is, how to reach it,
// its pools and their free space) and whether it is alive (its alive/ID key, under a lease).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/common/result.h"
#include "lib/realm/placement.h"
#include "lib/realm/realm_keys.h"
#include "lib/realm/realm_store.h"

namespace maya::realm {

struct PoolSpace {
  std::string name;
  std::string state;  // the pool's state (online, degraded, missing, ...)
  std::uint64_t capacity_bytes = 0;
  std::uint64_t free_bytes = 0;
  bool operator==(const PoolSpace&) const = default;
};

struct HostRecord {
  std::string id;
  std::string name;
  std::string zone;
  std::string address;             // where other hosts reach this one
  std::vector<std::string> roles;  // "storage", "orchestration"
  std::vector<PoolSpace> pools;
  std::uint64_t volumes = 0;  // volumes this host holds
  std::string version;        // maya's
  bool operator==(const HostRecord&) const = default;
};

nlohmann::json host_json(const HostRecord& host);
// Parses a hosts/ID value; `key` names it in errors.
Result<HostRecord> host_from_json(std::string_view text, std::string_view key);

// A drain of a host (drains/ID): `maya realm drain` on host `by` asked for it. The owners of
// the host's volumes move their replicas off it; host `by` takes the detached ones to do so.
struct Drain {
  std::string by;     // host id
  std::string since;  // ISO 8601 UTC
  bool operator==(const Drain&) const = default;
};
nlohmann::json drain_json(const Drain& drain);
Result<Drain> drain_from_json(std::string_view text, std::string_view key);

struct HostView {
  HostRecord record;
  bool up = false;                // its lease is kept
  std::optional<Drain> draining;  // being drained: takes no new replicas
};

// Every host of the realm, up or down, sorted by name then id. A record that does not parse is
// shown as a host named after its key with `error` set, never dropped.
struct HostList {
  std::vector<HostView> hosts;
  std::vector<std::string> errors;  // "KEY: what is wrong"
};
Result<HostList> list_hosts(RealmStore& store, const RealmKeys& keys);

// What placement chooses from (placement.h): the online pools of the storage hosts, and the
// hosts being drained.
std::vector<PoolCandidate> pool_candidates(const HostList& hosts);
std::vector<std::string> draining_hosts(const HostList& hosts);

}  // namespace maya::realm
