// Connection: SCSI Command, Data-Out, and the answer (Data-In / SCSI Response). The transport
// moves bytes: the SCSI layer decides what the command and its expected transfer mean (the LUN,
// a CDB that disagrees with the EDTL, the residual); here they go on the wire.
#include <algorithm>
#include <string>

#include "lib/iscsi/connection.h"
#include "lib/scsi/lun.h"
#include "lib/scsi/sense.h"
#include "lib/scsi/transfer.h"

namespace maya::iscsi {
namespace {

// The R and W bits and the Expected Data Transfer Length.
scsi::ExpectedTransfer expected_transfer(const ScsiCommandReq& cmd) {
  using scsi::Direction;
  const Direction direction = cmd.read && cmd.write ? Direction::kBidirectional
                              : cmd.read            ? Direction::kRead
                              : cmd.write           ? Direction::kWrite
                                                    : Direction::kNone;
  return {direction, cmd.edtl};
}

}  // namespace

Result<void> Connection::on_scsi_command(const PduView& pdu) {
  const ScsiCommandReq cmd = decode_scsi_command(pdu.bhs);
  if (!accept_cmdsn(cmd.cmdsn, cmd.immediate)) return {};
  const auto immediate = pdu.data;
  if (!immediate.empty()) {
    const std::uint32_t first_burst = std::min(params_.first_burst_length, cmd.edtl);
    if (!params_.immediate_data || !cmd.write || immediate.size() > first_burst) {
      send_reject(reject_reason::kProtocolError, pdu.bhs);
      return {};
    }
  }
  if (!cmd.write || cmd.edtl == 0) {
    if (!cmd.final) return fail("a SCSI command without the F bit but with nothing to write");
    execute(cmd, {});
    return {};
  }
  const bool discard =
      cmd.edtl > kMaxWriteBuffer || pending_bytes_ + cmd.edtl > kMaxPendingWriteBytes;
  WriteTask task(cmd, params_, discard);
  if (task.add_immediate(immediate) != DataOutStatus::kOk) {
    return fail("immediate data does not fit the command");
  }
  if (task.complete()) {
    pending_.push_back(std::move(task));
    finish_write(pending_.size() - 1);
    return {};
  }
  if (!discard) pending_bytes_ += cmd.edtl;
  pending_.push_back(std::move(task));
  send_r2ts(pending_.back());
  return {};
}

void Connection::send_r2ts(WriteTask& task) {
  r2t_scratch_.clear();
  task.next_r2ts(next_ttt_, r2t_scratch_);
  for (const R2TRequest& r : r2t_scratch_) {
    R2TPdu p;
    p.lun = task.command().lun;
    p.itt = task.itt();
    p.ttt = r.ttt;
    p.r2tsn = r.r2tsn;
    p.buffer_offset = r.offset;
    p.desired_length = r.length;
    p.sn = next_sn(false);
    std::array<std::uint8_t, kBhsLength> bhs;
    encode(p, bhs);
    out_.push_copy(bhs);
  }
}

Result<void> Connection::on_data_out(const PduView& pdu) {
  const DataOutReq req = decode_data_out(pdu.bhs);
  auto it = std::find_if(pending_.begin(), pending_.end(),
                         [&](const WriteTask& t) { return t.itt() == req.itt; });
  // Data for a task we no longer have (aborted, or its command was ignored): discard it.
  if (it == pending_.end()) return {};
  if (it->add(req, pdu.data) != DataOutStatus::kOk) {
    // A wrong DataSN, offset, length or TTT: the command fails (ABORTED COMMAND, incorrect
    // amount of data) and later Data-Out for it is discarded; the session carries on.
    const ScsiCommandReq cmd = it->command();
    if (!it->discarding()) pending_bytes_ -= std::min<std::uint64_t>(pending_bytes_, cmd.edtl);
    pending_.erase(it);
    answer(cmd, scsi::check_condition(scsi::sense_key::kAbortedCommand,
                                      scsi::asc::kIncorrectAmountOfData));
    return {};
  }
  const auto index = static_cast<std::size_t>(it - pending_.begin());
  if (pending_[index].complete()) {
    finish_write(index);
  } else {
    send_r2ts(pending_[index]);
  }
  return {};
}

void Connection::finish_write(std::size_t index) {
  WriteTask task = std::move(pending_[index]);
  if (index + 1 != pending_.size()) pending_[index] = std::move(pending_.back());
  pending_.pop_back();
  if (!task.discarding()) {
    pending_bytes_ -= std::min<std::uint64_t>(pending_bytes_, task.command().edtl);
    execute(task.command(), task.buffer());
    return;
  }
  const ScsiCommandReq& cmd = task.command();
  if (cmd.edtl > kMaxWriteBuffer) {
    answer(cmd,
           scsi::check_condition(scsi::sense_key::kIllegalRequest, scsi::asc::kInvalidFieldInCdb));
  } else {
    scsi::TaskResult busy;
    busy.status = scsi::status::kTaskSetFull;
    answer(cmd, std::move(busy));
  }
}

void Connection::drop_pending_writes() {
  pending_.clear();
  pending_bytes_ = 0;
}

void Connection::execute(const ScsiCommandReq& cmd, std::span<const std::uint8_t> data_out) {
  scsi::Task task;
  task.cdb = std::span<const std::uint8_t>(cmd.cdb);
  task.lun = scsi::lun_number(cmd.lun);
  task.data_out = data_out;
  task.expected = expected_transfer(cmd);
  task.nexus = &nexus_;
  std::vector<std::uint8_t> spare;
  if (cmd.read) {
    spare = out_.take_spare();
    task.spare_data_in = &spare;
  }
  scsi::TaskResult result = context_.disk->execute(task);
  if (spare.capacity() != 0) out_.return_spare(std::move(spare));  // not used by the command
  send_status(cmd, std::move(result));
}

void Connection::answer(const ScsiCommandReq& cmd, scsi::TaskResult&& result) {
  scsi::settle_transfer(expected_transfer(cmd), {}, result);
  send_status(cmd, std::move(result));
}

void Connection::send_status(const ScsiCommandReq& cmd, scsi::TaskResult&& result) {
  // The disk cut Data-In to the EDTL; never send beyond it whatever the disk.
  const std::uint32_t expected_in = cmd.read ? cmd.edtl : 0;
  const auto send =
      static_cast<std::uint32_t>(std::min<std::size_t>(result.data_in.size(), expected_in));
  const bool overflow = result.residual.kind == scsi::Residual::Kind::kOverflow;
  const bool underflow = result.residual.kind == scsi::Residual::Kind::kUnderflow;
  const std::uint32_t residual = result.residual.count;

  const bool collapse = send > 0 && result.sense.empty();
  std::uint32_t datasn = 0;
  if (send > 0) {
    const std::uint32_t buffer = out_.keep(std::move(result.data_in));
    const std::uint32_t segment =
        std::max<std::uint32_t>(params_.max_send_data_segment_length, 512);
    const std::uint32_t burst = std::max<std::uint32_t>(params_.max_burst_length, segment);
    std::uint32_t offset = 0, in_burst = 0;
    while (offset < send) {
      const std::uint32_t n = std::min({segment, send - offset, burst - in_burst});
      const bool last = offset + n == send;
      DataInPdu d;
      d.itt = cmd.itt;
      d.lun = cmd.lun;
      d.datasn = datasn++;
      d.buffer_offset = offset;
      d.data_length = n;
      in_burst += n;
      d.final = last || in_burst == burst;
      if (in_burst == burst) in_burst = 0;
      if (last && collapse) {
        d.status_present = true;
        d.status = result.status;
        d.overflow = overflow;
        d.underflow = underflow;
        d.residual = residual;
        d.sn = next_sn(true);
      } else {
        d.sn = next_sn(false);
      }
      std::array<std::uint8_t, kBhsLength> bhs;
      encode(d, bhs);
      out_.push(bhs, buffer, offset, n);
      offset += n;
    }
  }
  if (collapse) return;

  ScsiResponsePdu resp;
  resp.itt = cmd.itt;
  resp.status = result.status;
  resp.overflow = overflow;
  resp.underflow = underflow;
  resp.residual = residual;
  resp.exp_datasn = datasn;
  resp.sn = next_sn(true);
  std::array<std::uint8_t, kBhsLength> bhs;
  if (result.sense.empty()) {
    encode(resp, bhs);
    out_.push_copy(bhs);
    return;
  }
  const std::size_t sense_len = std::min<std::size_t>(result.sense.size(), 0xffff);
  std::vector<std::uint8_t> data(2 + sense_len);
  data[0] = static_cast<std::uint8_t>(sense_len >> 8);
  data[1] = static_cast<std::uint8_t>(sense_len);
  std::copy_n(result.sense.begin(), sense_len, data.begin() + 2);
  resp.data_length = static_cast<std::uint32_t>(data.size());
  encode(resp, bhs);
  out_.push_copy(bhs, data);
}

}  // namespace maya::iscsi
