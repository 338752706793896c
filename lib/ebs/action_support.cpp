// What the action handlers share: the volumes as EC2 sees them, their XML, filters, tags and
// pages.
#include <algorithm>
#include <array>
#include <set>

#include "lib/common/log.h"
#include "lib/ebs/actions.h"
#include "lib/ebs/ids.h"

namespace maya::ebs {

namespace {

constexpr std::uint64_t kGiB = 1ull << 30;
constexpr std::size_t kMaxTags = 50;
constexpr std::array<std::string_view, 7> kVolumeTypes = {"standard", "io1", "io2", "gp2",
                                                          "sc1",      "st1", "gp3"};

}  // namespace

ApiResult<void> check_volume_type(const std::string& type) {
  if (std::find(kVolumeTypes.begin(), kVolumeTypes.end(), type) == kVolumeTypes.end())
    return api_fail(errors::invalid_parameter_value(
        "VolumeType", type, "Use standard, io1, io2, gp2, sc1, st1 or gp3."));
  return {};
}

ApiResult<void> save_catalog(Backend& b) {
  if (auto saved = b.catalog.save(); !saved)
    return api_fail(
        errors::internal_error("cannot save the EBS catalog: " + saved.error().message));
  return {};
}

namespace {

// A volume DetachVolume forced is detached once the kernel has released its device (its last
// holder closed it): a plain detach then succeeds. Until then it is refused and nothing changes.
void finish_forced_detaches(Backend& b, std::vector<drivers::VolumeInfo>& listed) {
  std::set<std::string> detaching;
  {
    std::lock_guard lock(b.catalog_mutex);
    for (const auto& [id, entry] : b.catalog.volumes())
      if (entry.detaching) detaching.insert(entry.name);
  }
  for (drivers::VolumeInfo& info : listed) {
    // "error" once released: the record still says attached, and the device is gone.
    if ((info.state != "attached" && info.state != "error") || !detaching.contains(info.spec.name))
      continue;
    if (!b.volumes->detach(info.spec.name)) continue;  // still held
    log::info("EBS API: volume " + info.spec.name + " released by its last holder: detached");
    info.state = "detached";
    info.device.clear();
  }
}

}  // namespace

ApiResult<std::vector<VolumeView>> all_volumes(Backend& b) {
  if (b.volumes == nullptr)
    return api_fail(
        errors::incorrect_state("this host has no storage role ([roles] storage = "
                                "false): it keeps no volumes"));
  auto listed = b.volumes->list();
  if (!listed) return api_fail(errors::internal_error(listed.error().message));
  finish_forced_detaches(b, *listed);
  std::map<std::string, TimePoint> names;
  std::map<std::string, std::string> realm_ids;  // the ids the realm records
  std::map<std::string, const drivers::VolumeInfo*> by_name;
  for (const auto& info : *listed) {
    names[info.spec.name] = parse_iso8601(info.created).value_or(std::chrono::system_clock::now());
    if (!info.realm_ebs_id.empty()) realm_ids[info.spec.name] = info.realm_ebs_id;
    by_name[info.spec.name] = &info;
  }
  // The requests pending in the realm: their volumes show attaching or detaching.
  std::map<std::string, RealmRequest> requests;
  if (b.settings.realm != nullptr) {
    if (auto all = b.settings.realm->requests())
      requests = std::move(*all);
    else
      log::warn("EBS API: " + all.error().message);
  }
  // A request for a host that is down will not be performed: not shown, and a new one
  // replaces it (RealmLink::submit).
  if (!requests.empty()) {
    std::set<std::string> up;
    if (auto instances = b.settings.realm->instances())
      for (const RealmInstance& i : *instances)
        if (i.up) up.insert(i.id);
    std::erase_if(requests, [&](const auto& r) { return !up.contains(r.second.host_id); });
  }
  std::lock_guard lock(b.catalog_mutex);
  bool changed = b.catalog.sync_volumes(names, realm_ids);
  // An API attachment the volume no longer has (`maya volume detach`, a reboot): its links go.
  for (auto& [id, entry] : b.catalog.volumes()) {
    auto it = by_name.find(entry.name);
    if (entry.instance_id.empty() || it == by_name.end() || it->second->state == "attached")
      continue;
    std::error_code ec;
    std::filesystem::remove(b.settings.dev_dir / id, ec);
    std::filesystem::remove(b.settings.dev_dir / "by-name" / entry.name, ec);
    entry.instance_id.clear();
    entry.device.clear();
    entry.detaching = false;
    changed = true;
  }
  if (changed) {
    if (auto saved = save_catalog(b); !saved) return api_fail(saved.error());
  }
  std::vector<VolumeView> views;
  for (const auto& [id, entry] : b.catalog.volumes()) {
    VolumeView view{entry, std::nullopt};
    if (auto it = by_name.find(entry.name); it != by_name.end()) view.info = *it->second;
    if (!view.info && !entry.pending) continue;
    if (auto it = requests.find(entry.name); it != requests.end() && it->second.error.empty())
      view.request = it->second;
    views.push_back(std::move(view));
  }
  return views;
}

ApiResult<VolumeView> find_volume(Backend& b, const std::string& volume_id) {
  if (!is_volume_id(volume_id))
    return api_fail(
        errors::invalid_parameter_value("VolumeId", volume_id, "It is not a volume id (vol-…)."));
  auto all = all_volumes(b);
  if (!all) return api_fail(all.error());
  for (auto& v : *all)
    if (v.entry.id == volume_id && v.info) return std::move(v);
  return api_fail(errors::volume_not_found(volume_id));
}

std::string volume_state(const VolumeView& v) {
  if (!v.info) return "creating";
  const std::string& state = v.info->state;
  if (state == "attached" || state == "mounted" || state == "attached elsewhere") return "in-use";
  if (v.request && v.request->action == "attach") return "in-use";  // as EC2: in-use, attaching
  if (state == "error" || state == "broken") return "error";
  return "available";
}

void write_tag_set(XmlWriter& out, const Tags& tags) {
  auto set = out.scope("tagSet");
  for (const auto& [key, value] : tags) {
    auto item = out.scope("item");
    out.text("key", key);
    out.text("value", value);
  }
}

void write_volume_fields(XmlWriter& out, const VolumeView& v, const ApiSettings& settings) {
  const VolumeEntry& e = v.entry;
  out.text("volumeId", e.id);
  std::uint64_t bytes = v.info ? v.info->spec.size_bytes : 0;
  out.number("size", static_cast<std::int64_t>((bytes + kGiB - 1) / kGiB));
  out.text("snapshotId", e.snapshot_id);
  out.text("availabilityZone", volume_zone(v, settings));
  out.text("status", volume_state(v));
  out.timestamp("createTime", e.created);
  {
    auto attachments = out.scope("attachmentSet");
    if (auto attached = attachment_of(v, settings)) {
      auto item = out.scope("item");
      out.text("volumeId", e.id);
      out.text("instanceId", attached->instance_id);
      out.text("device", attached->device);
      out.text("status", attached->status);
      out.timestamp("attachTime", attached->time);
      out.boolean("deleteOnTermination", false);
    }
  }
  if (!e.tags.empty()) write_tag_set(out, e.tags);
  out.text("volumeType", e.volume_type);
  if (e.iops != 0) out.number("iops", e.iops);
  if (e.throughput != 0) out.number("throughput", e.throughput);
  out.boolean("encrypted", false);
  out.boolean("multiAttachEnabled", false);
}

std::optional<AttachmentView> attachment_of(const VolumeView& v, const ApiSettings& settings) {
  if (!v.info) return std::nullopt;
  const VolumeEntry& e = v.entry;
  const std::string& state = v.info->state;
  const bool detach_asked = v.request && v.request->action == "detach";
  if (state == "attached" || state == "mounted") {
    return AttachmentView{settings.identity.instance_id,
                          !e.device.empty() ? e.device : v.info->device,
                          e.detaching || detach_asked ? "detaching" : "attached",
                          e.instance_id.empty() ? e.created : e.attach_time};
  }
  // On another host of the realm: the device is in that host's catalog, not here (nor its
  // attach time: the volume's creation time stands in, as for volumes attached by the CLI).
  if (state == "attached elsewhere")
    return AttachmentView{v.info->realm_attached_id, "", detach_asked ? "detaching" : "attached",
                          e.created};
  if (v.request && v.request->action == "attach")
    return AttachmentView{v.request->host_id, v.request->device, "attaching",
                          parse_iso8601(v.request->at).value_or(e.created)};
  return std::nullopt;
}

std::string volume_zone(const VolumeView& v, const ApiSettings& settings) {
  if (v.info && !v.info->realm_zone.empty()) return v.info->realm_zone;
  return settings.identity.zone;
}

bool glob_match(std::string_view pattern, std::string_view text) {
  // Iterative * and ? matching with one backtrack point.
  std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool any_match(const std::vector<std::string>& patterns, std::string_view text) {
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& p) { return glob_match(p, text); });
}

