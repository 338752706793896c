// ScsiDisk: an SBC-3/SPC-4 direct-access device on a BlockBackend. The transport (lib/iscsi)
// hands it one command at a time with all of its Data-Out already collected and the transfer it
// expects, and sends back status, sense, Data-In and the residual. Safe for concurrent execute()
// calls from several connections.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "lib/block/backend.h"
#include "lib/common/result.h"

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

// The data direction a transport's command header announces (iSCSI: the R and W bits).
enum class Direction : std::uint8_t { kNone, kRead, kWrite, kBidirectional };

// What the transport expects a command to move: its direction and the Expected Data Transfer
// Length (iSCSI EDTL), the counterpart of SPDK's scsi_task dxfer_dir and length.
struct ExpectedTransfer {
  Direction direction = Direction::kNone;
  std::uint32_t length = 0;  // bytes

  bool reads() const {
    return direction == Direction::kRead || direction == Direction::kBidirectional;
  }
  bool writes() const {
    return direction == Direction::kWrite || direction == Direction::kBidirectional;
  }
};

// With an expected transfer, the disk decides what a mismatch between it and the CDB's own
// transfer length means (transfer.h): READ and WRITE meet the EDTL as FCP-4 says, Data-In is cut
// to the EDTL and the result carries the residual. Other commands get every byte of Data-Out that
// arrived: extra bytes are ignored, and a command that needs more answers ILLEGAL REQUEST
// (INVALID FIELD IN CDB or IN COMMAND INFORMATION UNIT). Without one (a direct caller), Data-Out
// is taken as it is: WRITE writes as far as the bytes go, a trailing partial block merged.
struct Task {
  std::span<const std::uint8_t> cdb;
  std::uint64_t lun = 0;                   // the LUN number (lun.h; 0 for maya's single LUN)
  std::span<const std::uint8_t> data_out;  // every byte of Data-Out the initiator sent
  std::optional<ExpectedTransfer> expected;
  const Nexus* nexus = nullptr;
  // Optional: a spent Data-In vector (any size and contents) that READ may move into its
  // result and overwrite, sparing an allocation, and the zero-fill up to its current size.
  std::vector<std::uint8_t>* spare_data_in = nullptr;
};

// The difference between what the command would move and the EDTL (SAM-5 residuals; iSCSI's
// O and U bits and Residual Count). `count` is 0 exactly when `kind` is kNone.
struct Residual {
  enum class Kind : std::uint8_t { kNone, kOverflow, kUnderflow };
  Kind kind = Kind::kNone;
  std::uint32_t count = 0;
  friend constexpr bool operator==(const Residual&, const Residual&) = default;
};

// data_in never exceeds the CDB's ALLOCATION LENGTH (the disk trims it) nor, for a task with an
// expected transfer, the EDTL: what it would have sent beyond that is an overflow residual.
struct TaskResult {
  std::uint8_t status = status::kGood;
  std::vector<std::uint8_t> data_in;
  std::vector<std::uint8_t> sense;  // fixed-format sense data when status is CHECK CONDITION
  Residual residual;
};

// What the disk says about itself in INQUIRY and the VPD pages.
struct Identity {
  std::string vendor = "MAYA";     // 8 characters at most
  std::string product = "VOLUME";  // 16 at most
  std::string revision = "0001";   // 4 at most
  std::string serial;              // unit serial number (VPD 80h)
  std::uint64_t naa = 0;           // NAA identifier (VPD 83h), unique per volume
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
  // The backend's size changed (a volume grown in place): the disk reports the new capacity
  // and queues the unit attention CAPACITY DATA HAS CHANGED (2Ah/09h) for every nexus, so
  // that initiators read it again (SBC-3 4.6). A disk of fixed size ignores it.
  virtual void capacity_changed() {}
  // Keeps persistent reservations across restarts (a shared replica's fence): `saved` is
  // restored now, `save` gets every change (Reservations::persist). Default: in memory only.
  virtual Result<void> persist_reservations(const std::string& saved,
                                            std::function<Result<void>(const std::string&)> save) {
    (void)saved;
    (void)save;
    return fail("this disk keeps its reservations in memory only");
  }
};

std::unique_ptr<ScsiDisk> make_disk(block::BlockBackend& backend, Identity identity);

}  // namespace maya::scsi
