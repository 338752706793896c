#include "drivers/pools/pool_registry.h"

#include <algorithm>
#include <system_error>

#include <nlohmann/json.hpp>

#include "lib/common/files.h"
#include "lib/common/json_file.h"

namespace maya::drivers::pools {

using nlohmann::json;

std::string phase_name(Phase phase) {
  return phase == Phase::ready ? "ready" : "creating";
}

namespace {

JsonFile registry_file(const std::filesystem::path& path) {
  return JsonFile{path, "pool registry"};
}

}  // namespace

Result<std::vector<PoolRecord>> PoolRegistry::load() const {
  std::error_code ec;
  if (!std::filesystem::exists(file_, ec)) {
    if (ec) return fail("cannot read pool registry " + file_.string() + ": " + ec.message());
    return std::vector<PoolRecord>();
  }
  const JsonFile file = registry_file(file_);
  return load_json_file(file, [&](const json& j) -> Result<std::vector<PoolRecord>> {
    std::vector<PoolRecord> records;
    for (const json& p : j.at("pools")) {
      PoolRecord r;
      r.name = p.at("name").get<std::string>();
      r.uuid = p.at("uuid").get<std::string>();
      r.disk = p.at("disk").get<std::string>();
      r.device = p.value("device", "");
      r.backing_file = p.value("backing_file", "");
      const std::string phase = p.at("phase").get<std::string>();
      if (phase == "ready")
        r.phase = Phase::ready;
      else if (phase == "creating")
        r.phase = Phase::creating;
      else
        return json_file_damaged(file,
                                 "pool " + r.name + " has an unknown phase \"" + phase + "\"");
      if (r.name.empty() || r.uuid.empty())
        return json_file_damaged(file, "a pool without a name or a UUID");
      records.push_back(std::move(r));
    }
    return records;
  });
}

Result<void> PoolRegistry::save(const std::vector<PoolRecord>& records) const {
  json pools = json::array();
  for (const PoolRecord& r : records) {
    pools.push_back({{"name", r.name},
                     {"uuid", r.uuid},
                     {"disk", r.disk.string()},
                     {"device", r.device.string()},
                     {"backing_file", r.backing_file.string()},
                     {"phase", phase_name(r.phase)}});
  }
  return write_file_atomic(file_, json{{"pools", pools}}.dump(2) + "\n", 0600);
}

Result<void> PoolRegistry::put(const PoolRecord& record) const {
  MAYA_TRY(records, load());
  auto it = std::find_if(records->begin(), records->end(),
                         [&](const PoolRecord& r) { return r.name == record.name; });
  if (it == records->end())
    records->push_back(record);
  else
    *it = record;
  return save(*records);
}

Result<void> PoolRegistry::remove(const std::string& name) const {
  MAYA_TRY(records, load());
  std::erase_if(*records, [&](const PoolRecord& r) { return r.name == name; });
  return save(*records);
}

}  // namespace maya::drivers::pools
