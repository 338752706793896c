// How a storage driver keeps one directory per volume under the store, crash-safely: a volume
// is built in a hidden ".create-*" directory and renamed into place when complete, and deleted
// by renaming it to a hidden ".delete-*" directory first, so a crash never leaves a half-made or
// half-deleted volume under a valid name (valid names never start with '.'). An flock on the
// volume's directory serialises attach, detach and delete across threads and processes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "lib/common/fd.h"
#include "lib/common/result.h"

namespace maya::drivers::storage {

namespace fs = std::filesystem;

// Removes a directory tree when it goes out of scope, unless kept.
class DirGuard {
 public:
  explicit DirGuard(fs::path dir) : dir_(std::move(dir)) {}
  ~DirGuard();
  DirGuard(const DirGuard&) = delete;
  DirGuard& operator=(const DirGuard&) = delete;
  void keep() { dir_.clear(); }

 private:
  fs::path dir_;
};

Result<void> sync_dir(const fs::path& dir);

// A new hidden directory in `store` to build volume `name` in ("purpose" = "create").
Result<fs::path> make_staging_dir(const fs::path& store, const std::string& name);

// An error naming the volume when `dir` already exists.
Result<void> reject_existing(const fs::path& dir, const std::string& name, const fs::path& store);

// Renames the finished `staging` directory to `dir`; fails if volume `name` appeared meanwhile.
Result<void> publish(const fs::path& staging, const fs::path& dir, const std::string& name,
                     const fs::path& store);

// Renames `dir` away at once, then removes its files (a failure there is only logged).
Result<void> discard(const fs::path& dir, const std::string& name, const fs::path& store);

// An exclusive flock on the volume directory; waits up to 30 s for another holder. Fails when
// the volume does not exist (or was removed while we waited).
Result<Fd> lock_volume(const fs::path& dir, const std::string& name);

// Makes a data file of `size` bytes: sparse, or fully allocated when not thin.
Result<void> make_data_file(const fs::path& file, std::uint64_t size, bool thin,
                            const std::string& name, const fs::path& store);
// Grows an existing data file to `size` bytes the same way (a larger file is left alone).
Result<void> grow_data_file(const fs::path& file, std::uint64_t size, bool thin,
                            const std::string& name, const fs::path& store);

}  // namespace maya::drivers::storage
