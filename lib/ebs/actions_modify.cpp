// ModifyVolume and DescribeVolumesModifications. A new Size is an online grow through the
// VolumeService (as `maya volume resize`), run by a worker thread while the request answers at
// once, as on EC2: modifying (the replicas, the device and a mounted file system grow), then
// optimizing (the volume serves at its new size; replicas that were away catch up), then
// completed, or failed with the reason in statusMessage. The catalog keeps the latest
// modification of each volume; one that a daemon stop or crash interrupted is resumed at start
// (growing to a size already reached changes nothing).
#include <algorithm>
#include <thread>

#include "lib/common/log.h"
#include "lib/ebs/actions.h"
#include "lib/ebs/volume_performance.h"

namespace maya::ebs {
namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t kGiB = 1ull << 30;
constexpr std::int64_t kMaxSizeGiB = 16384;
// How long `optimizing` waits for replicas that were away to catch up before it completes.
constexpr auto kOptimizeLimit = 1h;

ApiError incorrect_modification_state(const std::string& id) {
  return ApiError{
      400, "IncorrectModificationState",
      "Volume " + id + " is already being modified; wait until its modification completes."};
}

// The volume takes what a modification set (its size is the volume service's).
void apply(VolumeEntry& e, const Modification& m) {
  e.volume_type = m.target_type;
  e.iops = m.target_iops;
  e.throughput = m.target_throughput;
}

void write_modification(XmlWriter& out, const std::string& id, const Modification& m) {
  out.text("volumeId", id);
  out.text("modificationState", m.state);
  if (!m.status_message.empty()) out.text("statusMessage", m.status_message);
  out.number("targetSize", static_cast<std::int64_t>(m.target_size_gib));
  out.text("targetVolumeType", m.target_type);
  if (m.target_iops != 0) out.number("targetIops", m.target_iops);
  if (m.target_throughput != 0) out.number("targetThroughput", m.target_throughput);
  out.boolean("targetMultiAttachEnabled", false);
  out.number("originalSize", static_cast<std::int64_t>(m.original_size_gib));
  out.text("originalVolumeType", m.original_type);
  if (m.original_iops != 0) out.number("originalIops", m.original_iops);
  if (m.original_throughput != 0) out.number("originalThroughput", m.original_throughput);
  out.boolean("originalMultiAttachEnabled", false);
  out.number("progress", m.progress);
  out.timestamp("startTime", m.start_time);
  if (m.state == "completed" || m.state == "failed") out.timestamp("endTime", m.end_time);
}

// Moves volume `id`'s modification on and saves the catalog (a failure to save is logged: the
// volume has changed either way).
void advance(Backend& b, const std::string& id, const std::string& state, unsigned progress,
             const std::string& message = {}) {
  std::lock_guard lock(b.catalog_mutex);
  VolumeEntry* e = b.catalog.volume_by_id(id);
  if (e == nullptr || !e->modification) return;
  Modification& m = *e->modification;
  m.state = state;
  m.progress = progress;
  m.status_message = message;
  if (state == "completed" || state == "failed") m.end_time = std::chrono::system_clock::now();
  if (state == "completed") apply(*e, m);
  if (auto saved = b.catalog.save(); !saved)
    log::error("EBS API: cannot save the catalog: " + saved.error().message);
}

// Whether a replica of the volume is being rebuilt.
bool rebuilding(Backend& b, const std::string& name) {
  auto info = b.volumes->get(name);
  return info && info->replication && info->replication->rebuild;
}

void run(Backend& b, const std::string& id, const std::string& name, std::uint64_t bytes,
         const std::stop_token& stop) {
  auto resized = b.volumes->resize(name, bytes);
  if (!resized) {
    log::warn("EBS API: ModifyVolume of " + name + " (" + id +
              ") failed: " + resized.error().message);
    advance(b, id, "failed", 0, resized.error().message);
    return;
  }
  log::info("EBS API: volume " + name + " (" + id + ") is now " + std::to_string(bytes) + " bytes");
  // A file system that could not grow while mounted grows at its next mount: say so.
  const std::string note = resized->filesystem_deferred;
  advance(b, id, "optimizing", 50, note);
  const auto deadline = std::chrono::steady_clock::now() + kOptimizeLimit;
  while (rebuilding(b, name) && std::chrono::steady_clock::now() < deadline) {
    if (stop.stop_requested()) return;  // resumed at the next start
    std::this_thread::sleep_for(250ms);
  }
  advance(b, id, "completed", 100, note);
}

}  // namespace

