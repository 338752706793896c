#include "lib/scsi/transfer.h"

#include <algorithm>
#include <limits>

#include "lib/common/endian.h"
#include "lib/scsi/cdb.h"

namespace maya::scsi {

TransferPlan plan_transfer(const Task& task, BlockTransfer kind, std::uint32_t block_size) {
  TransferPlan plan{.data_out = task.data_out};
  if (!task.expected || kind == BlockTransfer::kNone) return plan;
  if (kind == BlockTransfer::kIn) {
    plan.data_out = {};  // a read flagged as a write: the data has no use
    return plan;
  }
  const BlockCdb cdb = decode_block_cdb(task.cdb);
  const std::uint64_t wanted = std::uint64_t{cdb.blocks} * block_size;  // SPDTL
  const std::uint64_t sent =
      task.expected->writes() ? std::min<std::uint64_t>(task.expected->length, task.data_out.size())
                              : 0;
  if (wanted > sent) {
    plan.residual = {Residual::Kind::kOverflow, static_cast<std::uint32_t>(wanted - sent)};
    const auto blocks = static_cast<std::uint32_t>(sent / block_size);
    if (blocks == 0 && cdb_length_for(task.cdb[0]) == 6) {
      plan.answer_good = true;
      plan.data_out = {};
      return plan;
    }
    plan.blocks = blocks;
    plan.data_out = task.data_out.first(std::size_t{blocks} * block_size);
  } else if (wanted < sent) {
    plan.residual = {Residual::Kind::kUnderflow, static_cast<std::uint32_t>(sent - wanted)};
    plan.data_out = task.data_out.first(static_cast<std::size_t>(wanted));
  }
  return plan;
}

void set_transfer_length(std::span<std::uint8_t> cdb, std::uint32_t blocks) {
  std::uint8_t* p = cdb.data();
  switch (cdb_length_for(p[0])) {
    case 6:
      p[4] = static_cast<std::uint8_t>(blocks);
      break;
    case 10:
      store_be16(p + 7, static_cast<std::uint16_t>(blocks));
      break;
    case 12:
      store_be32(p + 6, blocks);
      break;
    default:
      store_be32(p + 10, blocks);
      break;
  }
}

void settle_transfer(const ExpectedTransfer& expected, const Residual& data_out_residual,
                     TaskResult& result) {
  const std::uint64_t limit = expected.reads() ? expected.length : 0;
  const std::uint64_t have =
      std::min<std::uint64_t>(result.data_in.size(), std::numeric_limits<std::uint32_t>::max());
  if (data_out_residual.kind != Residual::Kind::kNone) {
    result.residual = data_out_residual;
  } else if (have > limit) {
    result.residual = {Residual::Kind::kOverflow, static_cast<std::uint32_t>(have - limit)};
  } else if (have < limit) {
    result.residual = {Residual::Kind::kUnderflow, static_cast<std::uint32_t>(limit - have)};
  }
  if (result.data_in.size() > limit) result.data_in.resize(static_cast<std::size_t>(limit));
}

}  // namespace maya::scsi
