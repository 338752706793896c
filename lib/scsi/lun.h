// LUN addressing (SAM-5 4.7): the LUN number of the 8-byte LUN field a transport carries. maya
// serves one logical unit, LUN 0; the disk answers any other number (scsi_disk.h).
#pragma once

#include <cstdint>

namespace maya::scsi {

// Peripheral (00b, bus 0) and flat (01b) addressing give 14 bits of LUN; a second level is not
// ours, so it makes a distinct (unsupported) number. Extended and logical unit addressing keep
// the whole field, which is never 0.
constexpr std::uint64_t lun_number(std::uint64_t lun_field) {
  const auto b0 = static_cast<std::uint8_t>(lun_field >> 56);
  const auto b1 = static_cast<std::uint8_t>(lun_field >> 48);
  const std::uint8_t method = b0 >> 6;
  if (method != 0 && method != 1) return lun_field;
  std::uint64_t n = (std::uint64_t{b0 & 0x3fu} << 8) | b1;
  if ((lun_field & 0x0000ffffffffffffull) != 0) n |= 0x10000;
  return n;
}

}  // namespace maya::scsi
