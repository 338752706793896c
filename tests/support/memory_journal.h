// A replica's journal in memory, for tests: it can be told to fail, to run out of space, or to
// call a hook before a save (races).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <utility>

#include "lib/replica/replica_journal.h"

namespace maya::replica {

class MemoryJournal final : public ReplicaJournal {
 public:
  Result<ReplicaMeta> load_meta() override;
  Result<void> save_meta(const ReplicaMeta& meta) override;
  Result<RegionBitmap> load_bitmap(BitmapKind kind, std::uint64_t regions) override;
  Result<void> save_word(BitmapKind kind, std::uint64_t index, std::uint64_t word) override;
  Result<void> save_bitmap(BitmapKind kind, const RegionBitmap& bitmap) override;
  Result<void> sync() override;

  void set_failing(bool failing);  // every call fails while set
  // Saves (meta, bitmap words, sync) fail with ENOSPC while set; loads still work.
  void set_out_of_space(bool full);
  // save_meta alone fails with ENOSPC while set (a new replica.json needs room; the bitmaps
  // are rewritten in place).
  void set_meta_out_of_space(bool full);
  // save_meta stores the metadata and then fails with ENOSPC while set (write_file_atomic whose
  // rename landed but whose directory fsync ran out of space).
  void set_saved_but_out_of_space(bool on);
  // Called at the start of every save_meta, outside the journal's lock (tests of races).
  void set_save_meta_hook(std::function<void()> hook);
  // Called at the start of every save_word, outside the journal's lock (tests of races).
  void set_save_word_hook(std::function<void()> hook);
  ReplicaMeta meta() const;
  std::uint64_t word(BitmapKind kind, std::uint64_t index) const;

 private:
  Result<void> check() const;
  mutable std::mutex mutex_;
  bool failing_ = false;
  bool full_ = false;
  bool meta_full_ = false;
  bool saved_but_full_ = false;
  std::function<void()> save_meta_hook_, save_word_hook_;
  ReplicaMeta meta_;
  std::map<std::pair<int, std::uint64_t>, std::uint64_t> words_;
};

}  // namespace maya::replica
