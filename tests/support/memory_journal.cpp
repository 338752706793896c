#include "tests/support/memory_journal.h"

#include <cerrno>

namespace maya::replica {

Result<void> MemoryJournal::check() const {
  if (failing_) return fail("journal failure injected for a test");
  return {};
}

Result<ReplicaMeta> MemoryJournal::load_meta() {
  std::lock_guard lock(mutex_);
  MAYA_TRY_VOID(check());
  return meta_;
}

Result<void> MemoryJournal::save_meta(const ReplicaMeta& meta) {
  std::function<void()> hook;
  {
    std::lock_guard lock(mutex_);
    hook = save_meta_hook_;
  }
  if (hook) hook();
  std::lock_guard lock(mutex_);
  MAYA_TRY_VOID(check());
  if (full_ || meta_full_)
    return fail("cannot write replica.json: no space (injected)", errno_code(ENOSPC));
  meta_ = meta;
  if (saved_but_full_)
    return fail("cannot sync the directory of replica.json: no space (injected)",
                errno_code(ENOSPC));
  return {};
}

void MemoryJournal::set_meta_out_of_space(bool full) {
  std::lock_guard lock(mutex_);
  meta_full_ = full;
}

void MemoryJournal::set_saved_but_out_of_space(bool on) {
  std::lock_guard lock(mutex_);
  saved_but_full_ = on;
}

void MemoryJournal::set_save_word_hook(std::function<void()> hook) {
  std::lock_guard lock(mutex_);
  save_word_hook_ = std::move(hook);
}

void MemoryJournal::set_save_meta_hook(std::function<void()> hook) {
  std::lock_guard lock(mutex_);
  save_meta_hook_ = std::move(hook);
}

Result<RegionBitmap> MemoryJournal::load_bitmap(BitmapKind kind, std::uint64_t regions) {
  std::lock_guard lock(mutex_);
  MAYA_TRY_VOID(check());
  std::vector<std::uint8_t> bytes((regions + 63) / 64 * 8);
  for (const auto& [key, w] : words_) {
    if (key.first != static_cast<int>(kind) || key.second * 8 + 8 > bytes.size()) continue;
    for (int b = 0; b < 8; ++b) bytes[key.second * 8 + b] = static_cast<std::uint8_t>(w >> (8 * b));
  }
  return RegionBitmap::from_bytes(regions, bytes);
}

Result<void> MemoryJournal::save_word(BitmapKind kind, std::uint64_t index, std::uint64_t word) {
  std::function<void()> hook;
  {
    std::lock_guard lock(mutex_);
    hook = save_word_hook_;
  }
  if (hook) hook();
  std::lock_guard lock(mutex_);
  MAYA_TRY_VOID(check());
  if (full_) return fail("cannot write a bitmap: no space (injected)", errno_code(ENOSPC));
  words_[{static_cast<int>(kind), index}] = word;
  return {};
}

Result<void> MemoryJournal::save_bitmap(BitmapKind kind, const RegionBitmap& bitmap) {
  std::lock_guard lock(mutex_);
  MAYA_TRY_VOID(check());
  for (std::size_t i = 0; i < bitmap.words(); ++i)
    words_[{static_cast<int>(kind), i}] = bitmap.word(i);
  return {};
}

Result<void> MemoryJournal::sync() {
  std::lock_guard lock(mutex_);
  return check();
}

void MemoryJournal::set_out_of_space(bool full) {
  std::lock_guard lock(mutex_);
  full_ = full;
}

void MemoryJournal::set_failing(bool failing) {
  std::lock_guard lock(mutex_);
  failing_ = failing;
}

ReplicaMeta MemoryJournal::meta() const {
  std::lock_guard lock(mutex_);
  return meta_;
}

std::uint64_t MemoryJournal::word(BitmapKind kind, std::uint64_t index) const {
  std::lock_guard lock(mutex_);
  auto it = words_.find({static_cast<int>(kind), index});
  return it == words_.end() ? 0 : it->second;
}

}  // namespace maya::replica
