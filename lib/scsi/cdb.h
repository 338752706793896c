// CDB field readers: the LBA / transfer length / flag layouts of the READ, WRITE, VERIFY and
// WRITE AND VERIFY families (6, 10, 12 and 16-byte forms), the CDB length of each opcode group,
// and where each field sits (for the sense-key specific field pointer).
#pragma once

#include <cstdint>
#include <span>

#include "lib/common/endian.h"

namespace maya::scsi {

// CDB length implied by the opcode's group code (SPC-4 4.2.5.1); 0 for variable/reserved.
constexpr std::uint8_t cdb_length_for(std::uint8_t opcode) {
  switch (opcode >> 5) {
    case 0:
      return 6;
    case 1:
    case 2:
      return 10;
    case 4:
      return 16;
    case 5:
      return 12;
    default:
      return 0;
  }
}

// The service action field (byte 1, bits 4..0) of opcodes that have one.
constexpr std::uint8_t service_action_of(std::span<const std::uint8_t> cdb) {
  return cdb.size() > 1 ? static_cast<std::uint8_t>(cdb[1] & 0x1f) : 0;
}

// A decoded block-addressed command (READ/WRITE/VERIFY/WRITE AND VERIFY/…).
struct BlockCdb {
  std::uint64_t lba = 0;
  std::uint32_t blocks = 0;
  std::uint8_t protect = 0;  // RDPROTECT / WRPROTECT / VRPROTECT (byte 1, bits 7..5)
  bool dpo = false;
  bool fua = false;
  std::uint8_t bytchk = 0;     // VERIFY / WRITE AND VERIFY (byte 1, bits 2..1)
  std::uint8_t lba_field = 0;  // byte offsets, for field pointers in sense data
  std::uint8_t length_field = 0;
};

// Decodes the 6/10/12/16-byte forms by length; the caller checked cdb.size().
inline BlockCdb decode_block_cdb(std::span<const std::uint8_t> cdb) {
  BlockCdb c;
  const std::uint8_t* p = cdb.data();
  switch (cdb_length_for(p[0])) {
    case 6:
      c.lba = ((std::uint32_t{p[1]} & 0x1f) << 16) | load_be16(p + 2);
      c.blocks = p[4] == 0 ? 256 : p[4];  // SBC-3: READ(6)/WRITE(6) length 0 means 256
      c.lba_field = 1;
      c.length_field = 4;
      return c;
    case 10:
      c.lba = load_be32(p + 2);
      c.blocks = load_be16(p + 7);
      c.lba_field = 2;
      c.length_field = 7;
      break;
    case 12:
      c.lba = load_be32(p + 2);
      c.blocks = load_be32(p + 6);
      c.lba_field = 2;
      c.length_field = 6;
      break;
    default:
      c.lba = load_be64(p + 2);
      c.blocks = load_be32(p + 10);
      c.lba_field = 2;
      c.length_field = 10;
      break;
  }
  c.protect = static_cast<std::uint8_t>(p[1] >> 5);
  c.dpo = (p[1] & 0x10) != 0;
  c.fua = (p[1] & 0x08) != 0;
  c.bytchk = static_cast<std::uint8_t>((p[1] >> 1) & 0x03);
  return c;
}

}  // namespace maya::scsi
