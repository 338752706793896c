#include "lib/iscsi/cdb_info.h"

#include "lib/common/endian.h"

namespace maya::iscsi {

CdbTransfer cdb_transfer(std::span<const std::uint8_t> cdb, std::uint32_t block_size) {
  CdbTransfer t;
  if (cdb.empty()) return t;
  const std::uint8_t* c = cdb.data();
  std::uint64_t blocks = 0;
  switch (c[0]) {
    case 0x08:  // READ(6)
    case 0x0a:  // WRITE(6)
      if (cdb.size() < 6) return t;
      blocks = c[4] == 0 ? 256 : c[4];
      t.direction = c[0] == 0x08 ? CdbDirection::kRead : CdbDirection::kWrite;
      break;
    case 0x28:  // READ(10)
    case 0x2a:  // WRITE(10)
    case 0x2e:  // WRITE AND VERIFY(10)
      if (cdb.size() < 10) return t;
      blocks = load_be16(c + 7);
      t.direction = c[0] == 0x28 ? CdbDirection::kRead : CdbDirection::kWrite;
      break;
    case 0xa8:  // READ(12)
    case 0xaa:  // WRITE(12)
    case 0xae:  // WRITE AND VERIFY(12)
      if (cdb.size() < 12) return t;
      blocks = load_be32(c + 6);
      t.direction = c[0] == 0xa8 ? CdbDirection::kRead : CdbDirection::kWrite;
      break;
    case 0x88:  // READ(16)
    case 0x8a:  // WRITE(16)
    case 0x8e:  // WRITE AND VERIFY(16)
      if (cdb.size() < 16) return t;
      blocks = load_be32(c + 10);
      t.direction = c[0] == 0x88 ? CdbDirection::kRead : CdbDirection::kWrite;
      break;
    case 0x00:  // TEST UNIT READY
      t.direction = CdbDirection::kNone;
      t.bytes = 0;
      return t;
    default:
      return t;
  }
  t.bytes = blocks * block_size;
  return t;
}

void set_transfer_blocks(std::span<std::uint8_t> cdb, std::uint32_t blocks) {
  if (cdb.empty()) return;
  std::uint8_t* c = cdb.data();
  switch (c[0]) {
    case 0x08:
    case 0x0a:
      if (cdb.size() >= 6) c[4] = static_cast<std::uint8_t>(blocks);
      break;
    case 0x28:
    case 0x2a:
    case 0x2e:
      if (cdb.size() >= 10) store_be16(c + 7, static_cast<std::uint16_t>(blocks));
      break;
    case 0xa8:
    case 0xaa:
    case 0xae:
      if (cdb.size() >= 12) store_be32(c + 6, blocks);
      break;
    case 0x88:
    case 0x8a:
    case 0x8e:
      if (cdb.size() >= 16) store_be32(c + 10, blocks);
      break;
    default:
      break;
  }
}

std::uint64_t lun_number(std::uint64_t lun_field) {
  const auto b0 = static_cast<std::uint8_t>(lun_field >> 56);
  const auto b1 = static_cast<std::uint8_t>(lun_field >> 48);
  const std::uint8_t method = b0 >> 6;
  if (method == 0 || method == 1) {
    // Peripheral (00b, bus 0) or flat (01b) addressing: 14 bits of LUN; a second level is
    // not ours, so report it as a distinct (unsupported) LUN.
    std::uint64_t n = (std::uint64_t{b0 & 0x3fu} << 8) | b1;
    if ((lun_field & 0x0000ffffffffffffull) != 0) n |= 0x10000;
    return n;
  }
  return lun_field;  // extended / logical unit addressing: never LUN 0
}

std::vector<std::uint8_t> fixed_sense(std::uint8_t key, std::uint8_t asc, std::uint8_t ascq) {
  std::vector<std::uint8_t> s(18, 0);
  s[0] = 0x70;
  s[2] = key & 0x0f;
  s[7] = 10;
  s[12] = asc;
  s[13] = ascq;
  return s;
}

}  // namespace maya::iscsi
