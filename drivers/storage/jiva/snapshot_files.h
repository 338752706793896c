// A jiva snapshot on disk is two files in one directory: NAME.img (the data) and NAME.json (what
// it is). A snapshot is complete once its .json exists; an .img alone is one being copied. The
// volume's own snapshots/ and the kept snapshots of deleted volumes use the same layout. A
// snapshot of a volume on disk pools has its image in a pool, beside the replica it was
// reflinked from (<pool>/snapshots/VOLUME@ID/NAME.img), and NAME.img is a symbolic link to it.
#pragma once

#include <filesystem>
#include <string>

#include "drivers/storage_driver.h"
#include "lib/common/result.h"

namespace maya::drivers::jiva {

// Reads NAME.json; an error names the file when it is damaged.
Result<SnapshotInfo> read_snapshot_info(const std::filesystem::path& json_file);

// Whether `dir` holds any file of snapshot `name`.
bool snapshot_files_exist(const std::filesystem::path& dir, const std::string& name);

// Removes NAME.json first (so that a crash in between leaves no half snapshot listed), then
// NAME.img (and the image in a pool that it links to).
void remove_snapshot_files(const std::filesystem::path& dir, const std::string& name);

}  // namespace maya::drivers::jiva