std::optional<bool> tag_filter_matches(const Filter& filter, const Tags& tags) {
  if (filter.name == "tag-key") {
    return std::any_of(tags.begin(), tags.end(),
                       [&](const auto& tag) { return any_match(filter.values, tag.first); });
  }
  if (filter.name.rfind("tag:", 0) == 0) {
    auto it = tags.find(filter.name.substr(4));
    return it != tags.end() && any_match(filter.values, it->second);
  }
  return std::nullopt;
}

ApiResult<void> check_tags(const std::vector<Tag>& tags) {
  if (tags.size() > kMaxTags)
    return api_fail(errors::invalid_parameter("at most 50 tags per resource"));
  for (const Tag& tag : tags) {
    if (tag.key.empty() || tag.key.size() > 128)
      return api_fail(errors::invalid_parameter_value("Tag.Key", tag.key,
                                                      "A tag key has 1 to 128 characters."));
    if (tag.key.rfind("aws:", 0) == 0)
      return api_fail(errors::invalid_parameter_value("Tag.Key", tag.key,
                                                      "Tag keys starting \"aws:\" are reserved."));
    if (tag.value && tag.value->size() > 256)
      return api_fail(errors::invalid_parameter_value("Tag.Value", *tag.value,
                                                      "A tag value has at most 256 characters."));
  }
  return {};
}

ApiResult<Page> paginate(const Query& q, const std::vector<std::string>& keys) {
  auto max = q.integer("MaxResults", 1, 1000);
  if (!max) return api_fail(max.error());
  Page page;
  auto token = q.get("NextToken");
  if (token) {
    // The token is the last key of the previous page: the next one starts after it.
    page.begin =
        static_cast<std::size_t>(std::upper_bound(keys.begin(), keys.end(), *token) - keys.begin());
  }
  const std::size_t limit = max->value_or(static_cast<std::int64_t>(keys.size()));
  page.end = std::min(keys.size(), page.begin + limit);
  if (page.end < keys.size() && page.end > page.begin) page.next_token = keys[page.end - 1];
  return page;
}

ApiError service_error(const Error& error) {
  return errors::incorrect_state(error.message);
}

}  // namespace maya::ebs
