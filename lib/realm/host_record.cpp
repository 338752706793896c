#include "lib/realm/host_record.h"

#include <algorithm>
#include <map>
#include <set>

namespace maya::realm {

using nlohmann::json;

json host_json(const HostRecord& host) {
  json pools = json::array();
  for (const PoolSpace& p : host.pools)
    pools.push_back({{"name", p.name},
                     {"state", p.state},
                     {"capacity_bytes", p.capacity_bytes},
                     {"free_bytes", p.free_bytes}});
  return {{"id", host.id},           {"name", host.name},      {"zone", host.zone},
          {"address", host.address}, {"roles", host.roles},    {"pools", pools},
          {"volumes", host.volumes}, {"version", host.version}};
}

Result<HostRecord> host_from_json(std::string_view text, std::string_view key) {
  const std::string where(key);
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return fail(where + ": not a JSON object");
  HostRecord host;
  try {
    host.id = doc.at("id").get<std::string>();
    host.name = doc.value("name", std::string());
    host.zone = doc.value("zone", std::string());
    host.address = doc.value("address", std::string());
    host.roles = doc.value("roles", std::vector<std::string>{});
    host.volumes = doc.value("volumes", std::uint64_t{0});
    host.version = doc.value("version", std::string());
    for (const json& p : doc.value("pools", json::array()))
      host.pools.push_back({p.at("name").get<std::string>(), p.value("state", std::string()),
                            p.value("capacity_bytes", std::uint64_t{0}),
                            p.value("free_bytes", std::uint64_t{0})});
  } catch (const json::exception& e) {
    return fail(where + ": " + e.what());
  }
  return host;
}

nlohmann::json drain_json(const Drain& drain) {
  return {{"by", drain.by}, {"since", drain.since}};
}

Result<Drain> drain_from_json(std::string_view text, std::string_view key) {
  const std::string where(key);
  auto doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return fail(where + ": not a JSON object");
  try {
    return Drain{doc.at("by").get<std::string>(), doc.value("since", std::string())};
  } catch (const nlohmann::json::exception& e) {
    return fail(where + ": " + e.what());
  }
}

Result<HostList> list_hosts(RealmStore& store, const RealmKeys& keys) {
  MAYA_TRY(records, store.list(keys.hosts()));
  MAYA_TRY(alive, store.list(keys.alive()));
  MAYA_TRY(drains, store.list(keys.drains()));
  std::set<std::string, std::less<>> up;
  for (const KeyValue& kv : alive->items) up.emplace(RealmKeys::leaf(kv.key, keys.alive()));
  std::map<std::string, Drain, std::less<>> drained;
  for (const KeyValue& kv : drains->items) {
    // An unreadable drain key still drains: nothing new is placed on a host someone is emptying.
    auto d = drain_from_json(kv.value, kv.key);
    drained.emplace(RealmKeys::leaf(kv.key, keys.drains()), d ? *d : Drain{});
  }
  auto drain_of = [&](const std::string& id) -> std::optional<Drain> {
    auto it = drained.find(id);
    if (it == drained.end()) return std::nullopt;
    return it->second;
  };
  HostList list;
  for (const KeyValue& kv : records->items) {
    const std::string id(RealmKeys::leaf(kv.key, keys.hosts()));
    auto host = host_from_json(kv.value, kv.key);
    if (!host) {
      list.errors.push_back(host.error().message);
      HostRecord unreadable;
      unreadable.id = id;
      unreadable.name = id;
      list.hosts.push_back({unreadable, up.contains(id), drain_of(id)});
      continue;
    }
    if (host->id != id) {
      list.errors.push_back(kv.key + ": its id is " + host->id);
      host->id = id;
    }
    list.hosts.push_back({std::move(*host), up.contains(id), drain_of(id)});
  }
  std::sort(list.hosts.begin(), list.hosts.end(), [](const HostView& a, const HostView& b) {
    return std::tie(a.record.name, a.record.id) < std::tie(b.record.name, b.record.id);
  });
  return list;
}

std::vector<PoolCandidate> pool_candidates(const HostList& hosts) {
  std::vector<PoolCandidate> candidates;
  for (const HostView& h : hosts.hosts) {
    const auto& roles = h.record.roles;
    if (std::find(roles.begin(), roles.end(), "storage") == roles.end()) continue;
    for (const PoolSpace& p : h.record.pools)
      if (p.state == "online")
        candidates.push_back(
            {h.record.id, h.record.name, h.record.zone, p.name, p.free_bytes, h.up});
  }
  return candidates;
}

std::vector<std::string> draining_hosts(const HostList& hosts) {
  std::vector<std::string> ids;
  for (const HostView& h : hosts.hosts)
    if (h.draining) ids.push_back(h.record.id);
  return ids;
}

}  // namespace maya::realm
