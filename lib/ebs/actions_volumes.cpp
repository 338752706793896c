// DescribeVolumes, CreateVolume, DeleteVolume.
#include <algorithm>
#include <array>
#include <set>

#include "drivers/volume/spec_options.h"
#include "lib/common/names.h"
#include "lib/ebs/actions.h"
#include "lib/ebs/ids.h"
#include "lib/ebs/volume_performance.h"

namespace maya::ebs {
namespace {

constexpr std::int64_t kMaxSizeGiB = 16384;

// One DescribeVolumes filter against one volume; InvalidParameterValue for an unknown name.
ApiResult<bool> volume_matches(const Filter& f, const VolumeView& v, const ApiSettings& s) {
  if (auto tag = tag_filter_matches(f, v.entry.tags)) return *tag;
  const auto attached = attachment_of(v, s);
  if (f.name == "volume-id") return any_match(f.values, v.entry.id);
  if (f.name == "status") return any_match(f.values, volume_state(v));
  if (f.name == "availability-zone") return any_match(f.values, volume_zone(v, s));
  if (f.name == "snapshot-id") return any_match(f.values, v.entry.snapshot_id);
  if (f.name == "volume-type") return any_match(f.values, v.entry.volume_type);
  if (f.name == "size") {
    std::uint64_t bytes = v.info ? v.info->spec.size_bytes : 0;
    return any_match(f.values, std::to_string((bytes + (1ull << 30) - 1) >> 30));
  }
  if (f.name == "attachment.instance-id")
    return attached && any_match(f.values, attached->instance_id);
  if (f.name == "attachment.status") return attached && any_match(f.values, attached->status);
  return api_fail(errors::invalid_parameter_value(
      "Filter.Name", f.name,
      "It is not a volume filter (volume-id, status, size, availability-zone, snapshot-id, "
      "volume-type, attachment.instance-id, attachment.status, tag:KEY, tag-key)."));
}

// The maya volume a CreateVolume makes: its name (the Name tag, else the id) and its spec.
struct NewVolume {
  std::string name;
  drivers::VolumeOptions options;
  Tags tags;
};

ApiResult<NewVolume> new_volume(const Query& q, const std::string& id,
                                const std::string& snapshot_of) {
  NewVolume v;
  v.name = id;
  auto specs = q.tag_specifications();
  if (!specs) return api_fail(specs.error());
  std::vector<Tag> all;
  for (const auto& spec : *specs) {
    if (spec.resource_type != "volume")
      return api_fail(errors::invalid_parameter_value(
          "TagSpecification.ResourceType", spec.resource_type, "CreateVolume tags a volume."));
    all.insert(all.end(), spec.tags.begin(), spec.tags.end());
  }
  if (auto ok = check_tags(all); !ok) return api_fail(ok.error());
  for (const Tag& tag : all) {
    const std::string value = tag.value.value_or("");
    v.tags[tag.key] = value;
    if (tag.key == "Name") v.name = value;
    if (tag.key == "maya:replicas") v.options["replicas"] = value;
    if (tag.key == "maya:driver") v.options["driver"] = value;
    if (tag.key == "maya:fstype") v.options["fstype"] = value;
    if (tag.key.rfind("maya:", 0) == 0 && tag.key != "maya:replicas" && tag.key != "maya:driver" &&
        tag.key != "maya:fstype")
      return api_fail(errors::invalid_parameter_value(
          "Tag.Key", tag.key, "maya reads maya:replicas, maya:driver and maya:fstype."));
  }
  if (auto valid = validate_volume_name(v.name); !valid)
    return api_fail(errors::invalid_parameter_value("Tag Name", v.name, valid.error().message));
  if (!snapshot_of.empty()) v.options["from"] = snapshot_of;
  return v;
}

// CreateVolume's AvailabilityZone: this host's, or in a realm the zone of a host that is up.
ApiResult<void> check_zone(Backend& b, const std::string& zone) {
  if (zone == b.settings.identity.zone) return {};
  if (b.settings.realm == nullptr)
    return api_fail(errors::invalid_parameter_value(
        "AvailabilityZone", zone, "This host's zone is " + b.settings.identity.zone + "."));
  auto instances = b.settings.realm->instances();
  if (!instances) return api_fail(errors::internal_error(instances.error().message));
  std::set<std::string> zones{b.settings.identity.zone};
  for (const RealmInstance& i : *instances)
    if (i.up && !i.zone.empty()) zones.insert(i.zone);
  if (zones.contains(zone)) return {};
  std::string listed;
  for (const std::string& z : zones) listed += (listed.empty() ? "" : ", ") + z;
  return api_fail(errors::invalid_parameter_value(
      "AvailabilityZone", zone,
      "The realm's zones (of its hosts that are up) are " + listed + "."));
}

}  // namespace

ApiResult<void> describe_volumes(Backend& b, const Query& q, XmlWriter& out) {
  if (auto unknown = q.check_known({"VolumeId.*", "Filter.*", "MaxResults", "NextToken"}))
    return api_fail(*unknown);
  auto ids = q.list("VolumeId");
  if (!ids) return api_fail(ids.error());
  auto filters = q.filters();
  if (!filters) return api_fail(filters.error());
  if (!ids->empty() && q.has("MaxResults"))
    return api_fail(errors::invalid_parameter_combination(
        "the parameter VolumeIds cannot be used with MaxResults"));
  auto all = all_volumes(b);
  if (!all) return api_fail(all.error());

  for (const std::string& id : *ids) {
    if (std::none_of(all->begin(), all->end(), [&](const auto& v) { return v.entry.id == id; }))
      return api_fail(errors::volume_not_found(id));
  }
  std::vector<const VolumeView*> chosen;
  for (const VolumeView& v : *all) {
    if (!ids->empty() && std::find(ids->begin(), ids->end(), v.entry.id) == ids->end()) continue;
    bool keep = true;
    for (const Filter& f : *filters) {
      auto match = volume_matches(f, v, b.settings);
      if (!match) return api_fail(match.error());
      keep = keep && *match;
    }
    if (keep) chosen.push_back(&v);
  }
  std::vector<std::string> keys;
  for (const VolumeView* v : chosen) keys.push_back(v->entry.id);  // by id: the catalog's order
  auto page = paginate(q, keys);
  if (!page) return api_fail(page.error());
  {
    auto set = out.scope("volumeSet");
    for (std::size_t i = page->begin; i < page->end; ++i) {
      auto item = out.scope("item");
      write_volume_fields(out, *chosen[i], b.settings);
    }
  }
  if (!page->next_token.empty()) out.text("nextToken", page->next_token);
  return {};
}

ApiResult<void> create_volume(Backend& b, const Query& q, XmlWriter& out) {
  if (auto unknown = q.check_known({"AvailabilityZone", "Size", "SnapshotId", "VolumeType",
                                    "TagSpecification.*", "ClientToken", "Encrypted", "Iops",
                                    "Throughput", "MultiAttachEnabled"}))
    return api_fail(*unknown);
  auto zone = q.require("AvailabilityZone");
  if (!zone) return api_fail(zone.error());
  if (auto known = check_zone(b, *zone); !known) return api_fail(known.error());
  auto size = q.integer("Size", 1, kMaxSizeGiB);
  if (!size) return api_fail(size.error());
  const std::string snapshot_id = q.get("SnapshotId").value_or("");
  if (!*size && snapshot_id.empty()) return api_fail(errors::missing_parameter("Size"));
  const std::string type = q.get("VolumeType").value_or("gp2");
  if (auto known = check_volume_type(type); !known) return api_fail(known.error());
  auto performance = volume_performance(q, type);
  if (!performance) return api_fail(performance.error());
  for (const char* flag : {"Encrypted", "MultiAttachEnabled"}) {
    auto on = q.boolean(flag);
    if (!on) return api_fail(on.error());
    if (on->value_or(false))
      return api_fail(errors::invalid_parameter_value(flag, "true", "maya does not offer it."));
  }
  const std::string token = q.get("ClientToken").value_or("");
  const std::uint64_t size_gib = static_cast<std::uint64_t>(size->value_or(0));

  // A ClientToken seen before gives the volume it made, if asked for the same.
  std::string snapshot_of, made_id;
  {
    std::lock_guard lock(b.catalog_mutex);
    if (VolumeEntry* made = b.catalog.volume_by_token(token)) {
      if (made->client_size_gib != size_gib || made->client_zone != *zone ||
          made->snapshot_id != snapshot_id)
        return api_fail(errors::idempotent_parameter_mismatch(token));
      made_id = made->id;
    } else if (!snapshot_id.empty()) {
      SnapshotEntry* snap = b.catalog.snapshot_by_id(snapshot_id);
      if (snap == nullptr) return api_fail(errors::snapshot_not_found(snapshot_id));
      snapshot_of = snap->volume + "@" + snap->snapshot;
    }
  }
  if (!made_id.empty()) {
    auto existing = find_volume(b, made_id);
    if (!existing) return api_fail(existing.error());
    write_volume_fields(out, *existing, b.settings);
    return {};
  }
  const std::string id = new_volume_id();
  auto wanted = new_volume(q, id, snapshot_of);
  if (!wanted) return api_fail(wanted.error());
  if (size_gib != 0) wanted->options["size"] = std::to_string(size_gib) + "GiB";
  auto spec = drivers::spec_from_options(wanted->name, wanted->options, b.defaults());
  if (!spec) return api_fail(errors::invalid_parameter(spec.error().message));
  if (b.volumes == nullptr) return api_fail(errors::incorrect_state("this host keeps no volumes"));
  // A realm volume is recorded with its id and zone; any other lives on this host, in its zone.
  spec->ebs_id = id;
  spec->zone = *zone;
  if (b.settings.realm != nullptr && spec->storage_driver != "jiva" &&
      *zone != b.settings.identity.zone)
    return api_fail(errors::invalid_parameter_value(
        "AvailabilityZone", *zone,
        "Only realm volumes (driver jiva) go to other zones; a " + spec->storage_driver +
            " volume stays on this host, in zone " + b.settings.identity.zone + "."));
  if (b.volumes->get(wanted->name))
    return api_fail(
        errors::invalid_parameter_value("Tag Name", wanted->name, "A volume of that name exists."));

  VolumeEntry entry;
  entry.id = id;
  entry.name = wanted->name;
  entry.created = std::chrono::system_clock::now();
  entry.tags = wanted->tags;
  entry.volume_type = type;
  entry.iops = performance->iops;
  entry.throughput = performance->throughput;
  entry.snapshot_id = snapshot_id;
  entry.client_token = token;
  entry.client_size_gib = size_gib;
  entry.client_zone = *zone;
  entry.pending = true;
  {
    std::lock_guard lock(b.catalog_mutex);
    b.catalog.add_volume(entry);
  }
  auto created = b.volumes->create(*spec);
  std::lock_guard lock(b.catalog_mutex);
  if (!created) {
    b.catalog.remove_volume(id);
    return api_fail(errors::invalid_parameter(created.error().message));
  }
  VolumeEntry* saved = b.catalog.volume_by_id(id);
  saved->pending = false;
  if (auto ok = save_catalog(b); !ok) return api_fail(ok.error());
  write_volume_fields(out, VolumeView{*saved, *created}, b.settings);
  return {};
}

ApiResult<void> delete_volume(Backend& b, const Query& q, XmlWriter& out) {
  if (auto unknown = q.check_known({"VolumeId"})) return api_fail(*unknown);
  auto id = q.require("VolumeId");
  if (!id) return api_fail(id.error());
  auto volume = find_volume(b, *id);
  if (!volume) return api_fail(volume.error());
  if (volume_state(*volume) == "in-use")
    return api_fail(errors::volume_in_use(
        *id, volume->info->state == "mounted"
                 ? "it is mounted for containers"
                 : "it is attached to " + attachment_of(*volume, b.settings)->instance_id));
  if (auto removed = b.volumes->remove(volume->entry.name, false); !removed)
    return api_fail(service_error(removed.error()));
  std::lock_guard lock(b.catalog_mutex);
  b.catalog.remove_volume(*id);
  if (auto ok = save_catalog(b); !ok) return api_fail(ok.error());
  out.boolean("return", true);
  return {};
}

}  // namespace maya::ebs
