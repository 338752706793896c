// Sense data: the sense keys and additional sense codes maya's disk reports, and a builder for
// fixed-format sense (SPC-4 4.5.3) with the INFORMATION field and the sense-key specific field
// pointer. Every CHECK CONDITION the disk returns is made here.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "lib/common/result.h"
#include "lib/scsi/scsi_disk.h"

namespace maya::scsi {

namespace sense_key {
inline constexpr std::uint8_t kNoSense = 0x0;
inline constexpr std::uint8_t kNotReady = 0x2;
inline constexpr std::uint8_t kMediumError = 0x3;
inline constexpr std::uint8_t kHardwareError = 0x4;
inline constexpr std::uint8_t kIllegalRequest = 0x5;
inline constexpr std::uint8_t kUnitAttention = 0x6;
inline constexpr std::uint8_t kDataProtect = 0x7;
inline constexpr std::uint8_t kAbortedCommand = 0xb;
inline constexpr std::uint8_t kMiscompare = 0xe;
}  // namespace sense_key

// ADDITIONAL SENSE CODE and QUALIFIER.
struct Asc {
  std::uint8_t code = 0;
  std::uint8_t qualifier = 0;
  friend constexpr bool operator==(Asc, Asc) = default;
};

namespace asc {
inline constexpr Asc kNoAdditionalSense{0x00, 0x00};
inline constexpr Asc kWriteError{0x0c, 0x00};
// iSCSI's own (RFC 7143 11.4.7.2): Data-Out with a wrong offset, length, DataSN or TTT.
inline constexpr Asc kIncorrectAmountOfData{0x0c, 0x0d};
inline constexpr Asc kInvalidFieldInCommandIu{0x0e, 0x03};
inline constexpr Asc kUnrecoveredReadError{0x11, 0x00};
inline constexpr Asc kParameterListLengthError{0x1a, 0x00};
inline constexpr Asc kMiscompareDuringVerify{0x1d, 0x00};
inline constexpr Asc kInvalidCommandOperationCode{0x20, 0x00};
inline constexpr Asc kLbaOutOfRange{0x21, 0x00};
inline constexpr Asc kInvalidFieldInCdb{0x24, 0x00};
inline constexpr Asc kLogicalUnitNotSupported{0x25, 0x00};
inline constexpr Asc kInvalidFieldInParameterList{0x26, 0x00};
inline constexpr Asc kSpaceAllocationFailedWriteProtect{0x27, 0x07};
inline constexpr Asc kInvalidReleaseOfPersistentReservation{0x26, 0x04};
inline constexpr Asc kPowerOnResetOccurred{0x29, 0x00};
inline constexpr Asc kBusDeviceResetOccurred{0x29, 0x03};
inline constexpr Asc kModeParametersChanged{0x2a, 0x01};
inline constexpr Asc kReservationsPreempted{0x2a, 0x03};
inline constexpr Asc kReservationsReleased{0x2a, 0x04};
inline constexpr Asc kRegistrationsPreempted{0x2a, 0x05};
inline constexpr Asc kCapacityDataChanged{0x2a, 0x09};
inline constexpr Asc kThinProvisioningSoftThresholdReached{0x38, 0x07};
inline constexpr Asc kSavingParametersNotSupported{0x39, 0x00};
inline constexpr Asc kInternalTargetFailure{0x44, 0x00};
}  // namespace asc

struct Sense {
  std::uint8_t key = sense_key::kNoSense;
  Asc asc;
  // INFORMATION field (VALID bit set); only values that fit in 32 bits are reported.
  std::optional<std::uint64_t> information;
  // Sense-key specific field pointer: the byte (and optionally bit) of the CDB or of the
  // parameter list that is in error.
  std::optional<std::uint16_t> field;
  bool field_in_cdb = true;
  std::optional<std::uint8_t> bit;
};

inline constexpr std::size_t kFixedSenseLength = 18;

std::vector<std::uint8_t> encode_fixed_sense(const Sense& sense);

// Status CHECK CONDITION with `sense` attached.
TaskResult check_condition(const Sense& sense);
TaskResult check_condition(std::uint8_t key, Asc code);
TaskResult invalid_field_in_cdb(std::uint16_t byte, std::optional<std::uint8_t> bit = {});
TaskResult invalid_field_in_parameter_list(std::uint16_t byte,
                                           std::optional<std::uint8_t> bit = {});
TaskResult invalid_opcode();
TaskResult lba_out_of_range();
TaskResult parameter_list_length_error();
TaskResult reservation_conflict();
// What a backend call that failed was doing.
enum class IoKind : std::uint8_t { kRead, kWrite };

// The one place a backend error becomes sense data, decided by its cause (Error::code): out of
// space (ENOSPC, EDQUOT) is DATA PROTECT, SPACE ALLOCATION FAILED WRITE PROTECT (SBC-4 thin
// provisioning: the initiator may retry once space is freed); anything else is MEDIUM ERROR,
// UNRECOVERED READ ERROR for a read or WRITE ERROR for a write (a flush or a discard included).
Sense sense_for_error(const Error& cause, IoKind failed);
// CHECK CONDITION with that sense: what every handler answers when the backend fails.
TaskResult io_error(const Error& cause, IoKind failed);
TaskResult good();

}  // namespace maya::scsi
