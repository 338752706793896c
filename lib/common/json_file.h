// The one way maya loads a JSON file it wrote (jiva.json, chap.json, volume records, a
// replica's replica.json): read whole within a size bound, parsed as one JSON object, decoded
// by the caller, and every failure one sentence naming the file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <type_traits>
#include <utility>

#include <nlohmann/json.hpp>

#include "lib/common/result.h"

namespace maya {

// The most a JSON state file may hold; the ones maya writes take a few KiB.
inline constexpr std::uintmax_t kJsonFileMaxBytes = 1 << 20;

struct JsonFile {
  std::filesystem::path path;
  // What messages call it before its path: "record" gives "record PATH is damaged: …".
  std::string kind = {};
  // What follows the name when the text is not a JSON object ("is not a JSON object"); when
  // empty, "is damaged: " and the parser's reason.
  std::string not_an_object = {};
  std::uintmax_t max_bytes = kJsonFileMaxBytes;

  // "PATH", or "KIND PATH".
  std::string name() const;
};

// Reads and parses the file. Fails with read_file's message when it cannot be read (a missing
// file too: callers for whom absence is normal check first), "NAME is N bytes, more than the
// M a JSON state file may hold", and the not_an_object sentence.
Result<nlohmann::json> read_json_file(const JsonFile& file);

// "NAME is damaged: WHY".
std::unexpected<Error> json_file_damaged(const JsonFile& file, const std::string& why);

// read_json_file, then `decode` (const json& → Result<T>). A nlohmann::json::exception thrown
// while decoding (a missing key, a wrong type, json_unsigned's range) is "NAME is damaged: WHAT".
template <class Decode>
auto load_json_file(const JsonFile& file, Decode&& decode)
    -> std::invoke_result_t<Decode&, const nlohmann::json&> {
  MAYA_TRY(json, read_json_file(file));
  try {
    return decode(std::as_const(*json));
  } catch (const nlohmann::json::exception& e) {
    return json_file_damaged(file, e.what());
  }
}

}  // namespace maya