void start_modification(Backend& b, const std::string& id, const std::string& name,
                        std::uint64_t bytes) {
  std::lock_guard lock(b.workers_mutex);
  std::erase_if(b.workers, [](const Backend::Worker& w) { return w.done->load(); });
  auto done = std::make_shared<std::atomic<bool>>(false);
  b.workers.push_back(
      Backend::Worker{std::jthread([&b, id, name, bytes, done](const std::stop_token& stop) {
                        run(b, id, name, bytes, stop);
                        done->store(true);
                      }),
                      done});
}

void resume_modifications(Backend& b) {
  std::vector<std::pair<std::string, std::string>> pending;
  std::map<std::string, std::uint64_t> sizes;
  {
    std::lock_guard lock(b.catalog_mutex);
    for (const auto& [id, e] : b.catalog.volumes()) {
      if (!e.modification) continue;
      if (e.modification->state != "modifying" && e.modification->state != "optimizing") continue;
      pending.emplace_back(id, e.name);
      sizes[id] = e.modification->target_size_gib * kGiB;
    }
  }
  for (const auto& [id, name] : pending) {
    log::info("EBS API: resuming the modification of volume " + name + " (" + id + ")");
    start_modification(b, id, name, sizes[id]);
  }
}

namespace {

// What a ModifyVolume asks of a volume, checked against what it is now.
struct Plan {
  Modification m;
  std::uint64_t from_bytes = 0, to_bytes = 0;
};

// Iops and Throughput as they become: the new type's (its defaults where not given; io1/io2
// need Iops), or, for the same type, what is given over what the volume has.
ApiResult<VolumePerformance> target_performance(const Query& q, const VolumeEntry& e,
                                                const std::string& target_type) {
  const VolumePerformance now{e.iops, e.throughput};
  const bool type_changes = target_type != e.volume_type;
  if (!type_changes && !q.has("Iops") && !q.has("Throughput")) return now;
  Query asked = q;
  if (!type_changes) {
    if (!asked.has("Iops") && now.iops != 0) asked.params["Iops"] = std::to_string(now.iops);
    if (!asked.has("Throughput") && now.throughput != 0)
      asked.params["Throughput"] = std::to_string(now.throughput);
  }
  return volume_performance(asked, target_type);
}

ApiResult<Plan> plan_modification(const Query& q, const VolumeView& v) {
  auto size = q.integer("Size", 1, kMaxSizeGiB);
  if (!size) return api_fail(size.error());
  const auto type = q.get("VolumeType");
  if (type) {
    if (auto known = check_volume_type(*type); !known) return api_fail(known.error());
  }
  auto multi = q.boolean("MultiAttachEnabled");
  if (!multi) return api_fail(multi.error());
  if (multi->value_or(false))
    return api_fail(
        errors::invalid_parameter_value("MultiAttachEnabled", "true", "maya does not offer it."));
  if (!*size && !type && !q.has("Iops") && !q.has("Throughput"))
    return api_fail(errors::missing_parameter("Size"));  // nothing to modify

  Plan p;
  // Sizes compare in bytes: a volume made by the CLI may be 1.5 GiB (EC2 shows 2), and grows to 2.
  p.from_bytes = v.info->spec.size_bytes;
  const std::uint64_t current_gib = (p.from_bytes + kGiB - 1) / kGiB;
  const std::uint64_t target_gib =
      size->has_value() ? static_cast<std::uint64_t>(**size) : current_gib;
  p.to_bytes = size->has_value() ? target_gib * kGiB : p.from_bytes;
  if (p.to_bytes < p.from_bytes)
    return api_fail(errors::invalid_parameter_value(
        "Size", std::to_string(target_gib),
        "New size cannot be smaller than existing size (" + std::to_string(p.from_bytes) +
            " bytes): maya grows volumes, never shrinks them."));
  const VolumeEntry& e = v.entry;
  const std::string target_type = type.value_or(e.volume_type);
  auto performance = target_performance(q, e, target_type);
  if (!performance) return api_fail(performance.error());
  if (p.to_bytes == p.from_bytes && target_type == e.volume_type && performance->iops == e.iops &&
      performance->throughput == e.throughput)
    return api_fail(errors::invalid_parameter_combination(
        "New configuration is the same as the existing one (" + std::to_string(current_gib) +
        " GiB, " + target_type + ")."));
  Modification& m = p.m;
  m.state = "modifying";
  m.original_size_gib = current_gib;
  m.target_size_gib = target_gib;
  m.original_type = e.volume_type;
  m.target_type = target_type;
  m.original_iops = e.iops;
  m.target_iops = performance->iops;
  m.original_throughput = e.throughput;
  m.target_throughput = performance->throughput;
  m.start_time = std::chrono::system_clock::now();
  if (p.to_bytes == p.from_bytes) {  // type and performance alone: labels maya keeps
    m.state = "completed";
    m.progress = 100;
    m.end_time = m.start_time;
  }
  return p;
}

}  // namespace

