// The registry of disk pools: <state>/pools.json, one record per pool maya made, written
// atomically. It is the one list of pool UUIDs maya knows: a disk is imported only when its
// UUID is here, and a disk whose UUID is here is never formatted again.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "lib/common/result.h"

namespace maya::drivers::pools {

// How far `pool create` got; a crash leaves the record in the phase it reached.
//   creating: recorded with its UUID, mkfs may or may not have finished
//   ready:    formatted and mounted once; imported at every start
enum class Phase { creating, ready };

struct PoolRecord {
  std::string name;
  std::string uuid;                    // the XFS file system's UUID (lower case, with dashes)
  std::filesystem::path disk;          // as given to create: a block device or a file
  std::filesystem::path device;        // the block device it was last seen on
  std::filesystem::path backing_file;  // a file maya bound to a loop device; empty for devices
  Phase phase = Phase::creating;
};

class PoolRegistry {
 public:
  explicit PoolRegistry(std::filesystem::path file) : file_(std::move(file)) {}

  // Every record; none when the file does not exist. A damaged file is an error naming it,
  // never an empty registry.
  Result<std::vector<PoolRecord>> load() const;
  Result<void> save(const std::vector<PoolRecord>& records) const;

  // load, replace (or add) the record named `record.name`, save.
  Result<void> put(const PoolRecord& record) const;
  // load, drop the record named `name`, save.
  Result<void> remove(const std::string& name) const;

  const std::filesystem::path& file() const { return file_; }

 private:
  std::filesystem::path file_;
};

std::string phase_name(Phase phase);

}  // namespace maya::drivers::pools
