// Readable CDB construction for the SCSI tests: named factories for each command with the
// fields a test usually varies, and chainable setters for flags and raw bytes, e.g.
//   Cdb::read(10, lba, 8).fua()      Cdb::write_same(16, lba, n).unmap()
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <vector>

#include "lib/common/endian.h"
#include "lib/scsi/opcodes.h"

namespace maya::scsi::test {

class Cdb {
 public:
  Cdb(std::size_t length, std::uint8_t opcode) : bytes_(length, 0) { bytes_[0] = opcode; }
  static Cdb raw(std::initializer_list<std::uint8_t> bytes) {
    Cdb c(bytes.size(), 0);
    c.bytes_.assign(bytes);
    return c;
  }

  Cdb& set(std::size_t at, std::uint8_t value) {
    bytes_.at(at) = value;
    return *this;
  }
  Cdb& bits(std::size_t at, std::uint8_t mask) {
    bytes_.at(at) |= mask;
    return *this;
  }
  Cdb& be16(std::size_t at, std::uint16_t v) {
    store_be16(&bytes_.at(at), v);
    return *this;
  }
  Cdb& be32(std::size_t at, std::uint32_t v) {
    store_be32(&bytes_.at(at), v);
    return *this;
  }
  Cdb& be64(std::size_t at, std::uint64_t v) {
    store_be64(&bytes_.at(at), v);
    return *this;
  }

  // Byte-1 flags of the block commands.
  Cdb& dpo() { return bits(1, 0x10); }
  Cdb& fua() { return bits(1, 0x08); }
  Cdb& protect(std::uint8_t v) { return bits(1, static_cast<std::uint8_t>(v << 5)); }
  Cdb& bytchk(std::uint8_t v) { return bits(1, static_cast<std::uint8_t>((v & 3) << 1)); }
  Cdb& anchor() { return bits(1, 0x10); }
  Cdb& unmap() { return bits(1, 0x08); }
  Cdb& ndob() { return bits(1, 0x01); }
  Cdb& naca() { return bits(bytes_.size() - 1, 0x04); }

  std::span<const std::uint8_t> span() const { return bytes_; }
  std::size_t size() const { return bytes_.size(); }

  static Cdb test_unit_ready() { return Cdb(6, op::kTestUnitReady); }
  static Cdb request_sense(std::uint8_t alloc = 252) {
    return Cdb(6, op::kRequestSense).set(4, alloc);
  }
  static Cdb inquiry(std::uint16_t alloc, bool evpd = false, std::uint8_t page = 0) {
    return Cdb(6, op::kInquiry).set(1, evpd ? 1 : 0).set(2, page).be16(3, alloc);
  }
  static Cdb report_luns(std::uint32_t alloc = 4096, std::uint8_t select = 0) {
    return Cdb(12, op::kReportLuns).set(2, select).be32(6, alloc);
  }
  static Cdb read_capacity10() { return Cdb(10, op::kReadCapacity10); }
  static Cdb read_capacity16(std::uint32_t alloc = 32) {
    return Cdb(16, op::kServiceActionIn16).set(1, op::kReadCapacity16).be32(10, alloc);
  }
  static Cdb start_stop_unit(std::uint8_t byte4) {
    return Cdb(6, op::kStartStopUnit).set(4, byte4);
  }

