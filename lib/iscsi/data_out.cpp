#include "lib/iscsi/data_out.h"

#include <algorithm>
#include <cstring>

namespace maya::iscsi {

WriteTask::WriteTask(const ScsiCommandReq& cmd, const SessionParams& params, bool discard)
    : cmd_(cmd),
      max_burst_(std::max<std::uint32_t>(params.max_burst_length, 512)),
      max_outstanding_(std::max<std::uint32_t>(params.max_outstanding_r2t, 1)),
      discard_(discard) {
  if (!discard_) buffer_.resize(cmd.edtl);
  // Without F the initiator follows with unsolicited Data-Out up to FirstBurstLength.
  unsolicited_done_ = cmd.final || params.initial_r2t;
  unsolicited_end_ =
      unsolicited_done_ ? 0 : std::min<std::uint32_t>(params.first_burst_length, cmd.edtl);
  next_request_ = unsolicited_end_;
}

DataOutStatus WriteTask::store(std::uint32_t offset, std::span<const std::uint8_t> data) {
  if (offset > cmd_.edtl || data.size() > cmd_.edtl - offset) return DataOutStatus::kProtocolError;
  if (!discard_ && !data.empty()) std::memcpy(buffer_.data() + offset, data.data(), data.size());
  received_ += static_cast<std::uint32_t>(data.size());
  return DataOutStatus::kOk;
}

DataOutStatus WriteTask::add_immediate(std::span<const std::uint8_t> data) {
  if (data.empty()) return DataOutStatus::kOk;
  if (store(0, data) != DataOutStatus::kOk) return DataOutStatus::kProtocolError;
  const auto n = static_cast<std::uint32_t>(data.size());
  unsolicited_next_ = n;
  unsolicited_end_ = std::max(unsolicited_end_, n);
  if (unsolicited_done_) next_request_ = std::max(next_request_, n);
  return DataOutStatus::kOk;
}

DataOutStatus WriteTask::add(const DataOutReq& pdu, std::span<const std::uint8_t> data) {
  const auto length = static_cast<std::uint32_t>(data.size());
  if (pdu.ttt == kReservedTag) {
    if (unsolicited_done_ || pdu.datasn != unsolicited_datasn_ ||
        pdu.buffer_offset != unsolicited_next_ || length > unsolicited_end_ - unsolicited_next_) {
      return DataOutStatus::kProtocolError;
    }
    if (store(pdu.buffer_offset, data) != DataOutStatus::kOk) return DataOutStatus::kProtocolError;
    ++unsolicited_datasn_;
    unsolicited_next_ += length;
    if (pdu.final) {
      unsolicited_done_ = true;
      if (unsolicited_next_ < unsolicited_end_ && !discard_) {
        holes_.push_back(R2TRequest{0, 0, unsolicited_next_, unsolicited_end_ - unsolicited_next_});
      }
    }
    return DataOutStatus::kOk;
  }
  auto it = std::find_if(outstanding_.begin(), outstanding_.end(),
                         [&](const Outstanding& o) { return o.ttt == pdu.ttt; });
  if (it == outstanding_.end() || pdu.datasn != it->next_datasn ||
      pdu.buffer_offset != it->next_offset || length > it->end - it->next_offset) {
    return DataOutStatus::kProtocolError;
  }
  if (store(pdu.buffer_offset, data) != DataOutStatus::kOk) return DataOutStatus::kProtocolError;
  ++it->next_datasn;
  it->next_offset += length;
  if (it->next_offset == it->end) {
    if (!pdu.final) return DataOutStatus::kProtocolError;
    outstanding_.erase(it);
  } else if (pdu.final) {
    return DataOutStatus::kProtocolError;  // the sequence ended short of what we asked for
  }
  return DataOutStatus::kOk;
}

void WriteTask::next_r2ts(std::uint32_t& ttt_counter, std::vector<R2TRequest>& out) {
  if (discard_) return;
  while (outstanding_.size() < max_outstanding_) {
    R2TRequest r;
    if (!holes_.empty()) {
      R2TRequest& hole = holes_.back();
      r.offset = hole.offset;
      r.length = std::min(hole.length, max_burst_);
      hole.offset += r.length;
      hole.length -= r.length;
      if (hole.length == 0) holes_.pop_back();
    } else if (next_request_ < cmd_.edtl) {
      r.offset = next_request_;
      r.length = std::min(max_burst_, cmd_.edtl - next_request_);
      next_request_ += r.length;
    } else {
      return;
    }
    if (++ttt_counter == kReservedTag) ttt_counter = 1;
    r.ttt = ttt_counter;
    r.r2tsn = r2tsn_++;
    outstanding_.push_back(Outstanding{r.ttt, r.offset, r.offset + r.length, r.offset, 0});
    out.push_back(r);
  }
}

bool WriteTask::complete() const {
  if (discard_) return unsolicited_done_;
  return received_ == cmd_.edtl && unsolicited_done_;
}

}  // namespace maya::iscsi
