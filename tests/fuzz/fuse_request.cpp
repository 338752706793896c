// FUSE request decoding: what a read of /dev/fuse gives, answered as a served connection does
// (replies go to /dev/null) on a 1 MiB memory backend. The kernel is trusted, but a resumed
// connection replays requests the dead process had half read, and a bug here takes the volume
// down, so every request shape must be safe.
// Input: records of [length u16][request bytes, starting with struct fuse_in_header].
#include <fcntl.h>

#include <cstdlib>
#include <vector>

#include "lib/jiva/fuse_frontend.h"
#include "tests/fuzz/reader.h"
#include "tests/support/memory_backend.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (devnull < 0) std::abort();
  maya::block::MemoryBackend backend({.size = 1 << 20});
  maya::fuzz::Reader in(data, size);
  for (int i = 0; i < 16 && !in.empty(); ++i) {
    auto bytes = in.bytes(in.u16());
    std::vector<std::uint8_t> request(bytes.begin(), bytes.end());  // aligned, as read() gives
    if (!maya::jiva::FuseFrontend::answer(devnull, request, backend)) break;
  }
  return 0;
}
