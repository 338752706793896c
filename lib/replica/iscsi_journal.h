// IscsiJournal: the ReplicaJournal of an iscsi:// child, in the journal area
// [0, kRemoteJournalBytes) of its LUN (lib/replica/remote_layout.h). Layout, in bytes:
//
//   [0, 4 KiB)            meta slot 0 ┐ each: "MAYAJRN1" (8 bytes), sequence (u64 LE),
//   [4 KiB, 8 KiB)        meta slot 1 ┘ JSON length (u32 LE), CRC32C (u32 LE) of the
//                                       sequence, the length and the JSON, then the JSON of
//                                       the ReplicaMeta (the keys of FileJournal's replica.json)
//   [8 KiB, 64 KiB)       reserved (zeros)
//   [64 KiB, +kBitmapBytes)              the dirty bitmap   ┐ RegionBitmap::to_bytes(): bit r of
//   [64 KiB + kBitmapBytes, +kBitmapBytes) the degraded one ┘ byte r/8 is region r (1 MiB)
//
// save_meta writes the slot that does not hold the newest meta, with FUA, under a sequence one
// higher: a torn write fails its CRC and the other slot, the previous meta, wins. load_meta
// takes the valid slot of the highest sequence; a journal area of zeros (a slot that is zeros,
// the other zeros or torn) is a replica that never served: generation 0. Both slots damaged is
// an error.
//
// save_word writes the one LUN block that holds the word, from an in-memory copy of the bitmap
// (read at open), so no read is needed; writes of one block are serialized (striped locks) so
// that an older copy of a block never lands after a newer one. sync() sends SYNCHRONIZE CACHE
// only if a bitmap was written since the last one, one sync at a time (as FileJournal::sync).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "lib/replica/iscsi_lun.h"
#include "lib/replica/replica_journal.h"

namespace maya::replica {

class IscsiJournal final : public ReplicaJournal {
 public:
  static constexpr std::uint64_t kSlotBytes = 4096;
  static constexpr std::uint64_t kBitmapsAt = 64 << 10;
  static constexpr std::uint64_t kBitmapBytes = (8ull << 20) / 2 - kBitmapsAt / 2;
  // The most regions (1 MiB each) a bitmap can count: a volume of up to ~31 TiB.
  static constexpr std::uint64_t kMaxRegions = kBitmapBytes * 8;

  // Reads the bitmaps of a volume of `regions` regions into memory; a volume whose regions do
  // not fit the bitmap areas is an error.
  static Result<std::unique_ptr<IscsiJournal>> open(std::shared_ptr<IscsiLun> lun,
                                                    std::uint64_t regions);

  Result<ReplicaMeta> load_meta() override;
  Result<void> save_meta(const ReplicaMeta& meta) override;
  Result<RegionBitmap> load_bitmap(BitmapKind kind, std::uint64_t regions) override;
  Result<void> save_word(BitmapKind kind, std::uint64_t index, std::uint64_t word) override;
  Result<void> save_bitmap(BitmapKind kind, const RegionBitmap& bitmap) override;
  Result<void> sync() override;

 private:
  struct Bitmap {
    std::mutex mutex;                  // guards words (the copy), not the writes
    std::vector<std::uint64_t> words;  // what the LUN holds, as far as it was read or written
    std::atomic<bool> unsynced{true};
  };
  explicit IscsiJournal(std::shared_ptr<IscsiLun> lun) : lun_(std::move(lun)) {}
  static std::uint64_t area(BitmapKind kind) {
    return kBitmapsAt + (kind == BitmapKind::dirty ? 0 : kBitmapBytes);
  }
  Bitmap& bitmap(BitmapKind kind) { return kind == BitmapKind::dirty ? dirty_ : degraded_; }
  // Makes the copy hold at least `words` words, reading the missing blocks from the LUN.
  // Called with the bitmap's mutex held.
  Result<void> load_words(BitmapKind kind, std::uint64_t words);
  Result<void> check_regions(std::uint64_t regions) const;

  std::shared_ptr<IscsiLun> lun_;
  Bitmap dirty_, degraded_;
  // Writes of one LUN block of a bitmap, one at a time (block number modulo the stripes).
  std::array<std::mutex, 64> block_locks_;
  std::mutex meta_mutex_;  // one save_meta at a time; guards the two below
  std::uint64_t sequence_ = 0;
  int newest_slot_ = -1;  // the slot that holds the newest meta, -1 before load_meta
  std::mutex sync_mutex_;
};

}  // namespace maya::replica
