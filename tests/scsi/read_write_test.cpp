// READ, WRITE, VERIFY and WRITE AND VERIFY: CDB forms, boundary LBAs, zero lengths, protection
// fields, FUA, short Data-Out, medium errors and BYTCHK miscompares.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/scsi/disk_fixture.h"

namespace maya::scsi::test {
namespace {

class ReadWriteTest : public DiskTest, public ::testing::WithParamInterface<int> {};

TEST_P(ReadWriteTest, WrittenBlocksReadBack) {
  const int size = GetParam();
  const auto data = pattern(3 * kBlock, static_cast<std::uint8_t>(size));
  ASSERT_TRUE(IsGood(run(Cdb::write(size, 100, 3), data)));
  TaskResult r = run(Cdb::read(size, 100, 3));
  ASSERT_TRUE(IsGood(r));
  EXPECT_EQ(r.data_in, data);
}

TEST_P(ReadWriteTest, LastBlockWorksAndOnePastIsOutOfRange) {
  const int size = GetParam();
  const std::uint64_t last = blocks() - 1;
  const auto data = pattern(kBlock, 9);
  ASSERT_TRUE(IsGood(run(Cdb::write(size, last, 1), data)));
  EXPECT_EQ(run(Cdb::read(size, last, 1)).data_in, data);
  EXPECT_TRUE(
      HasSense(run(Cdb::read(size, last, 2)), sense_key::kIllegalRequest, asc::kLbaOutOfRange));
  EXPECT_TRUE(HasSense(run(Cdb::write(size, last + 1, 1), data), sense_key::kIllegalRequest,
                       asc::kLbaOutOfRange));
}

INSTANTIATE_TEST_SUITE_P(AllForms, ReadWriteTest, ::testing::Values(6, 10, 12, 16));

// The forms with a protection field and where transfer length 0 means nothing.
class ReadWrite10To16Test : public ReadWriteTest {};

TEST_P(ReadWrite10To16Test, ZeroLengthReadsNothingButChecksTheLba) {
  const int size = GetParam();
  TaskResult r = run(Cdb::read(size, 0, 0));
  ASSERT_TRUE(IsGood(r));
  EXPECT_TRUE(r.data_in.empty());
  EXPECT_TRUE(IsGood(run(Cdb::write(size, 7, 0))));
  EXPECT_TRUE(HasSense(run(Cdb::read(size, blocks() + 1, 0)), sense_key::kIllegalRequest,
                       asc::kLbaOutOfRange));
  EXPECT_TRUE(HasSense(run(Cdb::read(size, 0xffffffffu, 0)), sense_key::kIllegalRequest,
                       asc::kLbaOutOfRange));
}

TEST_P(ReadWrite10To16Test, ProtectionFieldIsRefused) {
  const int size = GetParam();
  for (std::uint8_t protect = 1; protect < 8; ++protect) {
    TaskResult r = run(Cdb::read(size, 0, 1).protect(protect));
    ASSERT_TRUE(HasSense(r, sense_key::kIllegalRequest, asc::kInvalidFieldInCdb));
    EXPECT_EQ(parse_sense(r.sense).field, 1);
    EXPECT_TRUE(HasSense(run(Cdb::write(size, 0, 1).protect(protect), pattern(kBlock, 1)),
                         sense_key::kIllegalRequest, asc::kInvalidFieldInCdb));
  }
}

INSTANTIATE_TEST_SUITE_P(LongForms, ReadWrite10To16Test, ::testing::Values(10, 12, 16));

class DataPathTest : public DiskTest {};

TEST_F(DataPathTest, Read6TransferLengthZeroMeans256Blocks) {
  TaskResult r = run(Cdb::read(6, 0, 0));
  ASSERT_TRUE(IsGood(r));
  EXPECT_EQ(r.data_in.size(), 256u * kBlock);
}

TEST_F(DataPathTest, Lba64BitBeyondTheEndIsOutOfRange) {
  EXPECT_TRUE(
      HasSense(run(Cdb::read(16, ~0ull, 1)), sense_key::kIllegalRequest, asc::kLbaOutOfRange));
  EXPECT_TRUE(
      HasSense(run(Cdb::read(16, 1ull << 63, 1)), sense_key::kIllegalRequest, asc::kLbaOutOfRange));
}

TEST_F(DataPathTest, FuaWritesThroughAndDpoIsAccepted) {
  ASSERT_TRUE(IsGood(run(Cdb::write(10, 0, 1).fua().dpo(), pattern(kBlock, 1))));
  EXPECT_EQ(backend->fua_writes(), 1u);
  ASSERT_TRUE(IsGood(run(Cdb::write(10, 0, 1), pattern(kBlock, 1))));
  EXPECT_EQ(backend->fua_writes(), 1u);
  EXPECT_TRUE(IsGood(run(Cdb::read(10, 0, 1).fua().dpo())));
}

TEST_F(DataPathTest, ShortDataOutWritesWholeBlocksAndMergesAPartialOne) {
  write_blocks(0, std::vector<std::uint8_t>(3 * kBlock, 'a'));
  // Transfer length 3 but only 1.5 blocks of data arrived (iSCSI EDTL < transfer length).
  const std::vector<std::uint8_t> b(kBlock + kBlock / 2, 'b');
  ASSERT_TRUE(IsGood(run(Cdb::write(10, 0, 3), b)));
  const auto now = read_blocks(0, 3);
  EXPECT_TRUE(std::all_of(now.begin(), now.begin() + kBlock + kBlock / 2,
                          [](std::uint8_t c) { return c == 'b'; }));
  EXPECT_TRUE(std::all_of(now.begin() + kBlock + kBlock / 2, now.end(),
                          [](std::uint8_t c) { return c == 'a'; }));
  // No data at all: nothing is written, and that is no error.
  ASSERT_TRUE(IsGood(run(Cdb::write(10, 2, 1))));
  EXPECT_EQ(read_blocks(2, 1), std::vector<std::uint8_t>(kBlock, 'a'));
}

TEST_F(DataPathTest, LongDataOutWritesOnlyTheTransferLength) {
  write_blocks(0, std::vector<std::uint8_t>(2 * kBlock, 'a'));
  ASSERT_TRUE(IsGood(run(Cdb::write(10, 0, 1), std::vector<std::uint8_t>(2 * kBlock, 'b'))));
  EXPECT_EQ(read_blocks(1, 1), std::vector<std::uint8_t>(kBlock, 'a'));
}

TEST_F(DataPathTest, ReadFailureIsMediumErrorUnrecoveredRead) {
  backend->inject_fault(block::MemoryBackend::Fault::read, 10 * kBlock, kBlock);
  EXPECT_TRUE(IsGood(run(Cdb::read(10, 9, 1))));
  TaskResult r = run(Cdb::read(10, 8, 4));
  EXPECT_TRUE(HasSense(r, sense_key::kMediumError, asc::kUnrecoveredReadError));
  EXPECT_TRUE(r.data_in.empty());
}

TEST_F(DataPathTest, WriteFailureIsMediumErrorWriteError) {
  backend->inject_fault(block::MemoryBackend::Fault::write);
  EXPECT_TRUE(HasSense(run(Cdb::write(16, 0, 1), pattern(kBlock, 1)), sense_key::kMediumError,
                       asc::kWriteError));
}

TEST_F(DataPathTest, VerifyWithoutBytchkChecksTheMedium) {
  EXPECT_TRUE(IsGood(run(Cdb::verify(10, 0, 16))));
  EXPECT_TRUE(IsGood(run(Cdb::verify(16, 0, 0))));
  backend->inject_fault(block::MemoryBackend::Fault::read, 5 * kBlock, kBlock);
  EXPECT_TRUE(
      HasSense(run(Cdb::verify(12, 0, 16)), sense_key::kMediumError, asc::kUnrecoveredReadError));
}

TEST_F(DataPathTest, VerifyBytchkComparesAndReportsTheMiscompareOffset) {
  auto data = pattern(4 * kBlock, 3);
  write_blocks(40, data);
  EXPECT_TRUE(IsGood(run(Cdb::verify(10, 40, 4).bytchk(1), data)));
  data[2 * kBlock + 17] ^= 0xff;
  TaskResult r = run(Cdb::verify(16, 40, 4).bytchk(1), data);
  ASSERT_TRUE(HasSense(r, sense_key::kMiscompare, asc::kMiscompareDuringVerify));
  const SenseView s = parse_sense(r.sense);
  EXPECT_TRUE(s.valid);
  EXPECT_EQ(s.information, 2 * kBlock + 17);
}

TEST_F(DataPathTest, VerifyBytchkThreeComparesOneBlockAgainstEach) {
  const auto block = pattern(kBlock, 5);
  for (int i = 0; i < 3; ++i) write_blocks(60 + i, block);
  EXPECT_TRUE(IsGood(run(Cdb::verify(16, 60, 3).bytchk(3), block)));
  write_blocks(62, pattern(kBlock, 6));
  TaskResult r = run(Cdb::verify(16, 60, 3).bytchk(3), block);
  ASSERT_TRUE(HasSense(r, sense_key::kMiscompare, asc::kMiscompareDuringVerify));
  EXPECT_GE(parse_sense(r.sense).information, 2 * kBlock);
}

TEST_F(DataPathTest, VerifyRefusesProtectionReservedBytchkAndMissingData) {
  EXPECT_TRUE(HasSense(run(Cdb::verify(10, 0, 1).protect(1)), sense_key::kIllegalRequest,
                       asc::kInvalidFieldInCdb));
  EXPECT_TRUE(HasSense(run(Cdb::verify(10, 0, 1).bytchk(2)), sense_key::kIllegalRequest,
                       asc::kInvalidFieldInCdb));
  EXPECT_TRUE(HasSense(run(Cdb::verify(10, 0, 2).bytchk(1), pattern(kBlock, 1)),
                       sense_key::kIllegalRequest, asc::kInvalidFieldInCommandIu));
  EXPECT_TRUE(
      HasSense(run(Cdb::verify(10, blocks(), 1)), sense_key::kIllegalRequest, asc::kLbaOutOfRange));
}

TEST_F(DataPathTest, WriteAndVerifyWritesThroughAndChecks) {
  const auto data = pattern(2 * kBlock, 8);
  ASSERT_TRUE(IsGood(run(Cdb::write_and_verify(10, 5, 2).bytchk(1), data)));
  EXPECT_EQ(read_blocks(5, 2), data);
  EXPECT_EQ(backend->fua_writes(), 1u);
  ASSERT_TRUE(IsGood(run(Cdb::write_and_verify(16, 5, 2), data)));
  EXPECT_TRUE(IsGood(run(Cdb::write_and_verify(12, 0, 0))));
  EXPECT_TRUE(HasSense(run(Cdb::write_and_verify(10, 0, 1).protect(2), data),
                       sense_key::kIllegalRequest, asc::kInvalidFieldInCdb));
  EXPECT_TRUE(HasSense(run(Cdb::write_and_verify(10, blocks() - 1, 2), data),
                       sense_key::kIllegalRequest, asc::kLbaOutOfRange));
}

TEST_F(DataPathTest, WriteAndVerifyWithShortDataOutChecksWhatArrived) {
  write_blocks(20, std::vector<std::uint8_t>(2 * kBlock, 'a'));
  const std::vector<std::uint8_t> half_and_one(kBlock + kBlock / 2, 'b');
  ASSERT_TRUE(IsGood(run(Cdb::write_and_verify(10, 20, 2).bytchk(1), half_and_one)));
  const auto now = read_blocks(20, 2);
  EXPECT_EQ(now[kBlock + kBlock / 2 - 1], 'b');
  EXPECT_EQ(now[kBlock + kBlock / 2], 'a');
}

TEST_F(DataPathTest, WriteCacheDisabledMakesEveryWriteFua) {
  // Caching mode page with WCE cleared.
  std::vector<std::uint8_t> select(4 + 20, 0);
  select[4] = 0x08;
  select[5] = 0x12;
  ASSERT_TRUE(IsGood(run(Cdb::mode_select6(static_cast<std::uint8_t>(select.size())), select)));
  ASSERT_TRUE(IsGood(run(Cdb::write(10, 0, 1), pattern(kBlock, 1))));
  EXPECT_EQ(backend->fua_writes(), 1u);
}

}  // namespace
}  // namespace maya::scsi::test
