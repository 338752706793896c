// The jiva volume's JSON files as they are read at start: jiva.json (the manifest) and
// chap.json. A damaged file is an error naming it, never a crash.
// Input: [which u8: bit 0 = chap.json] then the file's contents.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "lib/jiva/manifest.h"
#include "tests/fuzz/scratch_dir.h"

namespace fs = std::filesystem;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const fs::path dir = maya::fuzz::scratch_dir("jiva");
  const bool chap = (data[0] & 1) != 0;
  const fs::path file = chap ? maya::jiva::chap_file(dir) : maya::jiva::manifest_file(dir);
  std::ofstream(file, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data + 1), static_cast<std::streamsize>(size - 1));
  if (chap) {
    auto secret = maya::jiva::read_chap(dir);
    if (!secret && secret.error().message.empty()) std::abort();
  } else if (auto manifest = maya::jiva::read_manifest(dir)) {
    if (manifest->replicas.empty()) std::abort();  // a manifest lists at least one replica
    for (const auto& replica : manifest->replicas) (void)maya::jiva::replica_dir(replica);
  }
  return 0;
}
