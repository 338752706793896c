#include "lib/common/json_file.h"

#include "lib/common/files.h"

namespace maya {

using nlohmann::json;

std::string JsonFile::name() const {
  return kind.empty() ? path.string() : kind + " " + path.string();
}

std::unexpected<Error> json_file_damaged(const JsonFile& file, const std::string& why) {
  return fail(file.name() + " is damaged: " + why);
}

Result<json> read_json_file(const JsonFile& file) {
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(file.path, ec);
  if (!ec && size > file.max_bytes)
    return fail(file.name() + " is " + std::to_string(size) + " bytes, more than the " +
                std::to_string(file.max_bytes) + " a JSON state file may hold");
  MAYA_TRY(text, read_file(file.path));
  json j;
  std::string why;
  try {
    j = json::parse(*text);
    if (!j.is_object()) why = "not a JSON object";
  } catch (const json::exception& e) {  // parse_error, and out_of_range for 1e400
    why = e.what();
  }
  if (why.empty()) return j;
  if (!file.not_an_object.empty()) return fail(file.name() + " " + file.not_an_object);
  return json_file_damaged(file, why);
}

}  // namespace maya
