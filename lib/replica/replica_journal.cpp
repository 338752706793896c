#include "lib/replica/replica_journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "lib/common/files.h"
#include "lib/common/json_number.h"

namespace maya::replica {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::unexpected<Error> fail_errno(const std::string& what) {
  const int err = errno;
  return fail(what + ": " + std::strerror(err), errno_code(err));
}

Result<Fd> open_bitmap(const fs::path& file) {
  Fd fd(::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (fd.get() < 0) return fail_errno("cannot open " + file.string());
  return fd;
}

}  // namespace

Result<std::unique_ptr<FileJournal>> FileJournal::open(const fs::path& dir) {
  MAYA_TRY(dirty, open_bitmap(dir / "dirty.bitmap"));
  MAYA_TRY(degraded, open_bitmap(dir / "degraded.bitmap"));
  return std::unique_ptr<FileJournal>(
      new FileJournal(dir, std::move(*dirty), std::move(*degraded)));
}

Result<ReplicaMeta> FileJournal::load_meta() {
  const fs::path file = dir_ / "replica.json";
  std::error_code ec;
  if (!fs::exists(file, ec)) return ReplicaMeta{};
  MAYA_TRY(text, read_file(file));
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail(file.string() + " is damaged");
  try {
    ReplicaMeta m;
    m.id = j.at("id").get<std::string>();
    m.size_bytes = json_unsigned<std::uint64_t>(j.at("size_bytes"));
    m.generation = json_unsigned<std::uint64_t>(j.at("generation"));
    m.revision = json_unsigned(j, "revision", std::uint64_t{0});
    m.clean = j.value("clean", false);
    m.members = j.value("members", std::vector<std::string>{});
    m.degraded_since = json_unsigned(j, "degraded_since", std::uint64_t{0});
    return m;
  } catch (const json::exception& e) {
    return fail(file.string() + " is damaged: " + e.what());
  }
}

Result<void> FileJournal::save_meta(const ReplicaMeta& m) {
  json j = {{"id", m.id},
            {"size_bytes", m.size_bytes},
            {"generation", m.generation},
            {"revision", m.revision},
            {"clean", m.clean},
            {"members", m.members},
            {"degraded_since", m.degraded_since}};
  return write_file_atomic(dir_ / "replica.json", j.dump(2) + "\n", 0600);
}

Result<RegionBitmap> FileJournal::load_bitmap(BitmapKind kind, std::uint64_t regions) {
  std::vector<std::uint8_t> bytes((regions + 63) / 64 * 8);
  ssize_t n = ::pread(fd(kind), bytes.data(), bytes.size(), 0);
  if (n < 0) return fail_errno("cannot read a bitmap in " + dir_.string());
  bytes.resize(static_cast<std::size_t>(n));
  return RegionBitmap::from_bytes(regions, bytes);
}

Result<void> FileJournal::save_word(BitmapKind kind, std::uint64_t index, std::uint64_t word) {
  std::uint8_t bytes[8];
  for (int b = 0; b < 8; ++b) bytes[b] = static_cast<std::uint8_t>(word >> (8 * b));
  if (::pwrite(fd(kind), bytes, 8, static_cast<off_t>(index * 8)) != 8)
    return fail_errno("cannot write a bitmap in " + dir_.string());
  return {};
}

Result<void> FileJournal::save_bitmap(BitmapKind kind, const RegionBitmap& bitmap) {
  auto bytes = bitmap.to_bytes();
  if (::pwrite(fd(kind), bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size()) ||
      ::ftruncate(fd(kind), static_cast<off_t>(bytes.size())) != 0)
    return fail_errno("cannot write a bitmap in " + dir_.string());
  return {};
}

Result<void> FileJournal::sync() {
  if (::fdatasync(dirty_.get()) != 0 || ::fdatasync(degraded_.get()) != 0)
    return fail_errno("cannot sync the bitmaps in " + dir_.string());
  return {};
}

Result<void> MemoryJournal::check() const {
  if (failing_) return fail("journal failure injected for a test");
  return {};
}

Result<ReplicaMeta> MemoryJournal::load_meta() {
  std::lock_guard lock(mutex_);
  MAYA_TRY(ok, check());
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
  MAYA_TRY(ok, check());
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
  MAYA_TRY(ok, check());
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
  MAYA_TRY(ok, check());
  if (full_) return fail("cannot write a bitmap: no space (injected)", errno_code(ENOSPC));
  words_[{static_cast<int>(kind), index}] = word;
  return {};
}

Result<void> MemoryJournal::save_bitmap(BitmapKind kind, const RegionBitmap& bitmap) {
  std::lock_guard lock(mutex_);
  MAYA_TRY(ok, check());
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
