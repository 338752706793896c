// A replica's journal as the replicator opens it: replica.json and the dirty/degraded bitmaps,
// any contents, any region count. A damaged journal is an error, never a crash.
// Input: [regions u16][json length u16][replica.json][dirty.bitmap contents].
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "lib/replica/replica_journal.h"
#include "tests/fuzz/reader.h"
#include "tests/fuzz/scratch_dir.h"

namespace fs = std::filesystem;

namespace {

void put(const fs::path& file, std::span<const std::uint8_t> bytes) {
  std::ofstream(file, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const fs::path dir = maya::fuzz::scratch_dir("journal");
  maya::fuzz::Reader in(data, size);
  const std::uint64_t regions = in.u16();
  put(dir / "replica.json", in.bytes(in.u16()));
  put(dir / "dirty.bitmap", in.bytes(size));
  put(dir / "degraded.bitmap", {});
  auto journal = maya::replica::FileJournal::open(dir);
  if (!journal) std::abort();  // the directory is there
  (void)(*journal)->load_meta();
  auto dirty = (*journal)->load_bitmap(maya::replica::BitmapKind::dirty, regions);
  if (dirty && (dirty->regions() != regions || dirty->count() > regions)) std::abort();
  (void)(*journal)->load_bitmap(maya::replica::BitmapKind::degraded, regions);
  return 0;
}
