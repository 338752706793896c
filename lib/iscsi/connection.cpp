#include "lib/iscsi/connection.h"

#include <algorithm>
#include <string>

#include "lib/common/endian.h"

namespace maya::iscsi {

Connection::Connection(const TargetContext& context, ConnectionHooks hooks)
    : context_(context), hooks_(std::move(hooks)), login_(context.login) {}

Connection::~Connection() {
  end_session();
}

void Connection::end_session() {
  drop_pending_writes();
  if (tsih_ != 0) {
    const bool still_ours = context_.registry->close(session_id_);
    if (still_ours && nexus_live_ && context_.disk != nullptr) {
      context_.disk->nexus_removed(nexus_);
    }
    nexus_live_ = false;
    tsih_ = 0;
  }
}

std::size_t Connection::max_pdu_length() const {
  // BHS + the largest AHS + digests + a full data segment with padding.
  return kBhsLength + 255 * 4 + 8 + pad4(context_.login.offer.max_recv_data_segment_length);
}

SequenceNumbers Connection::next_sn(bool advance_statsn) {
  SequenceNumbers sn{statsn_, exp_cmdsn_, exp_cmdsn_ + kCommandWindow - 1};
  if (advance_statsn) ++statsn_;
  return sn;
}

bool Connection::accept_cmdsn(std::uint32_t cmdsn, bool immediate) {
  if (immediate) return true;
  if (cmdsn != exp_cmdsn_) return false;  // outside the window or out of order: ignore
  ++exp_cmdsn_;
  return true;
}

Result<std::size_t> Connection::receive(std::span<const std::uint8_t> in) {
  ping_outstanding_ = false;  // the peer is alive
  std::size_t pos = 0;
  const std::uint32_t limit = context_.login.offer.max_recv_data_segment_length;
  const bool in_login = phase_ == Phase::kLogin;
  while (!closing_ && out_.data_bytes() < kFlushThreshold) {
    if (in_login && phase_ != Phase::kLogin) break;  // logged in: the caller may hand us over
    auto rest = in.subspan(pos);
    auto frame = parse_frame(rest, digests_, limit);
    if (!frame) {
      if (frame.error() == PduError::kIncomplete) break;
      return fail("a PDU announces " + std::to_string(load_be24(rest.data() + 5)) +
                  " data bytes, more than the " + std::to_string(limit) + " we accept");
    }
    if (rest.size() < frame->total) break;
    auto pdu = parse_pdu(rest, *frame, digests_);
    pos += frame->total;
    if (!pdu) {
      if (pdu.error() == PduError::kHeaderDigest) return fail("header digest mismatch");
      send_reject(reject_reason::kDataDigestError, rest.subspan(0, kBhsLength));
      continue;
    }
    auto handled = handle(*pdu);
    if (!handled) return std::unexpected(handled.error());
  }
  return pos;
}

Result<void> Connection::handle(const PduView& pdu) {
  const Opcode op = opcode_of(pdu.bhs);
  if (phase_ == Phase::kLogin) {
    if (op != Opcode::kLoginRequest) return fail("a non-login PDU arrived before login finished");
    return on_login(pdu);
  }
  switch (op) {
    case Opcode::kScsiCommand:
      if (params_.discovery) break;
      return on_scsi_command(pdu);
    case Opcode::kDataOut:
      if (params_.discovery) break;
      return on_data_out(pdu);
    case Opcode::kNopOut:
      return on_nop_out(pdu);
    case Opcode::kTextRequest:
      return on_text(pdu);
    case Opcode::kLogoutRequest:
      return on_logout(pdu);
    case Opcode::kTaskManagementRequest:
      if (params_.discovery) break;
      return on_task_management(pdu);
    case Opcode::kLoginRequest:
      send_reject(reject_reason::kProtocolError, pdu.bhs);
      return {};
    case Opcode::kSnackRequest:
      // ErrorRecoveryLevel 0: no SNACK support.
      send_reject(reject_reason::kProtocolError, pdu.bhs);
      return {};
    default:
      send_reject(reject_reason::kCommandNotSupported, pdu.bhs);
      return {};
  }
  send_reject(reject_reason::kProtocolError, pdu.bhs);  // not allowed in a discovery session
  return {};
}

Result<void> Connection::on_login(const PduView& pdu) {
  const LoginReq req = decode_login(pdu.bhs);
  const bool first = !login_.started();
  LoginStep step = login_.handle(req, pdu.data);
  if (first) {
    statsn_ = req.exp_statsn;
    exp_cmdsn_ = req.cmdsn;
  }
  if (step.complete) {
    params_ = login_.params();
    const std::uint16_t continued = login_.requested_tsih();
    if (continued != 0 &&
        !context_.registry->exists(continued, params_.initiator_name, login_.isid())) {
      step = failed_login(req, login_status::kSessionDoesNotExist);
    }
  }
  if (step.complete && hooks_.admit) {
    if (const std::uint16_t refused = hooks_.admit(params_.discovery); refused != 0) {
      step = failed_login(req, refused);
    }
  }
  if (step.complete) {
    const bool normal = !params_.discovery;
    auto opened =
        context_.registry->open(params_.initiator_name, login_.isid(), normal, hooks_.stop,
                                login_.requested_tsih(), context_.admit_normal);
    if (opened.refused) {
      step = failed_login(req, login_status::kServiceUnavailable);
    } else {
      tsih_ = opened.tsih;
      session_id_ = opened.id;
      step.response.tsih = tsih_;
      if (normal && context_.disk != nullptr) {
        nexus_ = make_nexus(params_.initiator_name, login_.isid(), context_.login.target_name,
                            context_.login.tpgt);
        if (opened.replaced) context_.disk->nexus_removed(nexus_);
        context_.disk->nexus_added(nexus_);
        nexus_live_ = true;
      }
    }
  }
  step.response.sn = next_sn(true);
  std::array<std::uint8_t, kBhsLength> bhs;
  encode(step.response, bhs);
  out_.push_copy(bhs, step.data);
  if (step.fail) closing_ = true;
  if (step.complete) {
    phase_ = Phase::kFullFeature;
    digests_ = Digests{params_.header_digest, params_.data_digest};
    out_.set_digests(digests_);
  }
  return {};
}

Result<void> Connection::on_nop_out(const PduView& pdu) {
  const NopOutReq req = decode_nop_out(pdu.bhs);
  if (req.itt == kReservedTag) {
    // The answer to our ping (or an unsolicited ping that needs no reply).
    if (req.ttt == ping_ttt_) ping_ttt_ = kReservedTag;
    return {};
  }
  if (!accept_cmdsn(req.cmdsn, req.immediate)) return {};
  NopInPdu nop;
  nop.lun = req.lun;
  nop.itt = req.itt;
  nop.ttt = kReservedTag;
  nop.sn = next_sn(true);
  auto echo = pdu.data.subspan(
      0, std::min<std::size_t>(pdu.data.size(), params_.max_send_data_segment_length));
  nop.data_length = static_cast<std::uint32_t>(echo.size());
  std::array<std::uint8_t, kBhsLength> bhs;
  encode(nop, bhs);
  out_.push_copy(bhs, echo);
  return {};
}

bool Connection::on_idle() {
  if (phase_ != Phase::kFullFeature || ping_outstanding_) return false;
  NopInPdu nop;
  if (++next_ttt_ == kReservedTag) next_ttt_ = 1;
  nop.ttt = ping_ttt_ = next_ttt_;
  nop.itt = kReservedTag;
  nop.sn = next_sn(false);
  std::array<std::uint8_t, kBhsLength> bhs;
  encode(nop, bhs);
  out_.push_copy(bhs);
  ping_outstanding_ = true;
  return true;
}

void Connection::send_reject(std::uint8_t reason, std::span<const std::uint8_t> rejected) {
  RejectPdu reject;
  reject.reason = reason;
  reject.sn = next_sn(true);
  std::array<std::uint8_t, kBhsLength> bhs;
  encode(reject, bhs);
  out_.push_copy(bhs, rejected.subspan(0, std::min(rejected.size(), kBhsLength)));
}

Result<void> Connection::on_text(const PduView& pdu) {
  const TextReq req = decode_text(pdu.bhs);
  if (!accept_cmdsn(req.cmdsn, req.immediate)) return {};
  if (req.ttt != kReservedTag) {
    // Continuing an exchange: either fetching our next piece or sending theirs.
    if (req.ttt != text_ttt_) {
      send_reject(reject_reason::kInvalidPduField, pdu.bhs);
      return {};
    }
    if (text_out_.pending()) {
      send_text_piece(req);
      return {};
    }
  } else {
    text_in_.clear();
    text_out_.clear();
  }
  if (!text_in_.add(pdu.data)) {
    text_in_.clear();
    send_reject(reject_reason::kProtocolError, pdu.bhs);
    return {};
  }
  if (req.cont) {
    TextResponsePdu ack;
    ack.itt = req.itt;
    if (++next_ttt_ == kReservedTag) next_ttt_ = 1;
    ack.ttt = text_ttt_ = next_ttt_;
    ack.sn = next_sn(true);
    std::array<std::uint8_t, kBhsLength> bhs;
    encode(ack, bhs);
    out_.push_copy(bhs);
    return {};
  }
  auto kvs = parse_text(text_in_.bytes());
  text_in_.clear();
  if (!kvs) {
    send_reject(reject_reason::kProtocolError, pdu.bhs);
    return {};
  }
  KeyValues answer;
  for (const auto& [key, value] : *kvs) {
    if (key == "SendTargets") {
      std::vector<TargetRecord> known;
      if (context_.directory) {
        known = context_.directory(hooks_.local_host);
      } else {
        known.push_back({context_.login.target_name, {hooks_.portal}});
      }
      auto records =
          answer_send_targets(value, known, params_.discovery ? "" : params_.target_name);
      answer.insert(answer.end(), records.begin(), records.end());
    } else if (key == "MaxRecvDataSegmentLength") {
      auto n = parse_number(value);
      if (n && *n >= 512 && *n <= kMaxDataSegmentLength) {
        params_.max_send_data_segment_length = static_cast<std::uint32_t>(*n);
      } else {
        answer.emplace_back(key, "Reject");
      }
    } else if (key == "InitiatorAlias") {
      params_.initiator_alias = value;
    } else if (find_key_def(key) != nullptr) {
      answer.emplace_back(key, "Reject");  // login-only key in the full feature phase
    } else {
      answer.emplace_back(key, "NotUnderstood");
    }
  }
  std::vector<std::uint8_t> text;
  append_text(text, answer);
  text_out_.set(std::move(text));
  send_text_piece(req);
  return {};
}

void Connection::send_text_piece(const TextReq& req) {
  bool more = false;
  auto piece = text_out_.next(params_.max_send_data_segment_length, more);
  TextResponsePdu resp;
  resp.itt = req.itt;
  resp.final = !more;
  resp.cont = more;
  if (more) {
    if (++next_ttt_ == kReservedTag) next_ttt_ = 1;
    text_ttt_ = next_ttt_;
    resp.ttt = text_ttt_;
  } else {
    text_ttt_ = kReservedTag;
  }
  resp.sn = next_sn(true);
  resp.data_length = static_cast<std::uint32_t>(piece.size());
  std::array<std::uint8_t, kBhsLength> bhs;
  encode(resp, bhs);
  out_.push_copy(bhs, piece);
  if (!more) text_out_.clear();
}

Result<void> Connection::on_logout(const PduView& pdu) {
  const LogoutReq req = decode_logout(pdu.bhs);
  if (!accept_cmdsn(req.cmdsn, req.immediate)) return {};
  LogoutResponsePdu resp;
  resp.itt = req.itt;
  switch (req.reason) {
    case 0:  // close the session
      resp.response = 0;
      break;
    case 1:  // close a connection
      resp.response = req.cid == login_.cid() ? 0 : 1;
      break;
    case 2:  // remove the connection for recovery: not at ErrorRecoveryLevel 0
      resp.response = 2;
      break;
    default:
      send_reject(reject_reason::kInvalidPduField, pdu.bhs);
      return {};
  }
  resp.sn = next_sn(true);
  std::array<std::uint8_t, kBhsLength> bhs;
  encode(resp, bhs);
  out_.push_copy(bhs);
  if (resp.response == 0) {
    closing_ = true;
    end_session();
  }
  return {};
}

}  // namespace maya::iscsi
