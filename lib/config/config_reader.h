// Typed, checked access to one TOML table: every key read is marked, wrong types and unknown
// keys become "PATH:LINE:COL: ..." errors. Internal to lib/config.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "lib/common/result.h"

namespace maya::config {

class TableReader {
 public:
  // `table` may be null (a missing optional section): every read then yields the default.
  TableReader(const toml::table* table, std::string section, std::string source);

  Result<std::string> string(const std::string& key, std::string fallback);
  Result<bool> boolean(const std::string& key, bool fallback);
  Result<std::int64_t> integer(const std::string& key, std::int64_t fallback, std::int64_t min,
                               std::int64_t max);
  Result<std::vector<std::string>> strings(const std::string& key,
                                           std::vector<std::string> fallback);

  // Location of `key` (or of the table when the key is absent) as "PATH:LINE:COL".
  std::string where(const std::string& key) const;
  // An error at `key`: "PATH:LINE:COL: [section] key: message".
  std::unexpected<Error> error_at(const std::string& key, const std::string& message) const;
  // The first key of the table that was never read, as an error; success when there is none.
  // `subtables` are keys holding nested sections handled elsewhere.
  Result<void> reject_unknown(const std::set<std::string>& subtables = {}) const;

 private:
  const toml::node* find(const std::string& key);

  const toml::table* table_;
  std::string section_;
  std::string source_;
  std::set<std::string> seen_;
};

std::string location(const std::string& source, const toml::source_region& region);

}  // namespace maya::config
