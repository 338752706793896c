#include "lib/ebs/catalog.h"

#include <ctime>
#include <nlohmann/json.hpp>

#include "lib/common/files.h"
#include "lib/common/json_file.h"
#include "lib/ebs/ids.h"

namespace maya::ebs {
namespace {

using nlohmann::json;

// Tags are up to 50 per resource of up to 384 bytes: a catalog of thousands of volumes.
constexpr std::uintmax_t kCatalogMaxBytes = 64 << 20;

std::int64_t to_ms(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

TimePoint from_ms(std::int64_t ms) {
  return TimePoint(std::chrono::milliseconds(ms));
}

json volume_json(const VolumeEntry& v) {
  json j = {{"name", v.name},
            {"created_ms", to_ms(v.created)},
            {"tags", v.tags},
            {"volume_type", v.volume_type}};
  if (!v.snapshot_id.empty()) j["snapshot_id"] = v.snapshot_id;
  if (v.iops != 0) j["iops"] = v.iops;
  if (v.throughput != 0) j["throughput"] = v.throughput;
  if (!v.client_token.empty()) {
    j["client_token"] = v.client_token;
    j["client_size_gib"] = v.client_size_gib;
    j["client_zone"] = v.client_zone;
  }
  if (!v.instance_id.empty()) {
    j["device"] = v.device;
    j["instance_id"] = v.instance_id;
    j["attach_time_ms"] = to_ms(v.attach_time);
    if (v.detaching) j["detaching"] = true;
  }
  if (const auto& m = v.modification) {
    j["modification"] = {{"state", m->state},
                         {"status_message", m->status_message},
                         {"original_size_gib", m->original_size_gib},
                         {"target_size_gib", m->target_size_gib},
                         {"original_type", m->original_type},
                         {"target_type", m->target_type},
                         {"original_iops", m->original_iops},
                         {"target_iops", m->target_iops},
                         {"original_throughput", m->original_throughput},
                         {"target_throughput", m->target_throughput},
                         {"progress", m->progress},
                         {"start_time_ms", to_ms(m->start_time)},
                         {"end_time_ms", to_ms(m->end_time)}};
  }
  return j;
}

Modification modification_from(const json& j) {
  Modification m;
  m.state = j.at("state").get<std::string>();
  m.status_message = j.value("status_message", "");
  m.original_size_gib = j.value("original_size_gib", std::uint64_t{0});
  m.target_size_gib = j.value("target_size_gib", std::uint64_t{0});
  m.original_type = j.value("original_type", "");
  m.target_type = j.value("target_type", "");
  m.original_iops = j.value("original_iops", std::int64_t{0});
  m.target_iops = j.value("target_iops", std::int64_t{0});
  m.original_throughput = j.value("original_throughput", std::int64_t{0});
  m.target_throughput = j.value("target_throughput", std::int64_t{0});
  m.progress = j.value("progress", 0u);
  m.start_time = from_ms(j.value("start_time_ms", std::int64_t{0}));
  m.end_time = from_ms(j.value("end_time_ms", std::int64_t{0}));
  return m;
}

VolumeEntry volume_from(const std::string& id, const json& j) {
  VolumeEntry v;
  v.id = id;
  v.name = j.at("name").get<std::string>();
  v.created = from_ms(j.at("created_ms").get<std::int64_t>());
  v.tags = j.value("tags", Tags{});
  v.volume_type = j.value("volume_type", "gp2");
  v.snapshot_id = j.value("snapshot_id", "");
  v.iops = j.value("iops", std::int64_t{0});
  v.throughput = j.value("throughput", std::int64_t{0});
  v.client_token = j.value("client_token", "");
  v.client_size_gib = j.value("client_size_gib", std::uint64_t{0});
  v.client_zone = j.value("client_zone", "");
  v.device = j.value("device", "");
  v.instance_id = j.value("instance_id", "");
  v.attach_time = from_ms(j.value("attach_time_ms", std::int64_t{0}));
  if (j.contains("modification")) v.modification = modification_from(j.at("modification"));
  v.detaching = j.value("detaching", false);
  return v;
}

json snapshot_json(const SnapshotEntry& s) {
  return {
      {"volume", s.volume},           {"snapshot", s.snapshot},         {"volume_id", s.volume_id},
      {"description", s.description}, {"created_ms", to_ms(s.created)}, {"tags", s.tags}};
}

SnapshotEntry snapshot_from(const std::string& id, const json& j) {
  SnapshotEntry s;
  s.id = id;
  s.volume = j.at("volume").get<std::string>();
  s.snapshot = j.at("snapshot").get<std::string>();
  s.volume_id = j.value("volume_id", "");
  s.description = j.value("description", "");
  s.created = from_ms(j.at("created_ms").get<std::int64_t>());
  s.tags = j.value("tags", Tags{});
  return s;
}

}  // namespace

std::optional<TimePoint> parse_iso8601(const std::string& text) {
  std::tm tm{};
  const char* end = ::strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == nullptr) return std::nullopt;
  return std::chrono::system_clock::from_time_t(::timegm(&tm));
}

Result<void> Catalog::load() {
  std::error_code ec;
  if (!std::filesystem::exists(file_, ec)) return {};
  JsonFile file{file_, "EBS catalog", "", kCatalogMaxBytes};
  auto decoded = load_json_file(file, [&](const json& j) -> Result<void> {
    std::map<std::string, VolumeEntry> volumes;
    std::map<std::string, SnapshotEntry> snapshots;
    static const json kEmpty = json::object();
    const json& vs = j.contains("volumes") ? j.at("volumes") : kEmpty;
    const json& ss = j.contains("snapshots") ? j.at("snapshots") : kEmpty;
    for (const auto& [id, v] : vs.items()) volumes.emplace(id, volume_from(id, v));
    for (const auto& [id, s] : ss.items()) snapshots.emplace(id, snapshot_from(id, s));
    volumes_ = std::move(volumes);
    snapshots_ = std::move(snapshots);
    return {};
  });
  return decoded;
}

Result<void> Catalog::save() const {
  json volumes = json::object(), snapshots = json::object();
  for (const auto& [id, v] : volumes_)
    if (!v.pending) volumes[id] = volume_json(v);
  for (const auto& [id, s] : snapshots_) snapshots[id] = snapshot_json(s);
  json doc = {{"volumes", volumes}, {"snapshots", snapshots}};
  return write_file_atomic(file_, doc.dump(1) + "\n", 0600);
}

VolumeEntry* Catalog::volume_by_id(const std::string& id) {
  auto it = volumes_.find(id);
  return it == volumes_.end() ? nullptr : &it->second;
}

VolumeEntry* Catalog::volume_by_name(const std::string& name) {
  for (auto& [id, v] : volumes_)
    if (v.name == name) return &v;
  return nullptr;
}

VolumeEntry* Catalog::volume_by_token(const std::string& client_token) {
  if (client_token.empty()) return nullptr;
  for (auto& [id, v] : volumes_)
    if (v.client_token == client_token) return &v;
  return nullptr;
}

VolumeEntry& Catalog::add_volume(VolumeEntry entry) {
  std::string id = entry.id;
  return volumes_.insert_or_assign(id, std::move(entry)).first->second;
}

void Catalog::remove_volume(const std::string& id) {
  volumes_.erase(id);
}

bool Catalog::sync_volumes(const std::map<std::string, TimePoint>& names,
                           const std::map<std::string, std::string>& ids) {
  bool changed = false;
  for (auto it = volumes_.begin(); it != volumes_.end();) {
    if (!it->second.pending && !names.contains(it->second.name)) {
      it = volumes_.erase(it);
      changed = true;
    } else {
      ++it;
    }
  }
  for (const auto& [name, created] : names) {
    auto wanted = ids.find(name);
    if (VolumeEntry* known = volume_by_name(name)) {
      if (wanted == ids.end() || known->id == wanted->second) continue;
      // A name seen before under another id (a realm volume deleted and made again while
      // this host did not look): the realm's id wins; the old entry (its tags) is dropped.
      volumes_.erase(known->id);
      changed = true;
    }
    if (wanted != ids.end() && volume_by_id(wanted->second) != nullptr) continue;  // taken
    VolumeEntry entry;
    entry.id = wanted != ids.end() ? wanted->second : new_volume_id();
    entry.name = name;
    entry.created = created;
    add_volume(std::move(entry));
    changed = true;
  }
  return changed;
}

SnapshotEntry* Catalog::snapshot_by_id(const std::string& id) {
  auto it = snapshots_.find(id);
  return it == snapshots_.end() ? nullptr : &it->second;
}

SnapshotEntry* Catalog::snapshot_of(const std::string& volume, const std::string& snapshot) {
  for (auto& [id, s] : snapshots_)
    if (s.volume == volume && s.snapshot == snapshot) return &s;
  return nullptr;
}

SnapshotEntry& Catalog::add_snapshot(SnapshotEntry entry) {
  std::string id = entry.id;
  return snapshots_.insert_or_assign(id, std::move(entry)).first->second;
}

void Catalog::remove_snapshot(const std::string& id) {
  snapshots_.erase(id);
}

bool Catalog::sync_snapshots(
    const std::map<std::pair<std::string, std::string>, TimePoint>& snapshots) {
  bool changed = false;
  for (auto it = snapshots_.begin(); it != snapshots_.end();) {
    if (!snapshots.contains({it->second.volume, it->second.snapshot})) {
      it = snapshots_.erase(it);
      changed = true;
    } else {
      ++it;
    }
  }
  for (const auto& [key, created] : snapshots) {
    if (snapshot_of(key.first, key.second) != nullptr) continue;
    SnapshotEntry entry;
    entry.id = new_snapshot_id();
    entry.volume = key.first;
    entry.snapshot = key.second;
    if (VolumeEntry* v = volume_by_name(key.first)) entry.volume_id = v->id;
    entry.created = created;
    add_snapshot(std::move(entry));
    changed = true;
  }
  return changed;
}

}  // namespace maya::ebs
