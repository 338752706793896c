// The transfer against the transport's expected one (transfer.h): the plan for READ and WRITE
// when the EDTL and the CDB disagree, the residual and Data-In cut to the EDTL, and the same
// through the disk. These are the answers lib/iscsi gave on the wire before the SCSI layer took
// them over; the Loopback tests check them end to end.
#include <gtest/gtest.h>

#include <array>

#include "lib/scsi/cdb.h"
#include "lib/scsi/lun.h"
#include "lib/scsi/transfer.h"
#include "tests/scsi/disk_fixture.h"

namespace maya::scsi::test {
namespace {

constexpr Residual kNoResidual{};

Residual overflow(std::uint32_t n) {
  return {Residual::Kind::kOverflow, n};
}
Residual underflow(std::uint32_t n) {
  return {Residual::Kind::kUnderflow, n};
}

Task task_for(const Cdb& cdb, std::span<const std::uint8_t> data_out,
              std::optional<ExpectedTransfer> expected) {
  Task t;
  t.cdb = cdb.span();
  t.data_out = data_out;
  t.expected = expected;
  return t;
}

ExpectedTransfer writes(std::uint32_t length) {
  return {Direction::kWrite, length};
}
ExpectedTransfer reads(std::uint32_t length) {
  return {Direction::kRead, length};
}

TEST(TransferPlan, WithoutAnExpectedTransferDataOutStaysAsItIs) {
  const std::vector<std::uint8_t> data(700, 1);
  const Cdb cdb = Cdb::write(10, 0, 3);
  const TransferPlan plan = plan_transfer(task_for(cdb, data, {}), BlockTransfer::kOut, 512);
  EXPECT_EQ(plan.data_out.size(), 700u);
  EXPECT_FALSE(plan.blocks);
  EXPECT_FALSE(plan.answer_good);
  EXPECT_EQ(plan.residual, kNoResidual);
}

TEST(TransferPlan, OtherCommandsGetEveryByteThatArrived) {
  const std::vector<std::uint8_t> data(100, 1);
  const Cdb cdb = Cdb::unmap_cdb(24);
  const TransferPlan plan =
      plan_transfer(task_for(cdb, data, writes(100)), BlockTransfer::kNone, 512);
  EXPECT_EQ(plan.data_out.size(), 100u);
  EXPECT_EQ(plan.residual, kNoResidual);
}

TEST(TransferPlan, AReadFlaggedAsAWriteDropsTheData) {
  const std::vector<std::uint8_t> data(512, 1);
  const Cdb cdb = Cdb::read(10, 0, 1);
  const TransferPlan plan =
      plan_transfer(task_for(cdb, data, writes(512)), BlockTransfer::kIn, 512);
  EXPECT_TRUE(plan.data_out.empty());
  EXPECT_EQ(plan.residual, kNoResidual);
}

TEST(TransferPlan, MoreDataThanTheCdbAsksForIsAnUnderflow) {
  const std::vector<std::uint8_t> data(1024, 1);
  const Cdb cdb = Cdb::write(10, 0, 1);
  const TransferPlan plan =
      plan_transfer(task_for(cdb, data, writes(1024)), BlockTransfer::kOut, 512);
  EXPECT_EQ(plan.data_out.size(), 512u);
  EXPECT_FALSE(plan.blocks);
  EXPECT_EQ(plan.residual, underflow(512));
}

TEST(TransferPlan, LessDataWritesTheWholeBlocksThatArrivedAndIsAnOverflow) {
  const std::vector<std::uint8_t> data(700, 1);
  const Cdb cdb = Cdb::write(16, 0, 3);
  const TransferPlan plan =
      plan_transfer(task_for(cdb, data, writes(700)), BlockTransfer::kOut, 512);
  ASSERT_TRUE(plan.blocks);
  EXPECT_EQ(*plan.blocks, 1u);
  EXPECT_EQ(plan.data_out.size(), 512u);
  EXPECT_EQ(plan.residual, overflow(3 * 512 - 700));
  EXPECT_FALSE(plan.answer_good);
}

TEST(TransferPlan, TheEdtlCountsOnlyTheBytesThatArrived) {
  const std::vector<std::uint8_t> data(512, 1);
  const Cdb cdb = Cdb::write(10, 0, 2);
  const TransferPlan plan =
      plan_transfer(task_for(cdb, data, writes(4096)), BlockTransfer::kOut, 512);
  ASSERT_TRUE(plan.blocks);
  EXPECT_EQ(*plan.blocks, 1u);
  EXPECT_EQ(plan.residual, overflow(512));
}

TEST(TransferPlan, AWriteWithoutTheWriteDirectionWritesNothing) {
  const Cdb cdb = Cdb::write(10, 0, 1);
  for (const Direction d : {Direction::kNone, Direction::kRead}) {
    const TransferPlan plan =
        plan_transfer(task_for(cdb, {}, ExpectedTransfer{d, 512}), BlockTransfer::kOut, 512);
    ASSERT_TRUE(plan.blocks);
    EXPECT_EQ(*plan.blocks, 0u);
    EXPECT_TRUE(plan.data_out.empty());
    EXPECT_EQ(plan.residual, overflow(512));
  }
  const std::vector<std::uint8_t> data(512, 1);
  const TransferPlan bidi =
      plan_transfer(task_for(cdb, data, ExpectedTransfer{Direction::kBidirectional, 512}),
                    BlockTransfer::kOut, 512);
  EXPECT_EQ(bidi.data_out.size(), 512u);
  EXPECT_EQ(bidi.residual, kNoResidual);
}

TEST(TransferPlan, Write6WithNothingSentIsAnsweredGoodWithoutRunning) {
  const Cdb cdb = Cdb::write(6, 0, 2);
  const std::vector<std::uint8_t> data(100, 1);
  const TransferPlan plan =
      plan_transfer(task_for(cdb, data, writes(100)), BlockTransfer::kOut, 512);
  EXPECT_TRUE(plan.answer_good);
  EXPECT_EQ(plan.residual, overflow(1024 - 100));
  // Transfer length 0 of WRITE(6) is 256 blocks.
  const std::vector<std::uint8_t> all(256 * 512, 1);
  const Cdb whole = Cdb::write(6, 0, 0);
  const TransferPlan full =
      plan_transfer(task_for(whole, all, writes(256 * 512)), BlockTransfer::kOut, 512);
  EXPECT_FALSE(full.answer_good);
  EXPECT_EQ(full.residual, kNoResidual);
  EXPECT_EQ(full.data_out.size(), all.size());
}

TEST(TransferPlan, SetTransferLengthRewritesEachForm) {
  for (const int size : {6, 10, 12, 16}) {
    Cdb cdb = Cdb::write(size, 7, 9);
    std::array<std::uint8_t, 16> bytes{};
    std::copy(cdb.span().begin(), cdb.span().end(), bytes.begin());
    const auto span = std::span(bytes).first(cdb.size());
    set_transfer_length(span, 3);
    const BlockCdb c = decode_block_cdb(span);
    EXPECT_EQ(c.blocks, 3u) << size;
    EXPECT_EQ(c.lba, 7u) << size;
  }
}

TEST(SettleTransfer, DataInBeyondTheEdtlIsCutAndAnOverflow) {
  TaskResult r;
  r.data_in.assign(512, 1);
  settle_transfer(reads(200), {}, r);
  EXPECT_EQ(r.data_in.size(), 200u);
  EXPECT_EQ(r.residual, overflow(312));
}

TEST(SettleTransfer, LessDataInThanTheEdtlIsAnUnderflow) {
  TaskResult r;
  r.data_in.assign(512, 1);
  settle_transfer(reads(1024), {}, r);
  EXPECT_EQ(r.data_in.size(), 512u);
  EXPECT_EQ(r.residual, underflow(512));
  // Also when the command failed and has no Data-In at all.
  TaskResult failed = check_condition(sense_key::kIllegalRequest, asc::kLbaOutOfRange);
  settle_transfer(reads(36), {}, failed);
  EXPECT_EQ(failed.residual, underflow(36));
}

TEST(SettleTransfer, DataInWithoutTheReadDirectionIsAllOverflow) {
  TaskResult r;
  r.data_in.assign(512, 1);
  settle_transfer(writes(512), {}, r);
  EXPECT_TRUE(r.data_in.empty());
  EXPECT_EQ(r.residual, overflow(512));
  TaskResult none;
  settle_transfer(writes(512), {}, none);
  EXPECT_EQ(none.residual, kNoResidual);
}

TEST(SettleTransfer, TheDataOutResidualComesFirst) {
  TaskResult r = check_condition(sense_key::kIllegalRequest, asc::kLbaOutOfRange);
  settle_transfer(ExpectedTransfer{Direction::kBidirectional, 1024}, overflow(512), r);
  EXPECT_EQ(r.residual, overflow(512));
}

TEST(LunNumber, PeripheralAndFlatAddressing) {
  EXPECT_EQ(lun_number(0), 0u);
  EXPECT_EQ(lun_number(0x0001000000000000ull), 1u);
  EXPECT_EQ(lun_number(0x4123000000000000ull), 0x0123u);  // flat
  EXPECT_NE(lun_number(0x0000000100000000ull), 0u) << "a second level is not LUN 0";
  EXPECT_EQ(lun_number(0xc000000000000000ull), 0xc000000000000000ull);  // extended
}

// Through the disk, as the transport hands it commands.
class TransferDiskTest : public DiskTest {
 protected:
  TaskResult run_expecting(const Cdb& cdb, std::span<const std::uint8_t> data_out,
                           ExpectedTransfer expected, std::uint64_t lun = 0) {
    Task t = task_for(cdb, data_out, expected);
    t.lun = lun;
    t.nexus = &a;
    return disk->execute(t);
  }
};

TEST_F(TransferDiskTest, AShortWriteWritesTheBlocksSentAndReportsTheOverflow) {
  const std::vector<std::uint8_t> sent(512, 0xcd);
  TaskResult r = run_expecting(Cdb::write(10, 10, 2), sent, writes(512));
  ASSERT_TRUE(IsGood(r));
  EXPECT_EQ(r.residual, overflow(512));
  EXPECT_EQ(read_blocks(10, 1), sent);
  EXPECT_EQ(read_blocks(11, 1), std::vector<std::uint8_t>(kBlock, 0)) << "block 11 untouched";
}

TEST_F(TransferDiskTest, ALongWriteWritesTheCdbsBlocksAndReportsTheUnderflow) {
  const std::vector<std::uint8_t> sent(1024, 0xab);
  TaskResult r = run_expecting(Cdb::write(10, 10, 1), sent, writes(1024));
  ASSERT_TRUE(IsGood(r));
  EXPECT_EQ(r.residual, underflow(512));
  EXPECT_EQ(read_blocks(11, 1), std::vector<std::uint8_t>(kBlock, 0));
}

TEST_F(TransferDiskTest, ReadResidualsAgainstTheEdtl) {
  TaskResult over = run_expecting(Cdb::read(10, 0, 1), {}, reads(200));
  ASSERT_TRUE(IsGood(over));
  EXPECT_EQ(over.data_in.size(), 200u);
  EXPECT_EQ(over.residual, overflow(312));
  TaskResult under = run_expecting(Cdb::read(10, 0, 1), {}, reads(1024));
  EXPECT_EQ(under.data_in.size(), 512u);
  EXPECT_EQ(under.residual, underflow(512));
  // A READ flagged as a write: it runs, no Data-In fits.
  const std::vector<std::uint8_t> data(512, 1);
  TaskResult rw = run_expecting(Cdb::read(10, 0, 1), data, writes(512));
  ASSERT_TRUE(IsGood(rw));
  EXPECT_TRUE(rw.data_in.empty());
  EXPECT_EQ(rw.residual, overflow(512));
}

TEST_F(TransferDiskTest, AnUnknownLunIsAnsweredBeforeTheTransferIsPlanned) {
  const std::vector<std::uint8_t> sent(512, 1);
  TaskResult r = run_expecting(Cdb::write(10, 0, 2), sent, writes(512), 1);
  EXPECT_TRUE(HasSense(r, sense_key::kIllegalRequest, asc::kLogicalUnitNotSupported));
  EXPECT_EQ(r.residual, kNoResidual);
  TaskResult inq = run_expecting(Cdb::inquiry(36), {}, reads(36), 1);
  ASSERT_TRUE(IsGood(inq));
  EXPECT_EQ(inq.data_in[0], 0x7f);
  EXPECT_EQ(inq.residual, kNoResidual);
}

TEST_F(TransferDiskTest, AFailedWriteKeepsItsResidual) {
  const std::vector<std::uint8_t> sent(512, 1);
  TaskResult r = run_expecting(Cdb::write(10, blocks(), 2), sent, writes(512));
  EXPECT_TRUE(HasSense(r, sense_key::kIllegalRequest, asc::kLbaOutOfRange));
  EXPECT_EQ(r.residual, overflow(512));
}

}  // namespace
}  // namespace maya::scsi::test
