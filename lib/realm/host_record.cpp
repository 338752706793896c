#include "lib/realm/host_record.h"

#include <algorithm>
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

Result<HostList> list_hosts(RealmStore& store, const RealmKeys& keys) {
  MAYA_TRY(records, store.list(keys.hosts()));
  MAYA_TRY(alive, store.list(keys.alive()));
  std::set<std::string, std::less<>> up;
  for (const KeyValue& kv : alive->items) up.emplace(RealmKeys::leaf(kv.key, keys.alive()));
  HostList list;
  for (const KeyValue& kv : records->items) {
    const std::string id(RealmKeys::leaf(kv.key, keys.hosts()));
    auto host = host_from_json(kv.value, kv.key);
    if (!host) {
      list.errors.push_back(host.error().message);
      HostRecord unreadable;
      unreadable.id = id;
      unreadable.name = id;
      list.hosts.push_back({unreadable, up.contains(id)});
      continue;
    }
    if (host->id != id) {
      list.errors.push_back(kv.key + ": its id is " + host->id);
      host->id = id;
    }
    list.hosts.push_back({std::move(*host), up.contains(id)});
  }
  std::sort(list.hosts.begin(), list.hosts.end(), [](const HostView& a, const HostView& b) {
    return std::tie(a.record.name, a.record.id) < std::tie(b.record.name, b.record.id);
  });
  return list;
}

}  // namespace maya::realm
