// iSCSI PDU codec (RFC 7143 §11) as pure functions over byte spans. Parsing has two phases so a
// reader can frame a byte stream and tests can fuzz it: parse_frame() looks at the 48-byte BHS
// and says how long the whole PDU is; parse_pdu() checks digests and splits it into
// BHS / AHS / data. decode_*() read the fields of each initiator PDU; encode() writes each target
// PDU's BHS (the caller sends the data segment, padding and digests; see out_queue.h).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <span>

namespace maya::iscsi {

inline constexpr std::size_t kBhsLength = 48;
inline constexpr std::uint32_t kReservedTag = 0xffffffffu;
// DataSegmentLength is 24 bits on the wire.
inline constexpr std::uint32_t kMaxDataSegmentLength = 0xffffffu;

enum class Opcode : std::uint8_t {
  kNopOut = 0x00,
  kScsiCommand = 0x01,
  kTaskManagementRequest = 0x02,
  kLoginRequest = 0x03,
  kTextRequest = 0x04,
  kDataOut = 0x05,
  kLogoutRequest = 0x06,
  kSnackRequest = 0x10,
  kNopIn = 0x20,
  kScsiResponse = 0x21,
  kTaskManagementResponse = 0x22,
  kLoginResponse = 0x23,
  kTextResponse = 0x24,
  kDataIn = 0x25,
  kLogoutResponse = 0x26,
  kR2T = 0x31,
  kAsyncMessage = 0x32,
  kReject = 0x3f,
};

struct Digests {
  bool header = false;
  bool data = false;
};

enum class PduError : std::uint8_t {
  kIncomplete,    // not enough bytes yet
  kDataTooLong,   // DataSegmentLength above what we agreed to receive
  kHeaderDigest,  // the connection must be dropped
  kDataDigest,    // answer with Reject (reason 02h) and discard
};

inline constexpr std::uint32_t pad4(std::uint32_t n) {
  return (n + 3u) & ~3u;
}

// Phase 1: from the first 48 bytes, how long the PDU is.
struct Frame {
  std::uint32_t ahs_length = 0;   // bytes (TotalAHSLength × 4)
  std::uint32_t data_length = 0;  // DataSegmentLength, unpadded
  std::size_t total = 0;          // BHS + AHS + header digest + padded data + data digest
};
std::expected<Frame, PduError> parse_frame(std::span<const std::uint8_t> bytes, Digests digests,
                                           std::uint32_t max_data_length);

// Phase 2: a whole PDU, digests verified.
struct PduView {
  std::span<const std::uint8_t> bhs;  // 48 bytes
  std::span<const std::uint8_t> ahs;
  std::span<const std::uint8_t> data;  // unpadded
};
std::expected<PduView, PduError> parse_pdu(std::span<const std::uint8_t> bytes, const Frame& frame,
                                           Digests digests);

// ---- common BHS fields ----
using Bhs = std::span<const std::uint8_t>;  // at least 48 bytes
Opcode opcode_of(Bhs bhs);
bool opcode_is_known_initiator(std::uint8_t op);
inline bool immediate_bit(Bhs bhs) {
  return (bhs[0] & 0x40) != 0;
}
inline bool final_bit(Bhs bhs) {
  return (bhs[1] & 0x80) != 0;
}
std::uint32_t itt_of(Bhs bhs);

// ---- initiator → target ----
struct ScsiCommandReq {
  bool immediate = false, final = false, read = false, write = false;
  std::uint8_t attributes = 0;
  std::uint64_t lun = 0;  // raw 8-byte LUN field
  std::uint32_t itt = 0, edtl = 0, cmdsn = 0, exp_statsn = 0;
  std::array<std::uint8_t, 16> cdb{};
};
ScsiCommandReq decode_scsi_command(Bhs bhs);

struct DataOutReq {
  bool final = false;
  std::uint64_t lun = 0;
  std::uint32_t itt = 0, ttt = 0, exp_statsn = 0, datasn = 0, buffer_offset = 0;
};
DataOutReq decode_data_out(Bhs bhs);

struct NopOutReq {
  bool immediate = false;
  std::uint64_t lun = 0;
  std::uint32_t itt = 0, ttt = 0, cmdsn = 0, exp_statsn = 0;
};
NopOutReq decode_nop_out(Bhs bhs);

struct TmfReq {
  bool immediate = false;
  std::uint8_t function = 0;
  std::uint64_t lun = 0;
  std::uint32_t itt = 0, referenced_tag = 0, cmdsn = 0, exp_statsn = 0, ref_cmdsn = 0,
                exp_datasn = 0;
};
TmfReq decode_tmf(Bhs bhs);

struct LoginReq {
  bool transit = false, cont = false;
  std::uint8_t csg = 0, nsg = 0, version_max = 0, version_min = 0;
  std::array<std::uint8_t, 6> isid{};
  std::uint16_t tsih = 0, cid = 0;
  std::uint32_t itt = 0, cmdsn = 0, exp_statsn = 0;
};
LoginReq decode_login(Bhs bhs);

struct TextReq {
  bool immediate = false, final = false, cont = false;
  std::uint32_t itt = 0, ttt = 0, cmdsn = 0, exp_statsn = 0;
};
TextReq decode_text(Bhs bhs);

struct LogoutReq {
  bool immediate = false;
  std::uint8_t reason = 0;  // 0 close session, 1 close connection, 2 remove for recovery
  std::uint16_t cid = 0;
  std::uint32_t itt = 0, cmdsn = 0, exp_statsn = 0;
};
LogoutReq decode_logout(Bhs bhs);

struct SnackReq {
  std::uint8_t type = 0;
  std::uint32_t itt = 0, ttt = 0, exp_statsn = 0, begrun = 0, runlength = 0;
};
SnackReq decode_snack(Bhs bhs);

// ---- target → initiator: each writes a whole 48-byte BHS, DataSegmentLength included ----
using BhsOut = std::span<std::uint8_t, kBhsLength>;

struct SequenceNumbers {
  std::uint32_t statsn = 0, exp_cmdsn = 0, max_cmdsn = 0;
};

struct ScsiResponsePdu {
  std::uint8_t response = 0;  // 0 command completed at target
  std::uint8_t status = 0;
  bool overflow = false, underflow = false;
  std::uint32_t itt = 0, residual = 0, exp_datasn = 0;
  SequenceNumbers sn;
  std::uint32_t data_length = 0;  // sense (2-byte length prefix included)
};
void encode(const ScsiResponsePdu& p, BhsOut out);

struct DataInPdu {
  bool final = false, status_present = false, overflow = false, underflow = false;
  bool acknowledge = false;
  std::uint8_t status = 0;
  std::uint64_t lun = 0;
  std::uint32_t itt = 0, ttt = kReservedTag, datasn = 0, buffer_offset = 0, residual = 0;
  SequenceNumbers sn;  // statsn only meaningful with status_present
  std::uint32_t data_length = 0;
};
void encode(const DataInPdu& p, BhsOut out);

struct R2TPdu {
  std::uint64_t lun = 0;
  std::uint32_t itt = 0, ttt = 0, r2tsn = 0, buffer_offset = 0, desired_length = 0;
  SequenceNumbers sn;  // statsn: the next StatSN (not advanced)
};
void encode(const R2TPdu& p, BhsOut out);

struct NopInPdu {
  std::uint64_t lun = 0;
  std::uint32_t itt = kReservedTag, ttt = kReservedTag;
  SequenceNumbers sn;
  std::uint32_t data_length = 0;
};
void encode(const NopInPdu& p, BhsOut out);

struct TmfResponsePdu {
  std::uint8_t response = 0;
  std::uint32_t itt = 0;
  SequenceNumbers sn;
};
void encode(const TmfResponsePdu& p, BhsOut out);

struct LoginResponsePdu {
  bool transit = false, cont = false;
  std::uint8_t csg = 0, nsg = 0;
  std::array<std::uint8_t, 6> isid{};
  std::uint16_t tsih = 0;
  std::uint32_t itt = 0;
  SequenceNumbers sn;
  std::uint8_t status_class = 0, status_detail = 0;
  std::uint32_t data_length = 0;
};
void encode(const LoginResponsePdu& p, BhsOut out);

struct TextResponsePdu {
  bool final = false, cont = false;
  std::uint32_t itt = 0, ttt = kReservedTag;
  SequenceNumbers sn;
  std::uint32_t data_length = 0;
};
void encode(const TextResponsePdu& p, BhsOut out);

struct LogoutResponsePdu {
  std::uint8_t response = 0;  // 0 closed successfully, 1 CID not found, 3 cleanup failed
  std::uint32_t itt = 0;
  SequenceNumbers sn;
  std::uint16_t time2wait = 0, time2retain = 0;
};
void encode(const LogoutResponsePdu& p, BhsOut out);

// Reject: the data segment is the rejected PDU's 48-byte BHS.
struct RejectPdu {
  std::uint8_t reason = 0;
  SequenceNumbers sn;
  std::uint32_t datasn = 0;
};
void encode(const RejectPdu& p, BhsOut out);

struct AsyncMessagePdu {
  std::uint8_t event = 0;  // 1 target requests logout, 2 connection drop, 3 session drop
  std::uint64_t lun = 0;
  std::uint16_t param1 = 0, param2 = 0, param3 = 0;
  SequenceNumbers sn;
};
void encode(const AsyncMessagePdu& p, BhsOut out);

namespace reject_reason {
inline constexpr std::uint8_t kDataDigestError = 0x02;
inline constexpr std::uint8_t kSnackReject = 0x03;
inline constexpr std::uint8_t kProtocolError = 0x04;
inline constexpr std::uint8_t kCommandNotSupported = 0x05;
inline constexpr std::uint8_t kImmediateCommandReject = 0x06;
inline constexpr std::uint8_t kTaskInProgress = 0x07;
inline constexpr std::uint8_t kInvalidDataAck = 0x08;
inline constexpr std::uint8_t kInvalidPduField = 0x09;
inline constexpr std::uint8_t kOutOfResources = 0x0a;
inline constexpr std::uint8_t kWaitingForLogout = 0x0c;
}  // namespace reject_reason

}  // namespace maya::iscsi
