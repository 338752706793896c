// The iSCSI PDU codec on raw bytes: frame, parse (with each digest setting and a small and a
// large receive limit), then decode the BHS as every initiator PDU type.
#include <cstdlib>
#include <span>

#include "lib/iscsi/pdu.h"

namespace iscsi = maya::iscsi;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> bytes(data, size);
  for (int mode = 0; mode < 4; ++mode) {
    const iscsi::Digests digests{.header = (mode & 1) != 0, .data = (mode & 2) != 0};
    for (std::uint32_t limit : {8192u, iscsi::kMaxDataSegmentLength}) {
      auto frame = iscsi::parse_frame(bytes, digests, limit);
      if (!frame) continue;
      if (frame->total < iscsi::kBhsLength || frame->data_length > limit) std::abort();
      if (frame->total > bytes.size()) continue;  // the reader waits for more
      auto pdu = iscsi::parse_pdu(bytes.first(frame->total), *frame, digests);
      if (!pdu) continue;
      if (pdu->bhs.size() != iscsi::kBhsLength || pdu->data.size() != frame->data_length)
        std::abort();
      iscsi::Bhs bhs = pdu->bhs;
      (void)iscsi::opcode_of(bhs);
      (void)iscsi::opcode_is_known_initiator(bhs[0] & 0x3f);
      (void)iscsi::itt_of(bhs);
      (void)iscsi::decode_scsi_command(bhs);
      (void)iscsi::decode_data_out(bhs);
      (void)iscsi::decode_nop_out(bhs);
      (void)iscsi::decode_tmf(bhs);
      (void)iscsi::decode_login(bhs);
      (void)iscsi::decode_text(bhs);
      (void)iscsi::decode_logout(bhs);
      (void)iscsi::decode_snack(bhs);
    }
  }
  return 0;
}
