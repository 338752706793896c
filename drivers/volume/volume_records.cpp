#include "drivers/volume/volume_records.h"

#include <algorithm>
#include <fstream>

#include <nlohmann/json.hpp>

#include "lib/common/files.h"
#include "lib/common/json_file.h"
#include "lib/common/names.h"

namespace maya::drivers {
namespace {

using nlohmann::json;

json to_json(const VolumeRecord& r) {
  const VolumeSpec& s = r.spec;
  json spec = {{"name", s.name},
               {"size_bytes", s.size_bytes},
               {"thin", s.thin},
               {"replicas", s.replicas},
               {"storage_driver", s.storage_driver},
               {"fstype", s.fstype},
               {"mount_options", s.mount_options},
               {"uid", s.uid ? json(*s.uid) : json(nullptr)},
               {"gid", s.gid ? json(*s.gid) : json(nullptr)},
               {"from", s.from},
               {"attach", s.attach}};
  return {{"version", 1},
          {"spec", spec},
          {"created", r.created},
          {"mounts", r.mounts},
          {"boot_id", r.boot_id},
          {"host_attached", r.host_attached},
          {"grow_filesystem", r.grow_filesystem}};
}

VolumeRecord from_json(const json& j) {
  VolumeRecord r;
  const json& s = j.at("spec");
  r.spec.name = s.at("name").get<std::string>();
  r.spec.size_bytes = s.at("size_bytes").get<std::uint64_t>();
  r.spec.thin = s.at("thin").get<bool>();
  r.spec.replicas = s.at("replicas").get<unsigned>();
  r.spec.storage_driver = s.at("storage_driver").get<std::string>();
  r.spec.fstype = s.at("fstype").get<std::string>();
  r.spec.mount_options = s.at("mount_options").get<std::string>();
  if (!s.at("uid").is_null()) r.spec.uid = s.at("uid").get<uid_t>();
  if (!s.at("gid").is_null()) r.spec.gid = s.at("gid").get<gid_t>();
  r.spec.from = s.value("from", "");
  r.spec.attach = s.value("attach", "");
  r.created = j.at("created").get<std::string>();
  r.mounts = j.at("mounts").get<std::map<std::string, unsigned>>();
  r.boot_id = j.value("boot_id", "");
  r.host_attached = j.contains("host_attached") && j.at("host_attached").get<bool>();
  r.grow_filesystem = j.contains("grow_filesystem") && j.at("grow_filesystem").get<bool>();
  return r;
}

}  // namespace

unsigned VolumeRecord::references() const {
  unsigned n = 0;
  for (const auto& [id, count] : mounts) n += count;
  return n;
}

Result<void> VolumeRecords::save(const VolumeRecord& record) const {
  MAYA_TRY_VOID(validate_volume_name(record.spec.name));
  MAYA_TRY_VOID(make_dirs(dir_, 0700));
  return write_file_atomic(file(record.spec.name), to_json(record).dump(2) + "\n", 0600);
}

Result<VolumeRecord> VolumeRecords::load(const std::string& name) const {
  MAYA_TRY_VOID(validate_volume_name(name));
  std::error_code ec;
  if (!std::filesystem::exists(file(name), ec)) return fail("no such volume: " + name);
  const JsonFile record_file{.path = file(name), .kind = "record"};
  return load_json_file(record_file, [&](const json& j) -> Result<VolumeRecord> {
    VolumeRecord record = from_json(j);
    if (record.spec.name != name) return fail(record_file.name() + " names another volume");
    return record;
  });
}

bool VolumeRecords::exists(const std::string& name) const {
  std::error_code ec;
  return validate_volume_name(name) && std::filesystem::exists(file(name), ec);
}

Result<void> VolumeRecords::erase(const std::string& name) const {
  MAYA_TRY_VOID(validate_volume_name(name));
  std::error_code ec;
  std::filesystem::remove(file(name), ec);
  if (ec) return fail("cannot remove record " + file(name).string() + ": " + ec.message());
  return {};
}

std::vector<VolumeRecord> VolumeRecords::load_all(std::map<std::string, std::string>* bad) const {
  std::vector<VolumeRecord> out;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir_, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (it->path().extension() != ".json") continue;
    std::string name = it->path().stem().string();
    auto record = load(name);
    if (record) {
      out.push_back(std::move(*record));
    } else if (bad != nullptr) {
      (*bad)[name] = record.error().message;
    }
  }
  std::sort(out.begin(), out.end(),
            [](const VolumeRecord& a, const VolumeRecord& b) { return a.spec.name < b.spec.name; });
  return out;
}

std::string current_boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  in >> id;
  return id;
}

}  // namespace maya::drivers
