// What the transport needs to know about a CDB on its own: the data direction of the common
// READ/WRITE opcodes and how many Data-Out bytes the CDB asks for (SPDTL), so the SCSI Command's
// R/W bits and Expected Data Transfer Length can be checked and residuals reported (RFC 7143
// §11.4.5). Opcodes not listed here are left to the SCSI layer.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace maya::iscsi {

enum class CdbDirection : std::uint8_t { kUnknown, kNone, kRead, kWrite };

struct CdbTransfer {
  CdbDirection direction = CdbDirection::kUnknown;
  std::optional<std::uint64_t> bytes;  // the CDB's transfer length in bytes, when known
};

CdbTransfer cdb_transfer(std::span<const std::uint8_t> cdb, std::uint32_t block_size);

// Rewrites the transfer length (in blocks) of a READ/WRITE CDB that cdb_transfer() knows.
void set_transfer_blocks(std::span<std::uint8_t> cdb, std::uint32_t blocks);

// The LUN number from the 8-byte LUN field (SAM peripheral or flat addressing).
std::uint64_t lun_number(std::uint64_t lun_field);

// Fixed-format sense data (SPC-4 §4.5.3).
std::vector<std::uint8_t> fixed_sense(std::uint8_t key, std::uint8_t asc, std::uint8_t ascq);

namespace sense {
inline constexpr std::uint8_t kIllegalRequest = 0x05;
inline constexpr std::uint8_t kAbortedCommand = 0x0b;
// iSCSI-specific ASC/ASCQ (RFC 7143 §11.4.7.2).
inline constexpr std::uint8_t kAscDataTransfer = 0x0c;
inline constexpr std::uint8_t kAscqIncorrectAmountOfData = 0x0d;
}  // namespace sense

}  // namespace maya::iscsi
