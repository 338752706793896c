// The transfer a command makes against the one its transport expects (Task::expected: iSCSI's
// R/W bits and Expected Data Transfer Length, RFC 7143 11.4.5.2), decided here so that no
// transport needs to know a CDB. The commands whose TRANSFER LENGTH counts blocks of Data-In or
// Data-Out (READ, WRITE, WRITE AND VERIFY; the command table marks them) meet the EDTL as FCP-4
// 9.4.2 says: a write the initiator sends less for writes the whole blocks that arrived and
// reports an overflow; one it sends more for writes the CDB's length and reports an underflow.
// After any command, Data-In beyond the EDTL is cut off as an overflow, and less than it is an
// underflow — as SPDK's lib/scsi and tgt's sbc.c report them.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "lib/scsi/scsi_disk.h"

namespace maya::scsi {

// How a command's CDB TRANSFER LENGTH relates to its data (a command table field).
enum class BlockTransfer : std::uint8_t {
  kNone,  // the data, if any, is a parameter list or allocation: no block count to meet
  kIn,    // Data-In of TRANSFER LENGTH blocks (READ)
  kOut,   // Data-Out of TRANSFER LENGTH blocks, written as far as it arrives (WRITE, WRITE AND
          // VERIFY)
};

// What to run for a command with an expected transfer.
struct TransferPlan {
  std::span<const std::uint8_t> data_out;  // the Data-Out the command gets
  // Set: run the command with this TRANSFER LENGTH instead of the CDB's (the whole blocks that
  // arrived of a short write).
  std::optional<std::uint32_t> blocks;
  // Answer GOOD without running the command: nothing arrived for a WRITE(6), whose TRANSFER
  // LENGTH cannot say "no blocks".
  bool answer_good = false;
  Residual residual;  // of the Data-Out
};

// `task.cdb` holds at least the whole CDB of a command with this `kind`; `block_size` is the
// disk's. A task without an expected transfer, or a kNone command, keeps its Data-Out as it is.
TransferPlan plan_transfer(const Task& task, BlockTransfer kind, std::uint32_t block_size);

// Rewrites the TRANSFER LENGTH of a READ/WRITE/VERIFY/WRITE AND VERIFY CDB (6/10/12/16 bytes).
void set_transfer_length(std::span<std::uint8_t> cdb, std::uint32_t blocks);

// Completes `result` for the transport: the residual (the plan's Data-Out one if it has one,
// else Data-In's against the EDTL) and Data-In cut to the EDTL.
void settle_transfer(const ExpectedTransfer& expected, const Residual& data_out_residual,
                     TaskResult& result);

}  // namespace maya::scsi
