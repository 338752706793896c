// Snapshots outlive their volume (as on EBS): a deleted jiva volume's snapshots move to
// <store>/.snapshots/<volume>/ (valid volume names never start with '.'), where they stay listed
// and clonable until deleted themselves.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "drivers/storage/common/volume_dir.h"
#include "drivers/storage/jiva/jiva_storage_driver.h"
#include "drivers/storage/jiva/snapshot_files.h"
#include "lib/common/errno_text.h"
#include "lib/common/files.h"
#include "lib/common/log.h"
#include "lib/common/names.h"

namespace maya::drivers::jiva {
namespace {

namespace fs = std::filesystem;

Result<void> move(const fs::path& from, const fs::path& to) {
  if (::rename(from.c_str(), to.c_str()) != 0)
    return fail_errno("cannot move " + from.string() + " to " + to.string());
  return {};
}

}  // namespace

fs::path JivaStorageDriver::kept_dir(const std::string& volume) const {
  return options_.store_dir / ".snapshots" / volume;
}

bool JivaStorageDriver::has_kept_snapshots(const std::string& volume) const {
  std::error_code ec;
  return fs::is_directory(kept_dir(volume), ec);
}

Result<void> JivaStorageDriver::keep_snapshots(const std::string& volume) {
  const fs::path live = volume_dir(volume) / "snapshots";
  const fs::path kept = kept_dir(volume);
  std::vector<std::string> names, unfinished;
  std::error_code ec;
  for (auto it = fs::directory_iterator(live, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    // Only complete snapshots (their .json written); an .img alone is one never finished.
    if (it->path().extension() == ".json") names.push_back(it->path().stem().string());
    if (it->path().extension() == ".img" &&
        !fs::exists(fs::path(it->path()).replace_extension(".json")))
      unfinished.push_back(it->path().string());
  }
  // An unfinished one goes with the volume; its image in a pool with it (the volume directory's
  // removal would take only the link).
  for (const std::string& img : unfinished) remove_with_link_target(img);
  if (names.empty()) return {};
  // Refused before anything moves: a volume of the same name, deleted before, kept one.
  for (const std::string& snap : names) {
    if (fs::exists(kept / (snap + ".json"), ec))
      return fail("cannot keep snapshot " + snap + " of volume " + volume + ": a deleted volume " +
                  volume +
                  " kept one of that name; delete it first "
                  "(maya snapshot delete " +
                  volume + "@" + snap + ") or delete this volume " + "--with-snapshots");
  }
  MAYA_TRY_VOID(make_dirs(kept, 0700));
  MAYA_TRY_VOID(storage::sync_dir(kept.parent_path()));
  // Each move is a rename within the store, .img first: .json is what makes a snapshot, so a
  // crash in between leaves it complete in one place, and a second delete finishes the move.
  for (const std::string& snap : names) {
    if (fs::exists(fs::symlink_status(live / (snap + ".img"), ec)))  // a link to a pool too
      MAYA_TRY_VOID(move(live / (snap + ".img"), kept / (snap + ".img")));
    MAYA_TRY_VOID(move(live / (snap + ".json"), kept / (snap + ".json")));
  }
  MAYA_TRY_VOID(storage::sync_dir(kept));
  MAYA_TRY_VOID(storage::sync_dir(live));
  log::info("volume " + volume + ": " + std::to_string(names.size()) + " snapshot(s) kept in " +
            kept.string());
  return {};
}

Result<std::vector<SnapshotManager::KeptSnapshot>> JivaStorageDriver::kept_snapshots() {
  std::vector<KeptSnapshot> out;
  std::error_code ec;
  for (auto vol = fs::directory_iterator(options_.store_dir / ".snapshots", ec);
       !ec && vol != fs::directory_iterator(); vol.increment(ec)) {
    std::error_code inner;
    for (auto it = fs::directory_iterator(vol->path(), inner);
         !inner && it != fs::directory_iterator(); it.increment(inner)) {
      if (it->path().extension() != ".json") continue;
      if (auto info = read_snapshot_info(it->path()))
        out.push_back({vol->path().filename().string(), std::move(*info)});
    }
  }
  std::sort(out.begin(), out.end(), [](const KeptSnapshot& a, const KeptSnapshot& b) {
    return a.volume != b.volume ? a.volume < b.volume : a.info.created < b.info.created;
  });
  return out;
}

Result<void> JivaStorageDriver::delete_kept_snapshot(const std::string& volume,
                                                     const std::string& snapshot) {
  MAYA_TRY(valid, validate_volume_name(volume));
  if (auto ok = validate_volume_name(snapshot); !ok)
    return fail("invalid snapshot name: " + ok.error().message);
  const fs::path kept = kept_dir(volume);
  if (!snapshot_files_exist(kept, snapshot)) return fail("no snapshot " + volume + "@" + snapshot);
  remove_snapshot_files(kept, snapshot);
  std::error_code ec;
  fs::remove(kept, ec);  // only when it was the last one
  log::info("snapshot " + snapshot + " of deleted volume " + volume + " deleted");
  return {};
}

}  // namespace maya::drivers::jiva
