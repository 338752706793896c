// The one table printer of the CLI: rows of strings, each column as wide as its widest cell,
// two spaces between columns, so a long name never runs into the next column.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace maya::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  // Without a header row: `key  value` lines such as `maya status`.
  static Table headless() { return Table(); }
  void print(std::ostream& out) const;

 private:
  Table() = default;
  std::vector<std::vector<std::string>> rows_;
};

// A size in a table of pools or replicas, as the mayastor-client tables print it: "96.0 MiB",
// "1.0 GiB", "0 B".
std::string spaced_size(std::uint64_t bytes);

}  // namespace maya::cli
