// One error→sense mapping (sense_for_error): a backend error becomes sense data by its cause
// alone — out of space is DATA PROTECT 07h/27h/07h, anything else MEDIUM ERROR with UNRECOVERED
// READ ERROR or WRITE ERROR — and every command family that reaches the backend answers through
// it: read_write, provisioning and device_commands.
#include <gtest/gtest.h>

#include <cerrno>
#include <functional>

#include "tests/scsi/disk_fixture.h"

namespace maya::scsi::test {
namespace {

using Fault = block::MemoryBackend::Fault;

const Error kIo{"injected", errno_code(EIO)};
const Error kFull{"injected", errno_code(ENOSPC)};

TEST(SenseForError, OutOfSpaceMapsToSpaceAllocationFailedAndOtherErrorsToMediumErrors) {
  const Error full{"writing x: No space left on device", errno_code(ENOSPC)};
  const Error quota{"writing x: Disk quota exceeded", errno_code(EDQUOT)};
  const Error io{"writing x: Input/output error", errno_code(EIO)};
  const Error plain{"no replica holds the data any more"};
  for (const Error& e : {full, quota}) {
    const auto wire = encode_fixed_sense(sense_for_error(e, IoKind::kWrite));
    EXPECT_EQ(wire[2], 0x07) << e.message;  // DATA PROTECT
    EXPECT_EQ(wire[12], 0x27) << e.message;
    EXPECT_EQ(wire[13], 0x07) << e.message;
    EXPECT_EQ(sense_for_error(e, IoKind::kRead).key, sense_key::kDataProtect) << e.message;
  }
  for (const Error& e : {io, plain}) {
    EXPECT_EQ(sense_for_error(e, IoKind::kWrite).key, sense_key::kMediumError) << e.message;
    EXPECT_EQ(sense_for_error(e, IoKind::kWrite).asc, asc::kWriteError) << e.message;
    EXPECT_EQ(sense_for_error(e, IoKind::kRead).key, sense_key::kMediumError) << e.message;
    EXPECT_EQ(sense_for_error(e, IoKind::kRead).asc, asc::kUnrecoveredReadError) << e.message;
  }
  // The cause survives context added on the way up.
  auto wrapped = fail("replica r1", full);
  EXPECT_TRUE(out_of_space(wrapped.error()));
  EXPECT_EQ(sense_for_error(wrapped.error(), IoKind::kWrite).key, sense_key::kDataProtect);
}

TEST(SenseForError, IoErrorIsCheckConditionWithThatSense) {
  for (const IoKind kind : {IoKind::kRead, IoKind::kWrite}) {
    for (const Error& e : {kIo, kFull}) {
      const TaskResult r = io_error(e, kind);
      EXPECT_EQ(r.status, status::kCheckCondition);
      EXPECT_EQ(r.sense, encode_fixed_sense(sense_for_error(e, kind)));
      EXPECT_TRUE(r.data_in.empty());
    }
  }
}

// A backend whose extent queries fail (GET LBA STATUS); the rest is the memory backend's.
class FailingExtents final : public block::BlockBackend {
 public:
  explicit FailingExtents(block::BlockBackend& inner) : inner_(inner) {}
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
  Result<block::Extent> extent_at(std::uint64_t) override { return std::unexpected(error); }
  Error error = kIo;

