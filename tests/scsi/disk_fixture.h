// Test fixture for the SCSI disk: a MemoryBackend (8 MiB, 512-byte blocks, thin unless a test
// says otherwise), a disk on it, two I_T nexuses (A and B, both logged in with their power-on
// unit attention already cleared), and assertions on status and sense data.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "lib/scsi/scsi_disk.h"
#include "lib/scsi/sense.h"
#include "tests/scsi/cdb_builder.h"
#include "tests/support/memory_backend.h"

namespace maya::scsi::test {

// Decoded fixed-format sense.
struct SenseView {
  std::uint8_t key = 0;
  std::uint8_t asc = 0;
  std::uint8_t ascq = 0;
  bool valid = false;
  std::uint32_t information = 0;
  bool sksv = false;
  bool in_cdb = false;
  std::uint16_t field = 0;
};

inline SenseView parse_sense(const std::vector<std::uint8_t>& s) {
  SenseView v;
  if (s.size() < 18) return v;
  v.key = s[2] & 0x0f;
  v.asc = s[12];
  v.ascq = s[13];
  v.valid = s[0] & 0x80;
  v.information = load_be32(&s[3]);
  v.sksv = s[15] & 0x80;
  v.in_cdb = s[15] & 0x40;
  v.field = load_be16(&s[16]);
  return v;
}

inline ::testing::AssertionResult IsGood(const TaskResult& r) {
  if (r.status == status::kGood) return ::testing::AssertionSuccess();
  const SenseView s = parse_sense(r.sense);
  char text[96];
  std::snprintf(text, sizeof text, "status %02xh, sense key %xh, ASC/ASCQ %02xh/%02xh", r.status,
                s.key, s.asc, s.ascq);
  return ::testing::AssertionFailure() << text;
}

inline ::testing::AssertionResult HasSense(const TaskResult& r, std::uint8_t key, Asc asc) {
  const SenseView s = parse_sense(r.sense);
  char text[128];
  std::snprintf(text, sizeof text,
                "status %02xh, sense key %xh, ASC/ASCQ %02xh/%02xh (want CHECK CONDITION, %xh, "
                "%02xh/%02xh)",
                r.status, s.key, s.asc, s.ascq, key, asc.code, asc.qualifier);
  if (r.status == status::kCheckCondition && s.key == key && s.asc == asc.code &&
      s.ascq == asc.qualifier) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << text;
}

inline ::testing::AssertionResult IsConflict(const TaskResult& r) {
  if (r.status == status::kReservationConflict) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "status " << int(r.status) << ", want RESERVATION CONFLICT";
}

inline std::vector<std::uint8_t> pattern(std::size_t size, std::uint8_t seed) {
  std::vector<std::uint8_t> v(size);
  for (std::size_t i = 0; i < size; ++i) v[i] = static_cast<std::uint8_t>(seed + i * 7);
  return v;
}

class DiskTest : public ::testing::Test {
 protected:
  static constexpr std::uint32_t kBlock = 512;

  DiskTest() { make(block::MemoryBackendOptions{.size = 8ull << 20}); }

  // Replaces the backend and disk (e.g. for a non-thin or a huge disk).
  void make(const block::MemoryBackendOptions& options) {
    disk.reset();
    backend = std::make_unique<block::MemoryBackend>(options);
    disk = make_disk(*backend, Identity{.serial = "SN0001", .naa = 0x6001405aabbccddull});
    disk->nexus_added(a);
    disk->nexus_added(b);
    run(Cdb::test_unit_ready(), {}, &a);
    run(Cdb::test_unit_ready(), {}, &b);
  }

  std::uint64_t blocks() const { return backend->size_bytes() / kBlock; }

  TaskResult run(const Cdb& cdb, std::span<const std::uint8_t> data_out = {},
                 const Nexus* nexus = nullptr, std::uint64_t lun = 0) {
    Task task;
    task.cdb = cdb.span();
    task.data_out = data_out;
    task.lun = lun;
    task.nexus = nexus != nullptr ? nexus : &a;
    return disk->execute(task);
  }

  // Writes `data` at `lba` with WRITE(16) and asserts success.
  void write_blocks(std::uint64_t lba, const std::vector<std::uint8_t>& data,
                    const Nexus* nexus = nullptr) {
    ASSERT_TRUE(IsGood(
        run(Cdb::write(16, lba, static_cast<std::uint32_t>(data.size() / kBlock)), data, nexus)));
  }
  std::vector<std::uint8_t> read_blocks(std::uint64_t lba, std::uint32_t count) {
    TaskResult r = run(Cdb::read(16, lba, count));
    EXPECT_TRUE(IsGood(r));
    return r.data_in;
  }

  Nexus a{"iqn.2026-01.test:host-a,i,0x23d000000001", "iqn.2026-11.io.maya:vol,t,0x0001", 1};
  Nexus b{"iqn.2026-01.test:host-b,i,0x23d000000002", "iqn.2026-11.io.maya:vol,t,0x0001", 1};
  std::unique_ptr<block::MemoryBackend> backend;
  std::unique_ptr<ScsiDisk> disk;
};

}  // namespace maya::scsi::test
