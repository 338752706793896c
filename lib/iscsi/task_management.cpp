// Connection: Task Management Function requests. Commands run to completion as they arrive, so
// the only tasks left to abort are writes still waiting for their Data-Out.
#include "lib/iscsi/task_management.h"

#include <algorithm>

#include "lib/common/endian.h"
#include "lib/iscsi/connection.h"
#include "lib/iscsi/serial_number.h"
#include "lib/scsi/lun.h"

namespace maya::iscsi {

Result<void> Connection::on_task_management(const PduView& pdu) {
  const TmfReq req = decode_tmf(pdu.bhs);
  // The window as it was before this request took its CmdSN.
  const std::uint32_t window_start = exp_cmdsn_;
  if (!accept_cmdsn(req.cmdsn, req.immediate)) return {};
  const bool lun_ok = scsi::lun_number(req.lun) == 0;
  std::uint8_t response = tmf_response::kFunctionComplete;
  bool stop_after = false;

  switch (req.function) {
    case tmf::kAbortTask: {
      auto it = std::find_if(pending_.begin(), pending_.end(),
                             [&](const WriteTask& t) { return t.itt() == req.referenced_tag; });
      if (it != pending_.end()) {
        if (!it->discarding()) {
          pending_bytes_ -= std::min<std::uint64_t>(pending_bytes_, it->command().edtl);
        }
        pending_.erase(it);
      } else if (!(sn_less_equal(window_start, req.ref_cmdsn) &&
                   sn_less(req.ref_cmdsn, req.cmdsn))) {
        // Already answered, or never sent: nothing to abort.
        response = tmf_response::kTaskDoesNotExist;
      }
      break;
    }
    case tmf::kAbortTaskSet:
    case tmf::kClearTaskSet:
      if (!lun_ok) {
        response = tmf_response::kLunDoesNotExist;
        break;
      }
      drop_pending_writes();
      break;
    case tmf::kLogicalUnitReset:
      if (!lun_ok) {
        response = tmf_response::kLunDoesNotExist;
        break;
      }
      drop_pending_writes();
      if (context_.disk != nullptr) context_.disk->reset(false);
      break;
    case tmf::kTargetWarmReset:
      drop_pending_writes();
      if (context_.disk != nullptr) context_.disk->reset(true);
      break;
    case tmf::kTargetColdReset:
      // Like a warm reset, then every connection (this one after its answer) is closed.
      drop_pending_writes();
      if (context_.disk != nullptr) context_.disk->reset(true);
      context_.registry->stop_all_except(tsih_);
      stop_after = true;
      break;
    case tmf::kTaskReassign:
      response = tmf_response::kReassignmentNotSupported;
      break;
    case tmf::kClearAca:
    default:
      response = tmf_response::kNotSupported;
      break;
  }

  TmfResponsePdu resp;
  resp.itt = req.itt;
  resp.response = response;
  resp.sn = next_sn(true);
  std::array<std::uint8_t, kBhsLength> bhs;
  encode(resp, bhs);
  out_.push_copy(bhs);
  if (stop_after) closing_ = true;
  return {};
}

}  // namespace maya::iscsi
