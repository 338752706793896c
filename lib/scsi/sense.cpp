#include "lib/scsi/sense.h"

#include "lib/common/endian.h"

namespace maya::scsi {

std::vector<std::uint8_t> encode_fixed_sense(const Sense& sense) {
  std::vector<std::uint8_t> out(kFixedSenseLength, 0);
  out[0] = 0x70;  // current error, fixed format
  out[2] = sense.key & 0x0f;
  if (sense.information && *sense.information <= 0xffffffffull) {
    out[0] |= 0x80;  // VALID
    store_be32(&out[3], static_cast<std::uint32_t>(*sense.information));
  }
  out[7] = static_cast<std::uint8_t>(kFixedSenseLength - 8);  // additional sense length
  out[12] = sense.asc.code;
  out[13] = sense.asc.qualifier;
  if (sense.field) {
    out[15] = 0x80;                                                                   // SKSV
    if (sense.field_in_cdb) out[15] |= 0x40;                                          // C/D
    if (sense.bit) out[15] |= static_cast<std::uint8_t>(0x08 | (*sense.bit & 0x07));  // BPV
    store_be16(&out[16], *sense.field);
  }
  return out;
}

TaskResult check_condition(const Sense& sense) {
  TaskResult r;
  r.status = status::kCheckCondition;
  r.sense = encode_fixed_sense(sense);
  return r;
}

TaskResult check_condition(std::uint8_t key, Asc code) {
  return check_condition(Sense{.key = key, .asc = code});
}

TaskResult invalid_field_in_cdb(std::uint16_t byte, std::optional<std::uint8_t> bit) {
  return check_condition(Sense{.key = sense_key::kIllegalRequest,
                               .asc = asc::kInvalidFieldInCdb,
                               .field = byte,
                               .field_in_cdb = true,
                               .bit = bit});
}

TaskResult invalid_field_in_parameter_list(std::uint16_t byte, std::optional<std::uint8_t> bit) {
  return check_condition(Sense{.key = sense_key::kIllegalRequest,
                               .asc = asc::kInvalidFieldInParameterList,
                               .field = byte,
                               .field_in_cdb = false,
                               .bit = bit});
}

TaskResult invalid_opcode() {
  return check_condition(sense_key::kIllegalRequest, asc::kInvalidCommandOperationCode);
}

TaskResult lba_out_of_range() {
  return check_condition(sense_key::kIllegalRequest, asc::kLbaOutOfRange);
}

TaskResult parameter_list_length_error() {
  return check_condition(sense_key::kIllegalRequest, asc::kParameterListLengthError);
}

TaskResult reservation_conflict() {
  TaskResult r;
  r.status = status::kReservationConflict;
  return r;
}

Sense sense_for_error(const Error& cause, IoKind failed) {
  if (out_of_space(cause))
    return Sense{.key = sense_key::kDataProtect, .asc = asc::kSpaceAllocationFailedWriteProtect};
  return Sense{.key = sense_key::kMediumError,
               .asc = failed == IoKind::kRead ? asc::kUnrecoveredReadError : asc::kWriteError};
}

TaskResult io_error(const Error& cause, IoKind failed) {
  return check_condition(sense_for_error(cause, failed));
}

TaskResult good() {
  return TaskResult{};
}

}  // namespace maya::scsi
