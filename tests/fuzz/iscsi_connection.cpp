// The connection engine fed raw bytes as the socket layer (lib/iscsi_target) feeds it: whatever
// arrived, in pieces, out() sent and cleared after each call, closed on an error or a logout.
// A real SCSI disk on a 1 MiB memory backend answers the commands.
// Input: [flags u8] then the bytes; flags bit 0 puts a successful login first, bits 1-3 pick
// the piece size the bytes arrive in.
#include <cstdlib>
#include <memory>
#include <vector>

#include "lib/common/log.h"
#include "lib/iscsi/connection.h"
#include "lib/scsi/scsi_disk.h"
#include "tests/fuzz/login_prefix.h"
#include "tests/support/memory_backend.h"

namespace {

constexpr const char* kIqn = "iqn.2026-11.io.maya:fuzz";

struct World {
  maya::block::MemoryBackend backend{{.size = 1 << 20}};
  std::unique_ptr<maya::scsi::ScsiDisk> disk =
      maya::scsi::make_disk(backend, {.serial = "FUZZ0001", .naa = 0x6001405000000001ull});
  maya::iscsi::SessionRegistry registry;
  maya::iscsi::TargetContext context;
  World() {
    context.login.target_name = kIqn;
    context.disk = disk.get();
    context.registry = &registry;
  }
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  maya::log::set_level(maya::log::Level::error);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  auto world = std::make_unique<World>();  // fresh per input, so a crash reproduces alone
  const std::uint8_t flags = data[0];
  std::vector<std::uint8_t> bytes;
  if ((flags & 1) != 0) bytes = maya::fuzz::login_prefix(kIqn);
  bytes.insert(bytes.end(), data + 1, data + size);
  static constexpr std::size_t kPieces[] = {1u << 20, 1, 7, 48, 64, 512, 4096, 65536};
  const std::size_t piece = kPieces[(flags >> 1) & 7];

  maya::iscsi::Connection connection(world->context, {{}, "127.0.0.1:3260,1", "127.0.0.1"});
  std::vector<std::uint8_t> buffer;  // what arrived and was not used yet
  std::size_t fed = 0;
  while (fed < bytes.size() || !buffer.empty()) {
    const std::size_t n = std::min(piece, bytes.size() - fed);
    buffer.insert(buffer.end(), bytes.begin() + fed, bytes.begin() + fed + n);
    fed += n;
    bool progress = true;
    while (progress && !buffer.empty()) {
      auto used = connection.receive(buffer);
      connection.out().clear();
      if (!used || connection.closing()) return 0;
      if (*used > buffer.size()) std::abort();
      buffer.erase(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*used));
      progress = *used > 0;
    }
    if (n == 0) break;  // everything fed; the rest is an incomplete PDU
  }
  (void)connection.on_idle();
  return 0;
}
