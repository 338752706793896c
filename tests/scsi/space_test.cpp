// Out of space is not a medium failure (issue 10, SBC-4 thin provisioning): a write that fails
// for lack of space answers DATA PROTECT, SPACE ALLOCATION FAILED WRITE PROTECT (07h/27h/07h),
// reads go on, and writes work again once space is back. The cause travels as errno from a
// real file system: FileBackend on a 1 MiB tmpfs (root: mount(2); skipped, saying why, without).
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

#include "lib/block/file_backend.h"
#include "tests/scsi/disk_fixture.h"

namespace maya::scsi::test {
namespace {

namespace fs = std::filesystem;
using Fault = block::MemoryBackend::Fault;

class SpaceDiskTest : public DiskTest {};

TEST_F(SpaceDiskTest, AWriteOnAFullStoreIsDataProtectAndReadsGoOn) {
  const auto first = pattern(64 * kBlock, 1);
  write_blocks(0, first);
  backend->inject_fault(Fault::no_space, 1 << 20);
  const auto more = pattern(4096 * kBlock, 2);  // 2 MiB from 512 KiB: runs into the full part
  TaskResult r = run(Cdb::write(16, 1024, 4096), more);
  EXPECT_TRUE(HasSense(r, sense_key::kDataProtect, asc::kSpaceAllocationFailedWriteProtect));
  EXPECT_TRUE(HasSense(run(Cdb::write(10, 4096, 8), pattern(8 * kBlock, 3)),
                       sense_key::kDataProtect, asc::kSpaceAllocationFailedWriteProtect));
  EXPECT_TRUE(HasSense(run(Cdb::write_same(16, 4096, 8), pattern(kBlock, 4)),
                       sense_key::kDataProtect, asc::kSpaceAllocationFailedWriteProtect));
  EXPECT_EQ(read_blocks(0, 64), first);
  backend->clear_faults();  // space freed
  write_blocks(4096, pattern(8 * kBlock, 5));
  EXPECT_EQ(read_blocks(4096, 8), pattern(8 * kBlock, 5));
}

TEST_F(SpaceDiskTest, AnIoErrorStaysAMediumError) {
  backend->inject_fault(Fault::write, 0, kBlock);
  EXPECT_TRUE(HasSense(run(Cdb::write(10, 0, 1), pattern(kBlock, 6)), sense_key::kMediumError,
                       asc::kWriteError));
}

// A backend whose store crossed the soft threshold `events` times (what the replicator reports).
class ThresholdBackend final : public block::BlockBackend {
 public:
  explicit ThresholdBackend(block::BlockBackend& inner) : inner_(inner) {}
  std::uint64_t size_bytes() const override { return inner_.size_bytes(); }
  std::uint32_t block_size() const override { return inner_.block_size(); }
  bool thin() const override { return inner_.thin(); }
  bool discard_zeroes() const override { return inner_.discard_zeroes(); }
  Result<void> read(std::uint64_t o, std::span<std::byte> out) override {
    return inner_.read(o, out);
  }
  Result<void> write(std::uint64_t o, std::span<const std::byte> d, bool fua) override {
    return inner_.write(o, d, fua);
  }
  Result<void> flush() override { return inner_.flush(); }
  Result<void> discard(std::uint64_t o, std::uint64_t n) override { return inner_.discard(o, n); }
  Result<block::Extent> extent_at(std::uint64_t o) override { return inner_.extent_at(o); }
  std::uint64_t soft_threshold_events() const override { return events; }
  std::atomic<std::uint64_t> events{0};

 private:
  block::BlockBackend& inner_;
};

class SoftThresholdTest : public DiskTest {
 protected:
  SoftThresholdTest() : threshold(*backend) {
    disk = make_disk(threshold, Identity{.serial = "SN0002", .naa = 0x6001405aabbccdeull});
    disk->nexus_added(a);
    disk->nexus_added(b);
    run(Cdb::test_unit_ready(), {}, &a);
    run(Cdb::test_unit_ready(), {}, &b);
  }
  ThresholdBackend threshold;
};

TEST_F(SoftThresholdTest, EveryNexusHearsTheSoftThresholdOnceACrossing) {
  EXPECT_TRUE(IsGood(run(Cdb::test_unit_ready(), {}, &a)));
  threshold.events = 1;
  for (const Nexus* n : {&a, &b}) {
    TaskResult r = run(Cdb::test_unit_ready(), {}, n);
    EXPECT_TRUE(HasSense(r, sense_key::kUnitAttention, asc::kThinProvisioningSoftThresholdReached));
    EXPECT_EQ(r.sense[2], 0x06);
    EXPECT_EQ(r.sense[12], 0x38);
    EXPECT_EQ(r.sense[13], 0x07);
    EXPECT_TRUE(IsGood(run(Cdb::test_unit_ready(), {}, n))) << "once";
  }
  threshold.events = 2;  // freed, then past the threshold again
  EXPECT_TRUE(HasSense(run(Cdb::test_unit_ready(), {}, &a), sense_key::kUnitAttention,
                       asc::kThinProvisioningSoftThresholdReached));
  EXPECT_TRUE(IsGood(run(Cdb::test_unit_ready(), {}, &a)));
}

// A real file system that fills up: the errno (ENOSPC) reaches the caller as the error's code.
TEST(FileBackendSpace, ENOSPCFromATinyTmpfsIsCarriedAsTheCause) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a 1 MiB tmpfs needs root";
  std::random_device rd;
  const fs::path dir = fs::temp_directory_path() / ("maya-space-" + std::to_string(rd()));
  fs::create_directories(dir);
  if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=1m") != 0) {
    fs::remove_all(dir);
    GTEST_SKIP() << "cannot mount a tmpfs: " << std::strerror(errno);
  }
  {
    auto b = block::FileBackend::open(dir / "disk.img", {.size = 8u << 20, .create = true});
    ASSERT_TRUE(b) << b.error().message;
    std::vector<std::byte> data(2u << 20, std::byte{0x5a});
    auto put = (*b)->write(0, data, false);
    ASSERT_FALSE(put);
    EXPECT_EQ(put.error().code, std::errc::no_space_on_device) << put.error().message;
    EXPECT_TRUE(out_of_space(put.error()));
    EXPECT_NE(put.error().message.find("No space left"), std::string::npos);
    EXPECT_TRUE(HasSense(io_error(put.error(), IoKind::kWrite), sense_key::kDataProtect,
                         asc::kSpaceAllocationFailedWriteProtect));
    std::vector<std::byte> back(4096);
    EXPECT_TRUE((*b)->read(0, back)) << "reads go on";
    ASSERT_TRUE((*b)->discard(0, 8u << 20));  // space freed
    EXPECT_TRUE((*b)->write(0, std::span(data).first(512u << 10), false));
  }
  ::umount2(dir.c_str(), MNT_DETACH);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace maya::scsi::test
