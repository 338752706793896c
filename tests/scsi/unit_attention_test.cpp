// Unit attentions per I_T nexus: the power-on condition of a new nexus, resets, which commands
// report them, REQUEST SENSE, and nexus removal.
#include <gtest/gtest.h>

#include "tests/scsi/disk_fixture.h"

namespace maya::scsi::test {
namespace {

class UnitAttentionTest : public DiskTest {
 protected:
  Nexus c{"iqn.2026-01.test:host-c,i,0x23d000000003", "iqn.2026-11.io.maya:vol,t,0x0001", 1};
};

TEST_F(UnitAttentionTest, NewNexusSeesPowerOnOnceWithTheAscLibiscsiRetries) {
  disk->nexus_added(c);
  // 29h/00h: libiscsi's login retries TEST UNIT READY on exactly this condition.
  EXPECT_TRUE(HasSense(run(Cdb::test_unit_ready(), {}, &c), sense_key::kUnitAttention,
                       asc::kPowerOnResetOccurred));
  EXPECT_TRUE(IsGood(run(Cdb::test_unit_ready(), {}, &c)));
  EXPECT_TRUE(IsGood(run(Cdb::test_unit_ready(), {}, &a))) << "other nexuses are not told";
}

TEST_F(UnitAttentionTest, InquiryAndReportLunsDoNotConsumeIt) {
  disk->nexus_added(c);
  EXPECT_TRUE(IsGood(run(Cdb::inquiry(96), {}, &c)));
  EXPECT_TRUE(IsGood(run(Cdb::report_luns(), {}, &c)));
  EXPECT_TRUE(HasSense(run(Cdb::read(10, 0, 1), {}, &c), sense_key::kUnitAttention,
                       asc::kPowerOnResetOccurred));
  EXPECT_TRUE(IsGood(run(Cdb::read(10, 0, 1), {}, &c)));
}

TEST_F(UnitAttentionTest, RequestSenseReturnsAndClearsIt) {
  disk->nexus_added(c);
  TaskResult r = run(Cdb::request_sense(), {}, &c);
  ASSERT_TRUE(IsGood(r));
  const SenseView s = parse_sense(r.data_in);
  EXPECT_EQ(s.key, sense_key::kUnitAttention);
  EXPECT_EQ(s.asc, 0x29);
  EXPECT_TRUE(IsGood(run(Cdb::test_unit_ready(), {}, &c)));
  TaskResult none = run(Cdb::request_sense(), {}, &c);
  EXPECT_EQ(parse_sense(none.data_in).key, sense_key::kNoSense);
  EXPECT_EQ(parse_sense(none.data_in).asc, 0);
}

TEST_F(UnitAttentionTest, ResetTellsEveryNexusOnce) {
  disk->reset(false);
  for (const Nexus* n : {&a, &b}) {
    EXPECT_TRUE(HasSense(run(Cdb::test_unit_ready(), {}, n), sense_key::kUnitAttention,
                         asc::kBusDeviceResetOccurred));
    EXPECT_TRUE(IsGood(run(Cdb::test_unit_ready(), {}, n)));
  }
}

TEST_F(UnitAttentionTest, ResetSupersedesAPendingPowerOn) {
  disk->nexus_added(c);
  disk->reset(true);
  EXPECT_TRUE(HasSense(run(Cdb::test_unit_ready(), {}, &c), sense_key::kUnitAttention,
                       asc::kBusDeviceResetOccurred));
  EXPECT_TRUE(IsGood(run(Cdb::test_unit_ready(), {}, &c)));
}

TEST_F(UnitAttentionTest, ResetRestoresDefaultModeParameters) {
  std::vector<std::uint8_t> select(4 + 20, 0);
  select[4] = 0x08;
  select[5] = 0x12;
  ASSERT_TRUE(IsGood(run(Cdb::mode_select6(24), select)));
  disk->reset(false);
  run(Cdb::test_unit_ready());
  TaskResult r = run(Cdb::mode_sense6(0x08).bits(1, 0x08));
  EXPECT_EQ(r.data_in[4 + 2] & 0x04, 0x04) << "WCE back on";
}

TEST_F(UnitAttentionTest, UnknownNexusHasNothingPending) {
  EXPECT_TRUE(IsGood(run(Cdb::test_unit_ready(), {}, &c)));
  Task task;
  const Cdb tur = Cdb::test_unit_ready();
  task.cdb = tur.span();
  EXPECT_TRUE(IsGood(disk->execute(task))) << "a task without a nexus";
}

TEST_F(UnitAttentionTest, ConditionsForALoggedOutRegistrantWaitForItsReturn) {
  ASSERT_TRUE(IsGood(run(Cdb::pr_out(op::kProutRegister), prout_params(0, 0xa), &a)));
  ASSERT_TRUE(IsGood(run(Cdb::pr_out(op::kProutRegister), prout_params(0, 0xb), &b)));
  disk->nexus_removed(a);
  ASSERT_TRUE(IsGood(run(Cdb::pr_out(op::kProutPreempt), prout_params(0xb, 0xa), &b)));
  EXPECT_TRUE(IsGood(run(Cdb::test_unit_ready(), {}, &b)));
  disk->nexus_added(a);
  EXPECT_TRUE(HasSense(run(Cdb::test_unit_ready(), {}, &a), sense_key::kUnitAttention,
                       asc::kPowerOnResetOccurred))
      << "power on first";
  EXPECT_TRUE(HasSense(run(Cdb::test_unit_ready(), {}, &a), sense_key::kUnitAttention,
                       asc::kRegistrationsPreempted));
  EXPECT_TRUE(IsGood(run(Cdb::test_unit_ready(), {}, &a)));
}

TEST_F(UnitAttentionTest, RemovedNexusForgetsItsConditions) {
  disk->nexus_added(c);
  disk->nexus_removed(c);
  EXPECT_TRUE(IsGood(run(Cdb::test_unit_ready(), {}, &c)));
}

// A volume grown in place (`maya volume resize`): READ CAPACITY follows the backend once the
// disk is told, and every nexus's next command hears CAPACITY DATA HAS CHANGED once.
TEST_F(UnitAttentionTest, AGrownBackendIsReportedToEveryNexusOnceAndReadCapacityFollows) {
  const std::uint64_t old_blocks = blocks();
  ASSERT_TRUE(backend->grow(16ull << 20));
  EXPECT_TRUE(
      HasSense(run(Cdb::read(16, old_blocks, 1)), sense_key::kIllegalRequest, asc::kLbaOutOfRange))
      << "the old capacity until the disk is told";
  disk->capacity_changed();
  const std::uint64_t new_blocks = (16ull << 20) / kBlock;
  for (const Nexus* n : {&a, &b}) {
    EXPECT_TRUE(HasSense(run(Cdb::read_capacity16(), {}, n), sense_key::kUnitAttention,
                         asc::kCapacityDataChanged));
    TaskResult r = run(Cdb::read_capacity16(), {}, n);
    ASSERT_TRUE(IsGood(r));
    EXPECT_EQ(load_be64(&r.data_in[0]), new_blocks - 1) << "RETURNED LOGICAL BLOCK ADDRESS";
    TaskResult r10 = run(Cdb::read_capacity10(), {}, n);
    ASSERT_TRUE(IsGood(r10));
    EXPECT_EQ(load_be32(&r10.data_in[0]), new_blocks - 1);
  }
  write_blocks(new_blocks - 8, pattern(8 * kBlock, 3));
  EXPECT_TRUE(IsGood(run(Cdb::read(16, old_blocks, 8))));
  EXPECT_TRUE(
      HasSense(run(Cdb::read(16, new_blocks, 1)), sense_key::kIllegalRequest, asc::kLbaOutOfRange));
  disk->capacity_changed();
  EXPECT_TRUE(IsGood(run(Cdb::test_unit_ready(), {}, &a))) << "no change, no condition";
}

}  // namespace
}  // namespace maya::scsi::test
