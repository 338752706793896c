// File helpers that keep on-disk state whole across crashes.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "lib/common/result.h"

namespace maya {

// Writes `content` to a temp file beside `path`, fsyncs it, renames it over `path` and fsyncs
// the directory: a crash leaves either the old file or the new one, never half of it.
Result<void> write_file_atomic(const std::filesystem::path& path, std::string_view content,
                               mode_t mode = 0644);

Result<std::string> read_file(const std::filesystem::path& path);

// mkdir -p with `mode` for the directories it creates.
// Bytes a file's blocks take on disk (st_blocks × 512: holes are free, blocks shared by
// reflinks count in full); 0 when it cannot be read.
std::uint64_t allocated_bytes(const std::filesystem::path& path);

// Removes `path`; when it is a symbolic link, the file it points to first (a snapshot whose
// image lives in a pool). Best effort: a target that cannot be removed (its pool faulted) is
// logged and left, and the link goes all the same.
void remove_with_link_target(const std::filesystem::path& path);

Result<void> make_dirs(const std::filesystem::path& path, mode_t mode = 0755);

}  // namespace maya
