#include "lib/config/config_reader.h"

namespace maya::config {

std::string location(const std::string& source, const toml::source_region& region) {
  return source + ":" + std::to_string(region.begin.line) + ":" +
         std::to_string(region.begin.column);
}

TableReader::TableReader(const toml::table* table, std::string section, std::string source)
    : table_(table), section_(std::move(section)), source_(std::move(source)) {}

const toml::node* TableReader::find(const std::string& key) {
  seen_.insert(key);
  if (table_ == nullptr) return nullptr;
  return table_->get(key);
}

std::string TableReader::where(const std::string& key) const {
  if (table_ != nullptr) {
    if (const toml::node* node = table_->get(key)) return location(source_, node->source());
    return location(source_, table_->source());
  }
  return source_ + ":1:1";
}

std::unexpected<Error> TableReader::error_at(const std::string& key,
                                             const std::string& message) const {
  return fail(where(key) + ": [" + section_ + "] " + key + ": " + message);
}

Result<std::string> TableReader::string(const std::string& key, std::string fallback) {
  const toml::node* node = find(key);
  if (node == nullptr) return fallback;
  if (auto v = node->value<std::string>(); v && node->is_string()) return *v;
  return error_at(key, "expected a string");
}

Result<bool> TableReader::boolean(const std::string& key, bool fallback) {
  const toml::node* node = find(key);
  if (node == nullptr) return fallback;
  if (node->is_boolean()) return *node->value<bool>();
  return error_at(key, "expected true or false");
}

Result<std::int64_t> TableReader::integer(const std::string& key, std::int64_t fallback,
                                          std::int64_t min, std::int64_t max) {
  const toml::node* node = find(key);
  if (node == nullptr) return fallback;
  if (!node->is_integer()) return error_at(key, "expected an integer");
  std::int64_t v = *node->value<std::int64_t>();
  if (v < min || v > max) {
    return error_at(key, std::to_string(v) + " is out of range (" + std::to_string(min) + " to " +
                             std::to_string(max) + ")");
  }
  return v;
}

Result<std::vector<std::string>> TableReader::strings(const std::string& key,
                                                      std::vector<std::string> fallback) {
  const toml::node* node = find(key);
  if (node == nullptr) return fallback;
  const toml::array* array = node->as_array();
  if (array == nullptr) return error_at(key, "expected an array of strings");
  std::vector<std::string> out;
  for (const toml::node& item : *array) {
    if (!item.is_string()) {
      return fail(location(source_, item.source()) + ": [" + section_ + "] " + key +
                  ": expected an array of strings");
    }
    out.push_back(*item.value<std::string>());
  }
  return out;
}

Result<void> TableReader::reject_unknown(const std::set<std::string>& subtables) const {
  if (table_ == nullptr) return {};
  for (const auto& [key, node] : *table_) {
    std::string name(key.str());
    if (seen_.contains(name) || subtables.contains(name)) continue;
    return fail(location(source_, key.source()) + ": unknown key \"" + name + "\" in [" + section_ +
                "]");
  }
  return {};
}

}  // namespace maya::config