 private:
  block::BlockBackend& inner_;
};

class SenseMappingTest : public DiskTest {
 protected:
  // The answer must be exactly the mapping's for `cause` and `kind`.
  ::testing::AssertionResult Mapped(const TaskResult& r, const Error& cause, IoKind kind) {
    const Sense want = sense_for_error(cause, kind);
    if (r.status == status::kCheckCondition && r.sense == encode_fixed_sense(want)) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure()
           << HasSense(r, want.key, want.asc).failure_message() << " for " << cause.message;
  }
};

TEST_F(SenseMappingTest, ReadWriteFamily) {
  write_blocks(0, pattern(8 * kBlock, 1));
  backend->inject_fault(Fault::read, 0, 8 * kBlock);
  EXPECT_TRUE(Mapped(run(Cdb::read(10, 0, 1)), kIo, IoKind::kRead));
  EXPECT_TRUE(Mapped(run(Cdb::verify(10, 0, 1)), kIo, IoKind::kRead));
  EXPECT_TRUE(Mapped(run(Cdb::write_and_verify(10, 0, 1), pattern(kBlock, 2)), kIo, IoKind::kRead));
  EXPECT_TRUE(
      Mapped(run(Cdb::compare_and_write(0, 1), pattern(2 * kBlock, 3)), kIo, IoKind::kRead));
  backend->clear_faults();
  backend->inject_fault(Fault::write, 0, 8 * kBlock);
  EXPECT_TRUE(Mapped(run(Cdb::write(10, 0, 1), pattern(kBlock, 4)), kIo, IoKind::kWrite));
  EXPECT_TRUE(
      Mapped(run(Cdb::write_and_verify(10, 0, 1), pattern(kBlock, 5)), kIo, IoKind::kWrite));
  backend->clear_faults();
  // COMPARE AND WRITE: the block compares equal, then the write fails.
  std::vector<std::uint8_t> caw = read_blocks(0, 1);
  backend->inject_fault(Fault::no_space, 0, 8 * kBlock);
  EXPECT_TRUE(Mapped(run(Cdb::write(16, 0, 2), pattern(2 * kBlock, 6)), kFull, IoKind::kWrite));
  const auto again = pattern(kBlock, 7);
  caw.insert(caw.end(), again.begin(), again.end());
  EXPECT_TRUE(Mapped(run(Cdb::compare_and_write(0, 1), caw), kFull, IoKind::kWrite));
}

TEST_F(SenseMappingTest, ProvisioningFamily) {
  backend->inject_fault(Fault::discard, 0, 8 * kBlock);
  EXPECT_TRUE(Mapped(run(Cdb::unmap_cdb(24), unmap_params({{0, 1}})), kIo, IoKind::kWrite));
  EXPECT_TRUE(
      Mapped(run(Cdb::write_same(16, 0, 1).unmap(), pattern(kBlock, 0)), kIo, IoKind::kWrite));
  backend->clear_faults();
  backend->inject_fault(Fault::no_space, 0, 8 * kBlock);
  EXPECT_TRUE(Mapped(run(Cdb::write_same(10, 0, 4), pattern(kBlock, 1)), kFull, IoKind::kWrite));

  FailingExtents extents(*backend);
  disk = make_disk(extents, Identity{.serial = "SN0003", .naa = 0x6001405aabbccdfull});
  disk->nexus_added(a);
  run(Cdb::test_unit_ready(), {}, &a);
  EXPECT_TRUE(Mapped(run(Cdb::get_lba_status(0)), kIo, IoKind::kRead));
  EXPECT_TRUE(
      HasSense(run(Cdb::get_lba_status(0)), sense_key::kMediumError, asc::kUnrecoveredReadError))
      << "as before the one mapping";
  disk.reset();  // before `extents` goes
}

TEST_F(SenseMappingTest, DeviceCommandsFamily) {
  backend->inject_fault(Fault::flush);
  EXPECT_TRUE(Mapped(run(Cdb::synchronize_cache(10)), kIo, IoKind::kWrite));
  EXPECT_TRUE(Mapped(run(Cdb::synchronize_cache(16)), kIo, IoKind::kWrite));
  EXPECT_TRUE(Mapped(run(Cdb::start_stop_unit(0x00)), kIo, IoKind::kWrite));  // STOP flushes
  backend->clear_faults();
  backend->inject_fault(Fault::flush_no_space);
  EXPECT_TRUE(Mapped(run(Cdb::synchronize_cache(10)), kFull, IoKind::kWrite));
}

}  // namespace
}  // namespace maya::scsi::test
