// A minimal hand-written iSCSI initiator for loopback tests: builds initiator PDUs byte by byte
// (independently of lib/iscsi's encoders), logs in, runs SCSI commands with immediate data and
// R2T-driven Data-Out, pings, and logs out. Also sends raw bytes for robustness tests.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "lib/common/fd.h"

namespace maya::iscsi::testing {

using Bytes = std::vector<std::uint8_t>;
using Header = std::array<std::uint8_t, 48>;

struct RxPdu {
  Header bhs{};
  Bytes data;
  std::uint8_t opcode() const { return bhs[0] & 0x3f; }
  std::uint32_t u32(std::size_t at) const;
};

struct ScsiReply {
  std::uint8_t status = 0xff;
  Bytes data;   // Data-In, reassembled by buffer offset
  Bytes sense;  // without the 2-byte length
  bool overflow = false, underflow = false;
  std::uint32_t residual = 0;
  int data_in_pdus = 0, r2ts = 0;
};

class MiniInitiator {
 public:
  // `source`: the local address to connect from (e.g. another 127.0.0.x), or any.
  static std::optional<MiniInitiator> connect(std::uint16_t port, const char* host = "127.0.0.1",
                                              const char* source = nullptr);

  bool send_raw(std::span<const std::uint8_t> bytes);
  bool send(const Header& bhs, std::span<const std::uint8_t> data = {});
  std::optional<RxPdu> receive(int timeout_ms = 5000);
  // True when the target closed the connection (EOF or reset) within the timeout.
  bool closed_by_peer(int timeout_ms = 5000);

  // One login request; returns the response.
  std::optional<RxPdu> login_step(std::uint8_t csg, std::uint8_t nsg, bool transit,
                                  const std::vector<std::pair<std::string, std::string>>& keys);
  // Security-free login straight to full feature phase with our fast keys; status 0 on success.
  std::optional<std::uint16_t> login(const std::string& target,
                                     const std::string& initiator = "iqn.2026-11.io.maya:test-init",
                                     bool discovery = false);

  // A SCSI command: `write` sends `data_out` (immediate up to `immediate` bytes, then answers
  // R2Ts); reads collect Data-In up to `edtl`.
  std::optional<ScsiReply> command(std::span<const std::uint8_t> cdb, std::uint32_t edtl, bool read,
                                   bool write, std::span<const std::uint8_t> data_out = {},
                                   std::uint32_t immediate = 0, std::uint64_t lun = 0);
  std::optional<RxPdu> nop(std::span<const std::uint8_t> ping = {});
  std::optional<RxPdu> logout(std::uint8_t reason = 0);
  std::optional<RxPdu> text(const std::string& kvs);  // kvs joined by '\0'

  std::uint32_t next_itt() { return itt_++; }
  std::uint32_t cmdsn() const { return cmdsn_; }
  void set_cmdsn(std::uint32_t v) { cmdsn_ = v; }
  std::uint32_t exp_statsn() const { return exp_statsn_; }
  std::uint32_t max_cmdsn() const { return max_cmdsn_; }
  std::uint16_t tsih() const { return tsih_; }
  void set_tsih(std::uint16_t tsih) { tsih_ = tsih; }
  std::array<std::uint8_t, 6> isid{0x80, 0x12, 0x34, 0x56, 0x00, 0x01};
  int fd() const { return fd_.get(); }

  // Raw BHS builders.
  Header scsi_command_bhs(std::span<const std::uint8_t> cdb, std::uint32_t edtl, bool read,
                          bool write, bool final, std::uint32_t itt, std::uint32_t data_length,
                          std::uint64_t lun = 0);
  static Header data_out_bhs(std::uint32_t itt, std::uint32_t ttt, std::uint32_t datasn,
                             std::uint32_t offset, std::uint32_t length, bool final);

 private:
  explicit MiniInitiator(Fd fd) : fd_(std::move(fd)) {}
  void track(const RxPdu& pdu);

  Fd fd_;
  std::uint32_t itt_ = 1, cmdsn_ = 1, exp_statsn_ = 0, max_cmdsn_ = 1;
  std::uint16_t tsih_ = 0;
};

// The CDB of READ(10) (op 0x28) or WRITE(10) (op 0x2a).
inline std::array<std::uint8_t, 10> rw10(std::uint8_t op, std::uint32_t lba, std::uint16_t blocks) {
  return {op,
          0,
          static_cast<std::uint8_t>(lba >> 24),
          static_cast<std::uint8_t>(lba >> 16),
          static_cast<std::uint8_t>(lba >> 8),
          static_cast<std::uint8_t>(lba),
          0,
          static_cast<std::uint8_t>(blocks >> 8),
          static_cast<std::uint8_t>(blocks),
          0};
}

}  // namespace maya::iscsi::testing
