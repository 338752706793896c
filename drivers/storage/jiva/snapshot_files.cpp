#include "drivers/storage/jiva/snapshot_files.h"

#include <nlohmann/json.hpp>

#include "lib/common/files.h"

namespace maya::drivers::jiva {

namespace fs = std::filesystem;
using nlohmann::json;

Result<SnapshotInfo> read_snapshot_info(const fs::path& json_file) {
  MAYA_TRY(text, read_file(json_file));
  json j = json::parse(*text, nullptr, false);
  auto text_of = [&j](const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string())
    return fail(json_file.string() + " is damaged");
  const auto size = j.find("size_bytes");
  fs::path image = json_file;
  image.replace_extension(".img");
  return SnapshotInfo{
      j["name"].get<std::string>(), text_of("created"),
      size != j.end() && size->is_number_unsigned() ? size->get<std::uint64_t>() : std::uint64_t{0},
      text_of("method"), allocated_bytes(image)};
}

bool snapshot_files_exist(const fs::path& dir, const std::string& name) {
  std::error_code ec;
  return fs::exists(fs::symlink_status(dir / (name + ".json"), ec)) ||
         fs::exists(fs::symlink_status(dir / (name + ".img"), ec));
}

void remove_snapshot_files(const fs::path& dir, const std::string& name) {
  std::error_code ec;
  fs::remove(dir / (name + ".json"), ec);
  remove_with_link_target(dir / (name + ".img"));
}

}  // namespace maya::drivers::jiva
