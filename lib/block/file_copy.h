// Copying a volume's blocks between files: by reflink (FICLONE: instant, blocks shared) where
// the file system can (XFS with reflink, btrfs), else a sparse copy that keeps holes holes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>

#include "lib/common/result.h"

namespace maya::block {

enum class CopyMethod { reflink, sparse };

// Makes `to` (must not exist) a copy of the first `size` bytes of `from`. `progress` (if set)
// is called with bytes done and total now and then during a sparse copy.
Result<CopyMethod> copy_file(
    const std::filesystem::path& from, const std::filesystem::path& to, std::uint64_t size,
    const std::function<void(std::uint64_t, std::uint64_t)>& progress = {});

// The same between open descriptors; `to` is made exactly `size` bytes, its old contents gone.
Result<CopyMethod> copy_fd(int from, int to, std::uint64_t size,
                           const std::function<void(std::uint64_t, std::uint64_t)>& progress = {});

// pwrite until all of `data` is at `offset` of `fd` (short writes and EINTR are retried).
Result<void> write_at(int fd, std::span<const std::byte> data, std::uint64_t offset);

// Whether `dir`'s file system shares blocks on FICLONE.
bool supports_reflink(const std::filesystem::path& dir);

}  // namespace maya::block
