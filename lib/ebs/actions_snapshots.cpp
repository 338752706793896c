// CreateSnapshot, DescribeSnapshots, DeleteSnapshot, through the VolumeService's snapshots
// (storage drivers that take them: jiva). A snapshot is complete when CreateSnapshot answers.
#include <algorithm>

#include "lib/ebs/actions.h"
#include "lib/ebs/ids.h"

namespace maya::ebs {
namespace {

constexpr std::uint64_t kGiB = 1ull << 30;

struct SnapshotView {
  SnapshotEntry entry;
  drivers::HostSnapshot host;
};

// Every snapshot on the host with its catalog entry; snapshots seen for the first time get an id.
ApiResult<std::vector<SnapshotView>> all_snapshots(Backend& b) {
  if (b.volumes == nullptr)
    return api_fail(errors::incorrect_state("this host keeps no volumes, hence no snapshots"));
  // Volumes first: a snapshot's volume id comes from their entries.
  if (auto volumes = all_volumes(b); !volumes) return api_fail(volumes.error());
  auto listed = b.volumes->all_snapshots();
  if (!listed) return api_fail(errors::internal_error(listed.error().message));
  std::map<std::pair<std::string, std::string>, TimePoint> keys;
  for (const auto& s : *listed)
    keys[{s.volume, s.info.name}] =
        parse_iso8601(s.info.created).value_or(std::chrono::system_clock::now());
  std::lock_guard lock(b.catalog_mutex);
  if (b.catalog.sync_snapshots(keys)) {
    if (auto ok = save_catalog(b); !ok) return api_fail(ok.error());
  }
  std::vector<SnapshotView> views;
  for (const auto& s : *listed) {
    if (SnapshotEntry* e = b.catalog.snapshot_of(s.volume, s.info.name)) views.push_back({*e, s});
  }
  std::sort(views.begin(), views.end(),
            [](const auto& x, const auto& y) { return x.entry.id < y.entry.id; });
  return views;
}

void write_snapshot_fields(XmlWriter& out, const SnapshotEntry& e, std::uint64_t size_bytes,
                           const ApiSettings& s) {
  out.text("snapshotId", e.id);
  out.text("volumeId", e.volume_id);
  out.text("status", "completed");
  out.timestamp("startTime", e.created);
  out.text("progress", "100%");
  out.text("ownerId", s.identity.instance_id);
  out.number("volumeSize", static_cast<std::int64_t>((size_bytes + kGiB - 1) / kGiB));
  out.text("description", e.description);
  out.boolean("encrypted", false);
  if (!e.tags.empty()) write_tag_set(out, e.tags);
  out.text("storageTier", "standard");
}

ApiResult<bool> snapshot_matches(const Filter& f, const SnapshotView& v) {
  if (auto tag = tag_filter_matches(f, v.entry.tags)) return *tag;
  if (f.name == "snapshot-id") return any_match(f.values, v.entry.id);
  if (f.name == "volume-id") return any_match(f.values, v.entry.volume_id);
  if (f.name == "status") return any_match(f.values, "completed");
  if (f.name == "description") return any_match(f.values, v.entry.description);
  if (f.name == "progress") return any_match(f.values, "100%");
  return api_fail(errors::invalid_parameter_value(
      "Filter.Name", f.name,
      "It is not a snapshot filter (snapshot-id, volume-id, status, description, progress, "
      "tag:KEY, tag-key)."));
}

}  // namespace

ApiResult<void> create_snapshot(Backend& b, const Query& q, XmlWriter& out) {
  if (auto unknown = q.check_known({"VolumeId", "Description", "TagSpecification.*"}))
    return api_fail(*unknown);
  auto id = q.require("VolumeId");
  if (!id) return api_fail(id.error());
  const std::string description = q.get("Description").value_or("");
  if (description.size() > 255)
    return api_fail(errors::invalid_parameter_value("Description", description.substr(0, 32),
                                                    "At most 255 characters."));
  auto specs = q.tag_specifications();
  if (!specs) return api_fail(specs.error());
  Tags tags;
  std::vector<Tag> all;
  for (const auto& spec : *specs) {
    if (spec.resource_type != "snapshot")
      return api_fail(errors::invalid_parameter_value(
          "TagSpecification.ResourceType", spec.resource_type, "CreateSnapshot tags a snapshot."));
    all.insert(all.end(), spec.tags.begin(), spec.tags.end());
  }
  if (auto ok = check_tags(all); !ok) return api_fail(ok.error());
  for (const Tag& t : all) tags[t.key] = t.value.value_or("");
  auto volume = find_volume(b, *id);
  if (!volume) return api_fail(volume.error());

  SnapshotEntry entry;
  entry.id = new_snapshot_id();
  entry.volume = volume->entry.name;
  entry.snapshot = entry.id;  // the maya snapshot is named by its id
  entry.volume_id = *id;
  entry.description = description;
  entry.tags = tags;
  auto made = b.volumes->create_snapshot(entry.volume, entry.snapshot);
  if (!made) return api_fail(service_error(made.error()));
  entry.created = parse_iso8601(made->created).value_or(std::chrono::system_clock::now());
  std::lock_guard lock(b.catalog_mutex);
  b.catalog.add_snapshot(entry);
  if (auto ok = save_catalog(b); !ok) return api_fail(ok.error());
  write_snapshot_fields(out, entry, made->size_bytes, b.settings);
  return {};
}

ApiResult<void> describe_snapshots(Backend& b, const Query& q, XmlWriter& out) {
  if (auto unknown = q.check_known(
          {"SnapshotId.*", "Filter.*", "MaxResults", "NextToken", "Owner.*", "RestorableBy.*"}))
    return api_fail(*unknown);
  auto ids = q.list("SnapshotId");
  if (!ids) return api_fail(ids.error());
  auto filters = q.filters();
  if (!filters) return api_fail(filters.error());
  auto all = all_snapshots(b);
  if (!all) return api_fail(all.error());
  for (const std::string& id : *ids) {
    if (std::none_of(all->begin(), all->end(), [&](const auto& v) { return v.entry.id == id; }))
      return api_fail(errors::snapshot_not_found(id));
  }
  std::vector<const SnapshotView*> chosen;
  std::vector<std::string> keys;
  for (const SnapshotView& v : *all) {
    if (!ids->empty() && std::find(ids->begin(), ids->end(), v.entry.id) == ids->end()) continue;
    bool keep = true;
    for (const Filter& f : *filters) {
      auto match = snapshot_matches(f, v);
      if (!match) return api_fail(match.error());
      keep = keep && *match;
    }
    if (!keep) continue;
    chosen.push_back(&v);
    keys.push_back(v.entry.id);
  }
  auto page = paginate(q, keys);
  if (!page) return api_fail(page.error());
  {
    auto set = out.scope("snapshotSet");
    for (std::size_t i = page->begin; i < page->end; ++i) {
      auto item = out.scope("item");
      write_snapshot_fields(out, chosen[i]->entry, chosen[i]->host.info.size_bytes, b.settings);
    }
  }
  if (!page->next_token.empty()) out.text("nextToken", page->next_token);
  return {};
}

ApiResult<void> delete_snapshot(Backend& b, const Query& q, XmlWriter& out) {
  if (auto unknown = q.check_known({"SnapshotId"})) return api_fail(*unknown);
  auto id = q.require("SnapshotId");
  if (!id) return api_fail(id.error());
  if (!is_snapshot_id(*id))
    return api_fail(
        errors::invalid_parameter_value("SnapshotId", *id, "It is not a snapshot id (snap-…)."));
  auto all = all_snapshots(b);
  if (!all) return api_fail(all.error());
  auto it =
      std::find_if(all->begin(), all->end(), [&](const auto& v) { return v.entry.id == *id; });
  if (it == all->end()) return api_fail(errors::snapshot_not_found(*id));
  if (auto removed = b.volumes->delete_any_snapshot(it->entry.volume, it->entry.snapshot); !removed)
    return api_fail(errors::snapshot_in_use(*id, removed.error().message));
  std::lock_guard lock(b.catalog_mutex);
  b.catalog.remove_snapshot(*id);
  if (auto ok = save_catalog(b); !ok) return api_fail(ok.error());
  out.boolean("return", true);
  return {};
}

}  // namespace maya::ebs
