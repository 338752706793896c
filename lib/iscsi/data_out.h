// Write data collection for one SCSI command (RFC 7143 §10.7, §11.7-8): immediate data, the
// unsolicited Data-Out burst (InitialR2T=No, up to FirstBurstLength), and R2Ts for the rest in
// MaxBurstLength pieces with R2TSN numbering. Every Data-Out is checked for its TTT, DataSN and
// BufferOffset (DataPDUInOrder/DataSequenceInOrder are Yes); a violation is a protocol error.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "lib/iscsi/negotiation.h"
#include "lib/iscsi/pdu.h"

namespace maya::iscsi {

struct R2TRequest {
  std::uint32_t ttt = 0, r2tsn = 0, offset = 0, length = 0;
};

enum class DataOutStatus : std::uint8_t { kOk, kProtocolError };

class WriteTask {
 public:
  // `discard`: take the data the initiator sends unsolicited but keep none of it and ask for
  // no more (the command is answered with an error once the unsolicited part is in).
  WriteTask(const ScsiCommandReq& cmd, const SessionParams& params, bool discard);

  // The command PDU's own data segment.
  DataOutStatus add_immediate(std::span<const std::uint8_t> data);
  DataOutStatus add(const DataOutReq& pdu, std::span<const std::uint8_t> data);
  // R2Ts to send now; TTTs come from the connection's counter.
  void next_r2ts(std::uint32_t& ttt_counter, std::vector<R2TRequest>& out);
  // All the data is in (or, when discarding, all the unsolicited data).
  bool complete() const;

  const ScsiCommandReq& command() const { return cmd_; }
  std::uint32_t itt() const { return cmd_.itt; }
  bool discarding() const { return discard_; }
  std::vector<std::uint8_t>& buffer() { return buffer_; }

 private:
  struct Outstanding {
    std::uint32_t ttt, offset, end, next_offset, next_datasn;
  };
  DataOutStatus store(std::uint32_t offset, std::span<const std::uint8_t> data);

  ScsiCommandReq cmd_;
  std::uint32_t max_burst_ = 0, max_outstanding_ = 1;
  bool discard_ = false;
  std::vector<std::uint8_t> buffer_;
  std::uint32_t received_ = 0;
  // Unsolicited phase.
  std::uint32_t unsolicited_end_ = 0, unsolicited_next_ = 0, unsolicited_datasn_ = 0;
  bool unsolicited_done_ = true;
  // Solicited phase.
  std::vector<Outstanding> outstanding_;
  std::vector<R2TRequest> holes_;  // ranges the unsolicited burst left out
  std::uint32_t next_request_ = 0, r2tsn_ = 0;
};

}  // namespace maya::iscsi
