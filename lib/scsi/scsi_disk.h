// ScsiDisk: an SBC-3/SPC-4 direct-access device on a BlockBackend. The transport (lib/iscsi)
// hands it one command at a time with all of its Data-Out already collected, and sends back
// status, sense and Data-In. Safe for concurrent execute() calls from several connections.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "lib/block/backend.h"

namespace maya::scsi {

namespace status {
inline constexpr std::uint8_t kGood = 0x00;
inline constexpr std::uint8_t kCheckCondition = 0x02;
inline constexpr std::uint8_t kConditionMet = 0x04;
inline constexpr std::uint8_t kBusy = 0x08;
inline constexpr std::uint8_t kReservationConflict = 0x18;
inline constexpr std::uint8_t kTaskSetFull = 0x28;
}  // namespace status

// Who sends a command: the I_T nexus that reservations and unit attentions are kept for.
struct Nexus {
  std::string initiator_port;  // "iqn.…,i,0x<ISID>" (SPC-4 TransportID of iSCSI)
  std::string target_port;     // "iqn.…,t,0x<TPGT>"
  std::uint16_t relative_target_port = 1;
};

// Data-Out that does not match the CDB (iSCSI EDTL != SCSI transfer length) is the disk's call:
// extra bytes are ignored; WRITE and WRITE AND VERIFY write the bytes that did arrive (FCP-4),
// other commands answer ILLEGAL REQUEST (INVALID FIELD IN CDB or IN COMMAND INFORMATION UNIT).
// So the transport passes whatever Data-Out it received rather than failing the command.
struct Task {
  std::span<const std::uint8_t> cdb;
  std::uint64_t lun = 0;                      // the LUN number (0 for maya's single LUN)
  std::span<const std::uint8_t> data_out;     // every byte of Data-Out the initiator sent
  std::uint32_t expected_data_in = 0;         // allocation the initiator gave for Data-In
  const Nexus* nexus = nullptr;
  // Optional: a spent Data-In vector (any size and contents) that READ may move into its
  // result and overwrite, sparing an allocation, and the zero-fill up to its current size.
  std::vector<std::uint8_t>* spare_data_in = nullptr;
};

// data_in never exceeds the CDB's ALLOCATION LENGTH (the disk trims it), so an overflow the
// transport reports comes from READ-type commands whose transfer length exceeds the EDTL.
struct TaskResult {
  std::uint8_t status = status::kGood;
  std::vector<std::uint8_t> data_in;  // may be longer than expected_data_in: the transport
                                      // truncates and reports the overflow as a residual
  std::vector<std::uint8_t> sense;    // fixed-format sense data when status is CHECK CONDITION
};

// What the disk says about itself in INQUIRY and the VPD pages.
struct Identity {
  std::string vendor = "MAYA";         // 8 characters at most
  std::string product = "VOLUME";      // 16 at most
  std::string revision = "0001";       // 4 at most
  std::string serial;                  // unit serial number (VPD 80h)
  std::uint64_t naa = 0;               // NAA identifier (VPD 83h), unique per volume
};

class ScsiDisk {
 public:
  virtual ~ScsiDisk() = default;

  virtual TaskResult execute(const Task& task) = 0;
  // A new I_T nexus logged in, or an existing one went away (session end): SPC-2 RESERVE is
  // released on nexus loss; persistent reservations stay.
  virtual void nexus_added(const Nexus& nexus) = 0;
  virtual void nexus_removed(const Nexus& nexus) = 0;
  // LOGICAL UNIT RESET / TARGET WARM/COLD RESET from task management: releases SPC-2
  // reservations and queues the unit attention 29h/xx for every nexus.
  virtual void reset(bool target_reset) = 0;
};

std::unique_ptr<ScsiDisk> make_disk(block::BlockBackend& backend, Identity identity);

}  // namespace maya::scsi
