#include "lib/iscsi/pdu.h"

#include <algorithm>

#include "lib/common/endian.h"
#include "lib/iscsi/crc32c.h"

namespace maya::iscsi {
namespace {

constexpr std::size_t kDigestLength = 4;

void put_sn(std::uint8_t* b, const SequenceNumbers& sn) {
  store_be32(b + 24, sn.statsn);
  store_be32(b + 28, sn.exp_cmdsn);
  store_be32(b + 32, sn.max_cmdsn);
}

std::uint8_t* start(BhsOut out, Opcode op, std::uint8_t flags, std::uint32_t data_length) {
  std::fill(out.begin(), out.end(), std::uint8_t{0});
  std::uint8_t* b = out.data();
  b[0] = static_cast<std::uint8_t>(op);
  b[1] = flags;
  store_be24(b + 5, std::min(data_length, kMaxDataSegmentLength));
  return b;
}

}  // namespace

std::expected<Frame, PduError> parse_frame(std::span<const std::uint8_t> bytes, Digests digests,
                                           std::uint32_t max_data_length) {
  if (bytes.size() < kBhsLength) return std::unexpected(PduError::kIncomplete);
  Frame f;
  f.ahs_length = std::uint32_t{bytes[4]} * 4;
  f.data_length = load_be24(bytes.data() + 5);
  if (f.data_length > max_data_length) return std::unexpected(PduError::kDataTooLong);
  f.total = kBhsLength + f.ahs_length + (digests.header ? kDigestLength : 0);
  if (f.data_length > 0) f.total += pad4(f.data_length) + (digests.data ? kDigestLength : 0);
  return f;
}

std::expected<PduView, PduError> parse_pdu(std::span<const std::uint8_t> bytes, const Frame& frame,
                                           Digests digests) {
  if (bytes.size() < frame.total) return std::unexpected(PduError::kIncomplete);
  PduView v;
  const std::size_t header_len = kBhsLength + frame.ahs_length;
  v.bhs = bytes.subspan(0, kBhsLength);
  v.ahs = bytes.subspan(kBhsLength, frame.ahs_length);
  std::size_t pos = header_len;
  if (digests.header) {
    std::uint32_t want = load_le32(bytes.data() + pos);
    if (crc32c(bytes.subspan(0, header_len)) != want) {
      return std::unexpected(PduError::kHeaderDigest);
    }
    pos += kDigestLength;
  }
  v.data = bytes.subspan(pos, frame.data_length);
  if (frame.data_length > 0 && digests.data) {
    const std::uint32_t padded = pad4(frame.data_length);
    std::uint32_t want = load_le32(bytes.data() + pos + padded);
    if (crc32c(bytes.subspan(pos, padded)) != want) return std::unexpected(PduError::kDataDigest);
  }
  return v;
}

Opcode opcode_of(Bhs bhs) {
  return static_cast<Opcode>(bhs[0] & 0x3f);
}

bool opcode_is_known_initiator(std::uint8_t op) {
  switch (static_cast<Opcode>(op & 0x3f)) {
    case Opcode::kNopOut:
    case Opcode::kScsiCommand:
    case Opcode::kTaskManagementRequest:
    case Opcode::kLoginRequest:
    case Opcode::kTextRequest:
    case Opcode::kDataOut:
    case Opcode::kLogoutRequest:
    case Opcode::kSnackRequest:
      return true;
    default:
      return false;
  }
}

std::uint32_t itt_of(Bhs bhs) {
  return load_be32(bhs.data() + 16);
}

ScsiCommandReq decode_scsi_command(Bhs bhs) {
  const std::uint8_t* b = bhs.data();
  ScsiCommandReq r;
  r.immediate = immediate_bit(bhs);
  r.final = (b[1] & 0x80) != 0;
  r.read = (b[1] & 0x40) != 0;
  r.write = (b[1] & 0x20) != 0;
  r.attributes = b[1] & 0x07;
  r.lun = load_be64(b + 8);
  r.itt = load_be32(b + 16);
  r.edtl = load_be32(b + 20);
  r.cmdsn = load_be32(b + 24);
  r.exp_statsn = load_be32(b + 28);
  std::copy_n(b + 32, 16, r.cdb.begin());
  return r;
}

DataOutReq decode_data_out(Bhs bhs) {
  const std::uint8_t* b = bhs.data();
  DataOutReq r;
  r.final = (b[1] & 0x80) != 0;
  r.lun = load_be64(b + 8);
  r.itt = load_be32(b + 16);
  r.ttt = load_be32(b + 20);
  r.exp_statsn = load_be32(b + 28);
  r.datasn = load_be32(b + 36);
  r.buffer_offset = load_be32(b + 40);
  return r;
}

NopOutReq decode_nop_out(Bhs bhs) {
  const std::uint8_t* b = bhs.data();
  NopOutReq r;
  r.immediate = immediate_bit(bhs);
  r.lun = load_be64(b + 8);
  r.itt = load_be32(b + 16);
  r.ttt = load_be32(b + 20);
  r.cmdsn = load_be32(b + 24);
  r.exp_statsn = load_be32(b + 28);
  return r;
}

TmfReq decode_tmf(Bhs bhs) {
  const std::uint8_t* b = bhs.data();
  TmfReq r;
  r.immediate = immediate_bit(bhs);
  r.function = b[1] & 0x7f;
  r.lun = load_be64(b + 8);
  r.itt = load_be32(b + 16);
  r.referenced_tag = load_be32(b + 20);
  r.cmdsn = load_be32(b + 24);
  r.exp_statsn = load_be32(b + 28);
  r.ref_cmdsn = load_be32(b + 32);
  r.exp_datasn = load_be32(b + 36);
  return r;
}

LoginReq decode_login(Bhs bhs) {
  const std::uint8_t* b = bhs.data();
  LoginReq r;
  r.transit = (b[1] & 0x80) != 0;
  r.cont = (b[1] & 0x40) != 0;
  r.csg = (b[1] >> 2) & 0x03;
  r.nsg = b[1] & 0x03;
  r.version_max = b[2];
  r.version_min = b[3];
  std::copy_n(b + 8, 6, r.isid.begin());
  r.tsih = load_be16(b + 14);
  r.itt = load_be32(b + 16);
  r.cid = load_be16(b + 20);
  r.cmdsn = load_be32(b + 24);
  r.exp_statsn = load_be32(b + 28);
  return r;
}

TextReq decode_text(Bhs bhs) {
  const std::uint8_t* b = bhs.data();
  TextReq r;
  r.immediate = immediate_bit(bhs);
  r.final = (b[1] & 0x80) != 0;
  r.cont = (b[1] & 0x40) != 0;
  r.itt = load_be32(b + 16);
  r.ttt = load_be32(b + 20);
  r.cmdsn = load_be32(b + 24);
  r.exp_statsn = load_be32(b + 28);
  return r;
}

LogoutReq decode_logout(Bhs bhs) {
  const std::uint8_t* b = bhs.data();
  LogoutReq r;
  r.immediate = immediate_bit(bhs);
  r.reason = b[1] & 0x7f;
  r.itt = load_be32(b + 16);
  r.cid = load_be16(b + 20);
  r.cmdsn = load_be32(b + 24);
  r.exp_statsn = load_be32(b + 28);
  return r;
}

SnackReq decode_snack(Bhs bhs) {
  const std::uint8_t* b = bhs.data();
  SnackReq r;
  r.type = b[1] & 0x0f;
  r.itt = load_be32(b + 16);
  r.ttt = load_be32(b + 20);
  r.exp_statsn = load_be32(b + 28);
  r.begrun = load_be32(b + 40);
  r.runlength = load_be32(b + 44);
  return r;
}

void encode(const ScsiResponsePdu& p, BhsOut out) {
  std::uint8_t flags = 0x80;
  if (p.overflow) flags |= 0x04;
  if (p.underflow) flags |= 0x02;
  std::uint8_t* b = start(out, Opcode::kScsiResponse, flags, p.data_length);
  b[2] = p.response;
  b[3] = p.status;
  store_be32(b + 16, p.itt);
  put_sn(b, p.sn);
  store_be32(b + 36, p.exp_datasn);
  if (p.overflow || p.underflow) store_be32(b + 44, p.residual);
}

void encode(const DataInPdu& p, BhsOut out) {
  std::uint8_t flags = 0;
  if (p.final) flags |= 0x80;
  if (p.acknowledge) flags |= 0x40;
  if (p.status_present) {
    flags |= 0x01;
    if (p.overflow) flags |= 0x04;
    if (p.underflow) flags |= 0x02;
  }
  std::uint8_t* b = start(out, Opcode::kDataIn, flags, p.data_length);
  if (p.status_present) b[3] = p.status;
  store_be64(b + 8, p.lun);
  store_be32(b + 16, p.itt);
  store_be32(b + 20, p.ttt);
  put_sn(b, p.sn);
  if (!p.status_present) store_be32(b + 24, 0);
  store_be32(b + 36, p.datasn);
  store_be32(b + 40, p.buffer_offset);
  if (p.status_present && (p.overflow || p.underflow)) store_be32(b + 44, p.residual);
}

void encode(const R2TPdu& p, BhsOut out) {
  std::uint8_t* b = start(out, Opcode::kR2T, 0x80, 0);
  store_be64(b + 8, p.lun);
  store_be32(b + 16, p.itt);
  store_be32(b + 20, p.ttt);
  put_sn(b, p.sn);
  store_be32(b + 36, p.r2tsn);
  store_be32(b + 40, p.buffer_offset);
  store_be32(b + 44, p.desired_length);
}

void encode(const NopInPdu& p, BhsOut out) {
  std::uint8_t* b = start(out, Opcode::kNopIn, 0x80, p.data_length);
  store_be64(b + 8, p.lun);
  store_be32(b + 16, p.itt);
  store_be32(b + 20, p.ttt);
  put_sn(b, p.sn);
}

void encode(const TmfResponsePdu& p, BhsOut out) {
  std::uint8_t* b = start(out, Opcode::kTaskManagementResponse, 0x80, 0);
  b[2] = p.response;
  store_be32(b + 16, p.itt);
  put_sn(b, p.sn);
}

void encode(const LoginResponsePdu& p, BhsOut out) {
  std::uint8_t flags = static_cast<std::uint8_t>(((p.csg & 3) << 2) | (p.nsg & 3));
  if (p.transit) flags |= 0x80;
  if (p.cont) flags |= 0x40;
  std::uint8_t* b = start(out, Opcode::kLoginResponse, flags, p.data_length);
  b[2] = 0x00;  // Version-max
  b[3] = 0x00;  // Version-active
  std::copy(p.isid.begin(), p.isid.end(), b + 8);
  store_be16(b + 14, p.tsih);
  store_be32(b + 16, p.itt);
  put_sn(b, p.sn);
  b[36] = p.status_class;
  b[37] = p.status_detail;
}

void encode(const TextResponsePdu& p, BhsOut out) {
  std::uint8_t flags = 0;
  if (p.final) flags |= 0x80;
  if (p.cont) flags |= 0x40;
  std::uint8_t* b = start(out, Opcode::kTextResponse, flags, p.data_length);
  store_be32(b + 16, p.itt);
  store_be32(b + 20, p.ttt);
  put_sn(b, p.sn);
}

void encode(const LogoutResponsePdu& p, BhsOut out) {
  std::uint8_t* b = start(out, Opcode::kLogoutResponse, 0x80, 0);
  b[2] = p.response;
  store_be32(b + 16, p.itt);
  put_sn(b, p.sn);
  store_be16(b + 40, p.time2wait);
  store_be16(b + 42, p.time2retain);
}

void encode(const RejectPdu& p, BhsOut out) {
  std::uint8_t* b = start(out, Opcode::kReject, 0x80, kBhsLength);
  b[2] = p.reason;
  store_be32(b + 16, kReservedTag);
  put_sn(b, p.sn);
  store_be32(b + 36, p.datasn);
}

void encode(const AsyncMessagePdu& p, BhsOut out) {
  std::uint8_t* b = start(out, Opcode::kAsyncMessage, 0x80, 0);
  store_be64(b + 8, p.lun);
  store_be32(b + 16, kReservedTag);
  put_sn(b, p.sn);
  b[36] = p.event;
  store_be16(b + 38, p.param1);
  store_be16(b + 40, p.param2);
  store_be16(b + 42, p.param3);
}

}  // namespace maya::iscsi
