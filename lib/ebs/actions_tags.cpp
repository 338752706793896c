// CreateTags, DeleteTags, DescribeTags: tags of volumes and snapshots, kept in the catalog.
#include "lib/ebs/actions.h"
#include "lib/ebs/ids.h"

namespace maya::ebs {
namespace {

// The tags of resource `id` (vol-… or snap-…), with the catalog synced so that volumes and
// snapshots made elsewhere have ids. Caller holds nothing; the pointer is used under the lock.
ApiResult<void> check_resources(Backend& b, const std::vector<std::string>& ids) {
  if (ids.empty()) return api_fail(errors::missing_parameter("ResourceId.1"));
  bool volumes = false;
  for (const auto& id : ids) {
    if (is_volume_id(id)) {
      volumes = true;
    } else if (!is_snapshot_id(id)) {
      return api_fail(errors::invalid_parameter_value(
          "ResourceId", id, "maya tags volumes (vol-…) and snapshots (snap-…)."));
    }
  }
  if (volumes) {
    if (auto all = all_volumes(b); !all) return api_fail(all.error());
  }
  std::lock_guard lock(b.catalog_mutex);
  for (const auto& id : ids) {
    if (is_volume_id(id) && b.catalog.volume_by_id(id) == nullptr)
      return api_fail(errors::volume_not_found(id));
    if (is_snapshot_id(id) && b.catalog.snapshot_by_id(id) == nullptr)
      return api_fail(errors::snapshot_not_found(id));
  }
  return {};
}

Tags* tags_of(Backend& b, const std::string& id) {
  if (VolumeEntry* v = b.catalog.volume_by_id(id)) return &v->tags;
  if (SnapshotEntry* s = b.catalog.snapshot_by_id(id)) return &s->tags;
  return nullptr;
}

}  // namespace

ApiResult<void> create_tags(Backend& b, const Query& q, XmlWriter& out) {
  if (auto unknown = q.check_known({"ResourceId.*", "Tag.*"})) return api_fail(*unknown);
  auto ids = q.list("ResourceId");
  if (!ids) return api_fail(ids.error());
  auto tags = q.tags();
  if (!tags) return api_fail(tags.error());
  if (tags->empty()) return api_fail(errors::missing_parameter("Tag.1.Key"));
  if (auto ok = check_tags(*tags); !ok) return api_fail(ok.error());
  if (auto ok = check_resources(b, *ids); !ok) return api_fail(ok.error());
  std::lock_guard lock(b.catalog_mutex);
  // Checked first, changed after: a resource over 50 tags changes nothing at all.
  for (const auto& id : *ids) {
    Tags merged = *tags_of(b, id);
    for (const Tag& tag : *tags) merged[tag.key] = tag.value.value_or("");
    if (merged.size() > 50)
      return api_fail(errors::invalid_parameter(
          "resource " + id + " would have " + std::to_string(merged.size()) + " tags; at most 50"));
  }
  for (const auto& id : *ids) {
    for (const Tag& tag : *tags) (*tags_of(b, id))[tag.key] = tag.value.value_or("");
  }
  if (auto ok = save_catalog(b); !ok) return api_fail(ok.error());
  out.boolean("return", true);
  return {};
}

ApiResult<void> delete_tags(Backend& b, const Query& q, XmlWriter& out) {
  if (auto unknown = q.check_known({"ResourceId.*", "Tag.*"})) return api_fail(*unknown);
  auto ids = q.list("ResourceId");
  if (!ids) return api_fail(ids.error());
  auto tags = q.tags();
  if (!tags) return api_fail(tags.error());
  if (auto ok = check_resources(b, *ids); !ok) return api_fail(ok.error());
  std::lock_guard lock(b.catalog_mutex);
  for (const auto& id : *ids) {
    Tags& have = *tags_of(b, id);
    if (tags->empty()) have.clear();  // no Tag: every tag of the resource, as EC2 does
    for (const Tag& tag : *tags) {
      auto it = have.find(tag.key);
      // With a value, only a tag holding that value goes.
      if (it != have.end() && (!tag.value || *tag.value == it->second)) have.erase(it);
    }
  }
  if (auto ok = save_catalog(b); !ok) return api_fail(ok.error());
  out.boolean("return", true);
  return {};
}

ApiResult<void> describe_tags(Backend& b, const Query& q, XmlWriter& out) {
  if (auto unknown = q.check_known({"Filter.*", "MaxResults", "NextToken"}))
    return api_fail(*unknown);
  auto filters = q.filters();
  if (!filters) return api_fail(filters.error());
  for (const Filter& f : *filters) {
    if (f.name != "resource-id" && f.name != "resource-type" && f.name != "key" &&
        f.name != "value")
      return api_fail(errors::invalid_parameter_value(
          "Filter.Name", f.name, "Use resource-id, resource-type, key or value."));
  }
  if (auto all = all_volumes(b); !all) return api_fail(all.error());
  struct Row {
    std::string id, type, key, value;
  };
  std::vector<Row> rows;
  {
    std::lock_guard lock(b.catalog_mutex);
    for (const auto& [id, v] : b.catalog.volumes())
      if (!v.pending)
        for (const auto& [k, val] : v.tags) rows.push_back({id, "volume", k, val});
    for (const auto& [id, s] : b.catalog.snapshots())
      for (const auto& [k, val] : s.tags) rows.push_back({id, "snapshot", k, val});
  }
  std::vector<const Row*> chosen;
  std::vector<std::string> keys;
  for (const Row& r : rows) {
    bool keep = true;
    for (const Filter& f : *filters) {
      const std::string& field = f.name == "resource-id"     ? r.id
                                 : f.name == "resource-type" ? r.type
                                 : f.name == "key"           ? r.key
                                                             : r.value;
      keep = keep && any_match(f.values, field);
    }
    if (!keep) continue;
    chosen.push_back(&r);
    keys.push_back(r.id + "\n" + r.key);  // sorted: ids, then keys (maps keep both in order)
  }
  std::vector<std::size_t> order(chosen.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](auto x, auto y) { return keys[x] < keys[y]; });
  std::vector<std::string> sorted_keys;
  for (auto i : order) sorted_keys.push_back(keys[i]);
  auto page = paginate(q, sorted_keys);
  if (!page) return api_fail(page.error());
  {
    auto set = out.scope("tagSet");
    for (std::size_t i = page->begin; i < page->end; ++i) {
      const Row& r = *chosen[order[i]];
      auto item = out.scope("item");
      out.text("resourceId", r.id);
      out.text("resourceType", r.type);
      out.text("key", r.key);
      out.text("value", r.value);
    }
  }
  if (!page->next_token.empty()) out.text("nextToken", page->next_token);
  return {};
}

}  // namespace maya::ebs
