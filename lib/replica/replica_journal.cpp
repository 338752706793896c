#include "lib/replica/replica_journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "lib/common/errno_text.h"
#include "lib/common/files.h"
#include "lib/common/json_file.h"
#include "lib/common/json_number.h"

namespace maya::replica {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

Result<Fd> open_bitmap(const fs::path& file) {
  Fd fd(::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (fd.get() < 0) return fail_errno("cannot open " + file.string());
  return fd;
}

}  // namespace

json meta_json(const ReplicaMeta& m) {
  return {{"id", m.id},
          {"size_bytes", m.size_bytes},
          {"generation", m.generation},
          {"revision", m.revision},
          {"clean", m.clean},
          {"members", m.members},
          {"degraded_since", m.degraded_since}};
}

ReplicaMeta meta_from_json(const json& j) {
  ReplicaMeta m;
  m.id = j.at("id").get<std::string>();
  m.size_bytes = json_unsigned<std::uint64_t>(j.at("size_bytes"));
  m.generation = json_unsigned<std::uint64_t>(j.at("generation"));
  m.revision = json_unsigned(j, "revision", std::uint64_t{0});
  m.clean = j.value("clean", false);
  m.members = j.value("members", std::vector<std::string>{});
  m.degraded_since = json_unsigned(j, "degraded_since", std::uint64_t{0});
  return m;
}

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
  return load_json_file({.path = file, .not_an_object = "is damaged"},
                        [](const json& j) -> Result<ReplicaMeta> { return meta_from_json(j); });
}

Result<void> FileJournal::save_meta(const ReplicaMeta& m) {
  return write_file_atomic(dir_ / "replica.json", meta_json(m).dump(2) + "\n", 0600);
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
  unsynced(kind) = true;
  return {};
}

Result<void> FileJournal::save_bitmap(BitmapKind kind, const RegionBitmap& bitmap) {
  auto bytes = bitmap.to_bytes();
  if (::pwrite(fd(kind), bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size()) ||
      ::ftruncate(fd(kind), static_cast<off_t>(bytes.size())) != 0)
    return fail_errno("cannot write a bitmap in " + dir_.string());
  unsynced(kind) = true;
  return {};
}

Result<void> FileJournal::sync() {
  // A write after the exchange sets the flag again, for the next sync; a failed sync too.
  std::lock_guard one_at_a_time(sync_mutex_);
  for (BitmapKind kind : {BitmapKind::dirty, BitmapKind::degraded}) {
    if (!unsynced(kind).exchange(false)) continue;
    if (::fdatasync(fd(kind)) != 0) {
      unsynced(kind) = true;
      return fail_errno("cannot sync the bitmaps in " + dir_.string());
    }
  }
  return {};
}

}  // namespace maya::replica