  // READ/WRITE/VERIFY/WRITE AND VERIFY in their 6/10/12/16-byte forms.
  static Cdb read(int size, std::uint64_t lba, std::uint32_t blocks) {
    return block(size,
                 size == 6    ? op::kRead6
                 : size == 10 ? op::kRead10
                 : size == 12 ? op::kRead12
                              : op::kRead16,
                 lba, blocks);
  }
  static Cdb write(int size, std::uint64_t lba, std::uint32_t blocks) {
    return block(size,
                 size == 6    ? op::kWrite6
                 : size == 10 ? op::kWrite10
                 : size == 12 ? op::kWrite12
                              : op::kWrite16,
                 lba, blocks);
  }
  static Cdb verify(int size, std::uint64_t lba, std::uint32_t blocks) {
    return block(size,
                 size == 10   ? op::kVerify10
                 : size == 12 ? op::kVerify12
                              : op::kVerify16,
                 lba, blocks);
  }
  static Cdb write_and_verify(int size, std::uint64_t lba, std::uint32_t blocks) {
    return block(size,
                 size == 10   ? op::kWriteAndVerify10
                 : size == 12 ? op::kWriteAndVerify12
                              : op::kWriteAndVerify16,
                 lba, blocks);
  }
  static Cdb compare_and_write(std::uint64_t lba, std::uint8_t blocks) {
    return Cdb(16, op::kCompareAndWrite).be64(2, lba).set(13, blocks);
  }
  static Cdb write_same(int size, std::uint64_t lba, std::uint32_t blocks) {
    if (size == 10) {
      return Cdb(10, op::kWriteSame10)
          .be32(2, static_cast<std::uint32_t>(lba))
          .be16(7, static_cast<std::uint16_t>(blocks));
    }
    return Cdb(16, op::kWriteSame16).be64(2, lba).be32(10, blocks);
  }
  static Cdb unmap_cdb(std::uint16_t list_length) {
    return Cdb(10, op::kUnmap).be16(7, list_length);
  }
  static Cdb get_lba_status(std::uint64_t lba, std::uint32_t alloc = 24) {
    return Cdb(16, op::kServiceActionIn16).set(1, op::kGetLbaStatus).be64(2, lba).be32(10, alloc);
  }
  static Cdb synchronize_cache(int size, std::uint64_t lba = 0, std::uint32_t blocks = 0) {
    if (size == 10) {
      return Cdb(10, op::kSynchronizeCache10)
          .be32(2, static_cast<std::uint32_t>(lba))
          .be16(7, static_cast<std::uint16_t>(blocks));
    }
    return Cdb(16, op::kSynchronizeCache16).be64(2, lba).be32(10, blocks);
  }
  static Cdb pre_fetch(int size, std::uint64_t lba, std::uint32_t blocks) {
    if (size == 10) {
      return Cdb(10, op::kPreFetch10)
          .be32(2, static_cast<std::uint32_t>(lba))
          .be16(7, static_cast<std::uint16_t>(blocks));
    }
    return Cdb(16, op::kPreFetch16).be64(2, lba).be32(10, blocks);
  }
  static Cdb mode_sense6(std::uint8_t page, std::uint8_t alloc = 255, std::uint8_t pc = 0) {
    return Cdb(6, op::kModeSense6).set(2, static_cast<std::uint8_t>(pc << 6 | page)).set(4, alloc);
  }
  static Cdb mode_sense10(std::uint8_t page, std::uint16_t alloc = 1024, std::uint8_t pc = 0) {
    return Cdb(10, op::kModeSense10)
        .set(2, static_cast<std::uint8_t>(pc << 6 | page))
        .be16(7, alloc);
  }
  static Cdb mode_select6(std::uint8_t length) {
    return Cdb(6, op::kModeSelect6).set(1, 0x10).set(4, length);
  }
  static Cdb mode_select10(std::uint16_t length) {
    return Cdb(10, op::kModeSelect10).set(1, 0x10).be16(7, length);
  }
  static Cdb reserve6() { return Cdb(6, op::kReserve6); }
  static Cdb release6() { return Cdb(6, op::kRelease6); }
  static Cdb reserve10() { return Cdb(10, op::kReserve10); }
  static Cdb release10() { return Cdb(10, op::kRelease10); }
  static Cdb pr_in(std::uint8_t service_action, std::uint16_t alloc = 8192) {
    return Cdb(10, op::kPersistentReserveIn).set(1, service_action).be16(7, alloc);
  }
  static Cdb pr_out(std::uint8_t service_action, std::uint8_t type = 0, std::uint32_t length = 24) {
    return Cdb(10, op::kPersistentReserveOut).set(1, service_action).set(2, type).be32(5, length);
  }
  static Cdb report_supported_opcodes(std::uint8_t options = 0, std::uint8_t opcode = 0,
                                      std::uint16_t sa = 0, std::uint32_t alloc = 65535) {
    return Cdb(12, op::kMaintenanceIn)
        .set(1, op::kReportSupportedOpcodes)
        .set(2, options)
        .set(3, opcode)
        .be16(4, sa)
        .be32(6, alloc);
  }

 private:
  static Cdb block(int size, std::uint8_t opcode, std::uint64_t lba, std::uint32_t blocks) {
    Cdb c(static_cast<std::size_t>(size), opcode);
    switch (size) {
      case 6:
        c.set(1, static_cast<std::uint8_t>((lba >> 16) & 0x1f))
            .be16(2, static_cast<std::uint16_t>(lba))
            .set(4, static_cast<std::uint8_t>(blocks));
        break;
      case 10:
        c.be32(2, static_cast<std::uint32_t>(lba)).be16(7, static_cast<std::uint16_t>(blocks));
        break;
      case 12:
        c.be32(2, static_cast<std::uint32_t>(lba)).be32(6, blocks);
        break;
      default:
        c.be64(2, lba).be32(10, blocks);
    }
    return c;
  }

  std::vector<std::uint8_t> bytes_;
};

// Parameter data for PERSISTENT RESERVE OUT (the 24-byte basic list).
inline std::vector<std::uint8_t> prout_params(std::uint64_t key, std::uint64_t sa_key,
                                              std::uint8_t flags = 0) {
  std::vector<std::uint8_t> p(24, 0);
  store_be64(&p[0], key);
  store_be64(&p[8], sa_key);
  p[20] = flags;
  return p;
}

// Parameter data for UNMAP: one 16-byte descriptor per (lba, blocks).
inline std::vector<std::uint8_t> unmap_params(
    std::initializer_list<std::pair<std::uint64_t, std::uint32_t>> ranges) {
  std::vector<std::uint8_t> p(8 + 16 * ranges.size(), 0);
  store_be16(&p[0], static_cast<std::uint16_t>(p.size() - 2));
  store_be16(&p[2], static_cast<std::uint16_t>(p.size() - 8));
  std::size_t at = 8;
  for (auto [lba, blocks] : ranges) {
    store_be64(&p[at], lba);
    store_be32(&p[at + 8], blocks);
    at += 16;
  }
  return p;
}

}  // namespace maya::scsi::test
