#include "lib/realm/placement.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "lib/common/size.h"

namespace maya::realm {
namespace {

// A host as placement sees it: its pools gathered, and whether (and where) it can take a replica.
struct HostView {
  std::string id;
  std::string name;
  std::string zone;
  bool up = true;
  std::vector<const PoolCandidate*> pools;
  const PoolCandidate* best = nullptr;  // the qualifying pool with the most free space
  std::string why_not;                  // empty when the host qualifies
};

std::string label(const HostView& host) {
  return host.name.empty() ? host.id : host.name;
}

std::string plural(std::size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// The hosts of the candidates, by id (sorted: the order ties fall back on).
std::map<std::string, HostView> gather_hosts(const std::vector<PoolCandidate>& candidates) {
  std::map<std::string, HostView> hosts;
  for (const PoolCandidate& c : candidates) {
    auto [it, added] = hosts.try_emplace(c.host_id);
    HostView& host = it->second;
    if (added) {
      host.id = c.host_id;
      host.name = c.host_name;
      host.zone = c.zone;
    }
    // Every record of a host should agree; if one says down, trust that one.
    host.up = host.up && c.host_up;
    host.pools.push_back(&c);
  }
  return hosts;
}

// Fills `best` or `why_not` for one host.
void judge(HostView& host, const std::set<std::string>& excluded,
           const std::set<std::string>& draining, std::uint64_t size) {
  if (excluded.contains(host.id)) {
    host.why_not = "excluded";
    return;
  }
  if (draining.contains(host.id)) {
    host.why_not = "draining";
    return;
  }
  if (!host.up) {
    host.why_not = "down";
    return;
  }
  const PoolCandidate* largest = nullptr;
  for (const PoolCandidate* pool : host.pools) {
    const bool larger = largest == nullptr || pool->free_bytes > largest->free_bytes ||
                        (pool->free_bytes == largest->free_bytes && pool->pool < largest->pool);
    if (larger) largest = pool;
  }
  if (largest == nullptr) {
    host.why_not = "no pools";
  } else if (largest->free_bytes < size) {
    host.why_not = "largest pool " + format_size_human(largest->free_bytes) + " free, needs " +
                   format_size_human(size);
  } else {
    host.best = largest;
  }
}

// The hosts in scope, in the order they are considered: the request's own list, or every host.
Result<std::vector<HostView>> hosts_in_scope(const PlacementRequest& request,
                                             std::map<std::string, HostView>& known) {
  std::vector<HostView> scope;
  if (request.hosts.empty()) {
    for (auto& [id, host] : known) scope.push_back(host);
    return scope;
  }
  std::set<std::string> named;
  for (const std::string& id : request.hosts) {
    if (!named.insert(id).second) return fail("host " + id + " is named twice");
    auto it = known.find(id);
    if (it != known.end()) {
      scope.push_back(it->second);
    } else {
      HostView unknown;
      unknown.id = id;
      unknown.why_not = "not a host of the realm (no pools published)";
      scope.push_back(unknown);
    }
  }
  return scope;
}

std::unexpected<Error> too_few_hosts(const PlacementRequest& request,
                                     const std::vector<HostView>& scope) {
  std::vector<std::string> qualified, reasons;
  for (const HostView& host : scope) {
    if (host.why_not.empty())
      qualified.push_back(label(host));
    else
      reasons.push_back(label(host) + ": " + host.why_not);
  }
  std::string message =
      "cannot place " + plural(request.replicas, "replica", "replicas") +
      (request.size_bytes == 0 ? std::string() : " of " + format_size_human(request.size_bytes)) +
      " (one per host): " + std::to_string(qualified.size()) + " of " +
      plural(scope.size(), "host", "hosts") + " qualify";
  if (!qualified.empty()) {
    message += " (";
    for (std::size_t i = 0; i < qualified.size(); ++i)
      message += (i == 0 ? "" : ", ") + qualified[i];
    message += ")";
  }
  for (const std::string& reason : reasons) message += "; " + reason;
  return fail(message);
}

}  // namespace

Result<std::vector<Placement>> place(const PlacementRequest& request,
                                     const std::vector<PoolCandidate>& candidates) {
  if (request.replicas == 0) return fail("a volume needs at least one replica");
  std::map<std::string, HostView> known = gather_hosts(candidates);
  MAYA_TRY(scope, hosts_in_scope(request, known));
  const std::set<std::string> excluded(request.exclude_hosts.begin(), request.exclude_hosts.end());
  const std::set<std::string> draining(request.draining_hosts.begin(),
                                       request.draining_hosts.end());
  std::vector<const HostView*> open;  // the qualifying hosts, in scope order
  for (HostView& host : *scope) {
    if (host.why_not.empty()) judge(host, excluded, draining, request.size_bytes);
    if (host.why_not.empty()) open.push_back(&host);
  }
  if (open.size() < request.replicas) return too_few_hosts(request, *scope);

  std::vector<Placement> chosen;
  if (!request.hosts.empty()) {
    // The caller's order of preference decides.
    for (std::size_t i = 0; i < request.replicas; ++i)
      chosen.push_back({open[i]->id, open[i]->best->pool});
    return chosen;
  }
  // Greedy, one replica at a time: the zone with fewest replicas so far, then the most free
  // space, then the host id (the pool name already settled each host's best pool).
  std::map<std::string, unsigned> per_zone;
  for (const std::string& zone : request.zones_used) ++per_zone[zone];
  while (chosen.size() < request.replicas) {
    // Outside the first zone asked for: last, for the first replica only.
    auto away = [&](const HostView* h) {
      return chosen.empty() && !request.first_zone.empty() && h->zone != request.first_zone;
    };
    auto better = [&](const HostView* a, const HostView* b) {
      return std::make_tuple(away(a), per_zone[a->zone], b->best->free_bytes, a->id) <
             std::make_tuple(away(b), per_zone[b->zone], a->best->free_bytes, b->id);
    };
    auto pick = std::min_element(open.begin(), open.end(), better);
    chosen.push_back({(*pick)->id, (*pick)->best->pool});
    ++per_zone[(*pick)->zone];
    open.erase(pick);
  }
  return chosen;
}

void reserve(std::vector<PoolCandidate>& candidates, const std::vector<Placement>& placements,
             std::uint64_t size_bytes) {
  for (const Placement& placed : placements) {
    for (PoolCandidate& c : candidates) {
      if (c.host_id != placed.host_id || c.pool != placed.pool) continue;
      c.free_bytes -= std::min(c.free_bytes, size_bytes);
      break;
    }
  }
}

}  // namespace maya::realm
