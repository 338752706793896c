// DescribeAvailabilityZones: the zones volumes can be created in. On a single host, its own
// ([api] zone); in a realm, its hosts' zones: "available" while a host of the zone is up, else
// "unavailable" (CreateVolume refuses it then).
#include <algorithm>
#include <map>

#include "lib/ebs/actions.h"

namespace maya::ebs {
namespace {

// Zone → whether a host of it is up.
ApiResult<std::map<std::string, bool>> known_zones(Backend& b) {
  std::map<std::string, bool> zones{{b.settings.identity.zone, true}};
  if (b.settings.realm == nullptr) return zones;
  auto instances = b.settings.realm->instances();
  if (!instances) return api_fail(errors::internal_error(instances.error().message));
  for (const RealmInstance& i : *instances) {
    if (i.zone.empty()) continue;
    zones[i.zone] = zones[i.zone] || i.up;
  }
  return zones;
}

ApiResult<bool> zone_matches(const Filter& f, const std::string& zone, const std::string& state,
                             const std::string& region) {
  if (f.name == "zone-name" || f.name == "zone-id") return any_match(f.values, zone);
  if (f.name == "state") return any_match(f.values, state);
  if (f.name == "region-name" || f.name == "group-name") return any_match(f.values, region);
  if (f.name == "zone-type") return any_match(f.values, "availability-zone");
  return api_fail(errors::invalid_parameter_value(
      "Filter.Name", f.name,
      "It is not a zone filter (zone-name, zone-id, state, region-name, group-name, "
      "zone-type)."));
}

}  // namespace

ApiResult<void> describe_availability_zones(Backend& b, const Query& q, XmlWriter& out) {
  if (auto unknown = q.check_known({"ZoneName.*", "ZoneId.*", "Filter.*", "AllAvailabilityZones"}))
    return api_fail(*unknown);
  auto names = q.list("ZoneName");
  if (!names) return api_fail(names.error());
  auto ids = q.list("ZoneId");
  if (!ids) return api_fail(ids.error());
  auto filters = q.filters();
  if (!filters) return api_fail(filters.error());
  if (auto all = q.boolean("AllAvailabilityZones"); !all) return api_fail(all.error());
  auto zones = known_zones(b);
  if (!zones) return api_fail(zones.error());
  names->insert(names->end(), ids->begin(), ids->end());  // a zone's id is its name
  for (const std::string& name : *names)
    if (!zones->contains(name))
      return api_fail(
          errors::invalid_parameter_value("ZoneName", name, "There is no such availability zone."));
  const std::string& region = b.settings.identity.region;
  auto set = out.scope("availabilityZoneInfo");
  for (const auto& [zone, up] : *zones) {
    if (!names->empty() && std::find(names->begin(), names->end(), zone) == names->end()) continue;
    const std::string state = up ? "available" : "unavailable";
    bool keep = true;
    for (const Filter& f : *filters) {
      auto match = zone_matches(f, zone, state, region);
      if (!match) return api_fail(match.error());
      keep = keep && *match;
    }
    if (!keep) continue;
    auto item = out.scope("item");
    out.text("zoneName", zone);
    out.text("zoneState", state);
    out.text("regionName", region);
    out.text("zoneId", zone);
    out.text("zoneType", "availability-zone");
    out.text("optInStatus", "opt-in-not-required");
    out.text("groupName", region);
    out.text("networkBorderGroup", region);
    auto messages = out.scope("messageSet");
  }
  return {};
}

}  // namespace maya::ebs