ApiResult<void> modify_volume(Backend& b, const Query& q, XmlWriter& out) {
  if (auto unknown = q.check_known(
          {"VolumeId", "Size", "VolumeType", "Iops", "Throughput", "MultiAttachEnabled"}))
    return api_fail(*unknown);
  auto id = q.require("VolumeId");
  if (!id) return api_fail(id.error());
  auto volume = find_volume(b, *id);
  if (!volume) return api_fail(volume.error());
  auto plan = plan_modification(q, *volume);
  if (!plan) return api_fail(plan.error());
  if (b.volumes == nullptr) return api_fail(errors::incorrect_state("this host keeps no volumes"));
  const Modification& m = plan->m;
  const bool grows = plan->to_bytes > plan->from_bytes;
  {
    std::lock_guard lock(b.catalog_mutex);
    VolumeEntry* e = b.catalog.volume_by_id(*id);
    if (e == nullptr) return api_fail(errors::volume_not_found(*id));
    if (e->modification &&
        (e->modification->state == "modifying" || e->modification->state == "optimizing"))
      return api_fail(incorrect_modification_state(*id));
    e->modification = m;
    if (!grows) apply(*e, m);
    if (auto saved = save_catalog(b); !saved) return api_fail(saved.error());
  }
  if (grows) {
    log::info("EBS API: ModifyVolume " + volume->entry.name + " (" + *id + ") from " +
              std::to_string(m.original_size_gib) + " to " + std::to_string(m.target_size_gib) +
              " GiB");
    start_modification(b, *id, volume->entry.name, plan->to_bytes);
  }
  auto item = out.scope("volumeModification");
  write_modification(out, *id, m);
  return {};
}

ApiResult<void> describe_volumes_modifications(Backend& b, const Query& q, XmlWriter& out) {
  if (auto unknown = q.check_known({"VolumeId.*", "Filter.*", "MaxResults", "NextToken"}))
    return api_fail(*unknown);
  auto ids = q.list("VolumeId");
  if (!ids) return api_fail(ids.error());
  auto filters = q.filters();
  if (!filters) return api_fail(filters.error());
  auto all = all_volumes(b);  // syncs the catalog with the host's volumes
  if (!all) return api_fail(all.error());
  for (const std::string& id : *ids) {
    if (std::none_of(all->begin(), all->end(), [&](const auto& v) { return v.entry.id == id; }))
      return api_fail(errors::volume_not_found(id));
  }
  std::vector<std::pair<std::string, Modification>> chosen;
  {
    std::lock_guard lock(b.catalog_mutex);
    for (const auto& [id, e] : b.catalog.volumes()) {
      if (!e.modification) continue;
      if (!ids->empty() && std::find(ids->begin(), ids->end(), id) == ids->end()) continue;
      const Modification& m = *e.modification;
      bool keep = true;
      for (const Filter& f : *filters) {
        if (f.name == "volume-id") {
          keep = keep && any_match(f.values, id);
        } else if (f.name == "modification-state") {
          keep = keep && any_match(f.values, m.state);
        } else if (f.name == "target-size") {
          keep = keep && any_match(f.values, std::to_string(m.target_size_gib));
        } else if (f.name == "original-size") {
          keep = keep && any_match(f.values, std::to_string(m.original_size_gib));
        } else if (f.name == "target-volume-type") {
          keep = keep && any_match(f.values, m.target_type);
        } else if (f.name == "original-volume-type") {
          keep = keep && any_match(f.values, m.original_type);
        } else {
          return api_fail(errors::invalid_parameter_value(
              "Filter.Name", f.name,
              "It is not a modification filter (volume-id, modification-state, target-size, "
              "original-size, target-volume-type, original-volume-type)."));
        }
      }
      if (keep) chosen.emplace_back(id, m);
    }
  }
  for (const std::string& id : *ids) {
    if (std::none_of(chosen.begin(), chosen.end(), [&](const auto& c) { return c.first == id; }) &&
        filters->empty())
      return api_fail(ApiError{400, "InvalidVolumeModification.NotFound",
                               "Modification for volume '" + id + "' does not exist."});
  }
  std::vector<std::string> keys;
  for (const auto& c : chosen) keys.push_back(c.first);
  auto page = paginate(q, keys);
  if (!page) return api_fail(page.error());
  {
    auto set = out.scope("volumeModificationSet");
    for (std::size_t i = page->begin; i < page->end; ++i) {
      auto item = out.scope("item");
      write_modification(out, chosen[i].first, chosen[i].second);
    }
  }
  if (!page->next_token.empty()) out.text("nextToken", page->next_token);
  return {};
}

}  // namespace maya::ebs
