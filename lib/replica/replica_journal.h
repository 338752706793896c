// What each replica of a replicated volume remembers besides its data, so that a target that
// starts again knows which replicas are current (a stale replica never wins) and which regions
// need copying:
//   meta     id, size, generation (bumped whenever the set of RW replicas changes, and written
//            to the replicas that stay), revision (acknowledged writes), a clean-stop flag, the
//            RW members of its generation, and since when the degraded bitmap counts
//   dirty    regions with writes that may not have reached every replica (cleared when idle)
//   degraded regions written while some replica was away
// FileJournal keeps them beside the replica's data (replica.json, dirty.bitmap,
// degraded.bitmap); tests use MemoryJournal (tests/support), which can be told to fail.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "lib/common/fd.h"
#include "lib/common/result.h"
#include "lib/replica/region_bitmap.h"

namespace maya::replica {

struct ReplicaMeta {
  std::string id;
  std::uint64_t size_bytes = 0;
  std::uint64_t generation = 0;      // 0: never part of the volume (a new replica)
  std::uint64_t revision = 0;        // writes acknowledged, as of the last time this was saved
  bool clean = false;                // the target stopped cleanly: no write was in flight
  std::vector<std::string> members;  // the RW replicas of `generation`
  std::uint64_t degraded_since = 0;  // the degraded bitmap counts writes from this generation on
};

// The meta as JSON: replica.json's shape, which the iscsi:// journal's meta slots hold too.
// meta_from_json throws nlohmann::json::exception when a key is missing or mistyped.
nlohmann::json meta_json(const ReplicaMeta& meta);
ReplicaMeta meta_from_json(const nlohmann::json& j);

enum class BitmapKind { dirty, degraded };

class ReplicaJournal {
 public:
  virtual ~ReplicaJournal() = default;
  // The saved meta; a replica that never had one gets generation 0.
  virtual Result<ReplicaMeta> load_meta() = 0;
  // Durable and atomic: the old meta or the new one survives a crash, never a mix.
  virtual Result<void> save_meta(const ReplicaMeta& meta) = 0;
  virtual Result<RegionBitmap> load_bitmap(BitmapKind kind, std::uint64_t regions) = 0;
  // Saves one 64-bit word of a bitmap (durable only after sync()).
  virtual Result<void> save_word(BitmapKind kind, std::uint64_t index, std::uint64_t word) = 0;
  virtual Result<void> save_bitmap(BitmapKind kind, const RegionBitmap& bitmap) = 0;
  // Makes what was saved durable (only the bitmaps written since the last sync).
  virtual Result<void> sync() = 0;
};

class FileJournal final : public ReplicaJournal {
 public:
  static Result<std::unique_ptr<FileJournal>> open(const std::filesystem::path& dir);
  Result<ReplicaMeta> load_meta() override;
  Result<void> save_meta(const ReplicaMeta& meta) override;
  Result<RegionBitmap> load_bitmap(BitmapKind kind, std::uint64_t regions) override;
  Result<void> save_word(BitmapKind kind, std::uint64_t index, std::uint64_t word) override;
  Result<void> save_bitmap(BitmapKind kind, const RegionBitmap& bitmap) override;
  Result<void> sync() override;

 private:
  FileJournal(std::filesystem::path dir, Fd dirty, Fd degraded)
      : dir_(std::move(dir)), dirty_(std::move(dirty)), degraded_(std::move(degraded)) {}
  int fd(BitmapKind kind) const {
    return kind == BitmapKind::dirty ? dirty_.get() : degraded_.get();
  }
  std::atomic<bool>& unsynced(BitmapKind kind) {
    return kind == BitmapKind::dirty ? dirty_unsynced_ : degraded_unsynced_;
  }
  std::filesystem::path dir_;
  Fd dirty_, degraded_;
  // Written since the last sync: set after each write, taken (exchange) before an fdatasync.
  std::atomic<bool> dirty_unsynced_{true}, degraded_unsynced_{true};
  // One sync at a time: a caller that finds a flag taken by a sync in flight must not return
  // before that fdatasync is done (a flush and a write's mark save sync concurrently).
  std::mutex sync_mutex_;
};

}  // namespace maya::replica
