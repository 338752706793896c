// SCSI CDB execution on a memory disk: a sequence of commands from two I_T nexuses (so
// reservations and unit attentions interact), each with a fuzzed CDB and Data-Out buffer, plus
// the occasional reset or nexus loss, on an 8 MiB thin disk (or a thick one, flags bit 0).
// Input: [flags u8] then records of [nexus/action u8][CDB length u8][CDB][data length u16][data].
// Action bits: 0 the nexus, 2 LUN 1, 3 an expected transfer (bits 1 and 4 its direction), 7..5
// a reset (6) or nexus loss (7) instead of a command.
#include <cstdlib>
#include <memory>

#include "lib/scsi/scsi_disk.h"
#include "tests/fuzz/reader.h"
#include "tests/support/memory_backend.h"

namespace scsi = maya::scsi;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  maya::fuzz::Reader in(data, size);
  const std::uint8_t flags = in.u8();
  maya::block::MemoryBackend backend(
      {.size = 8u << 20, .block_size = (flags & 2) != 0 ? 4096u : 512u, .thin = (flags & 1) == 0});
  auto disk = scsi::make_disk(backend, {.serial = "FUZZ0001", .naa = 0x6001405000000001ull});
  const scsi::Nexus nexuses[2] = {
      {"iqn.2026-01.test:a,i,0x23d000000001", "iqn.2026-11.io.maya:fuzz,t,0x0001", 1},
      {"iqn.2026-01.test:b,i,0x23d000000002", "iqn.2026-11.io.maya:fuzz,t,0x0001", 1}};
  disk->nexus_added(nexuses[0]);
  disk->nexus_added(nexuses[1]);

  for (int i = 0; i < 16 && !in.empty(); ++i) {
    const std::uint8_t action = in.u8();
    auto cdb = in.bytes(in.u8() % 33);
    auto data_out = in.bytes(in.u16());
    const scsi::Nexus& nexus = nexuses[action & 1];
    switch (action >> 5) {
      case 6:
        disk->reset((action & 2) != 0);
        continue;
      case 7:
        disk->nexus_removed(nexus);
        disk->nexus_added(nexus);
        continue;
      default:
        break;
    }
    if (cdb.empty()) continue;
    scsi::Task task;
    task.cdb = cdb;
    task.data_out = data_out;
    task.lun = (action & 4) != 0 ? 1 : 0;
    task.nexus = &nexus;
    if ((action & 8) != 0) {
      // As a transport gives it: the direction from bits 1 and 4, the EDTL the Data-Out's
      // length (512 without Data-Out).
      task.expected = scsi::ExpectedTransfer{
          .direction = static_cast<scsi::Direction>(((action >> 1) & 1) | ((action >> 3) & 2)),
          .length = data_out.empty() ? 512u : static_cast<std::uint32_t>(data_out.size())};
    }
    scsi::TaskResult result = disk->execute(task);
    if (result.status == scsi::status::kCheckCondition && result.sense.size() < 8) std::abort();
    if (task.expected &&
        result.data_in.size() > (task.expected->reads() ? task.expected->length : 0))
      std::abort();  // Data-In never goes beyond the EDTL
  }
  disk->nexus_removed(nexuses[0]);
  disk->nexus_removed(nexuses[1]);
  return 0;
}
