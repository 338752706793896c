// SPC-2 RESERVE/RELEASE (6)/(10): conflicts for the other nexus, commands that stay allowed,
// release on nexus loss and reset, and how they meet persistent reservations.
#include <gtest/gtest.h>

#include "tests/scsi/disk_fixture.h"

namespace maya::scsi::test {
namespace {

class Spc2ReservationTest : public DiskTest {};

TEST_F(Spc2ReservationTest, OtherNexusConflictsExceptForInquiryAndFriends) {
  ASSERT_TRUE(IsGood(run(Cdb::reserve6(), {}, &a)));
  EXPECT_TRUE(IsGood(run(Cdb::reserve6(), {}, &a))) << "the holder may reserve again";
  EXPECT_TRUE(IsGood(run(Cdb::read(10, 0, 1), {}, &a)));
  EXPECT_TRUE(IsGood(run(Cdb::mode_sense6(0x3f), {}, &a)));

  EXPECT_TRUE(IsConflict(run(Cdb::reserve6(), {}, &b)));
  EXPECT_TRUE(IsConflict(run(Cdb::read(10, 0, 1), {}, &b)));
  EXPECT_TRUE(IsConflict(run(Cdb::write(10, 0, 1), pattern(kBlock, 1), &b)));
  EXPECT_TRUE(IsConflict(run(Cdb::test_unit_ready(), {}, &b)));
  EXPECT_TRUE(IsConflict(run(Cdb::mode_sense6(0x3f), {}, &b)));
  EXPECT_TRUE(IsConflict(run(Cdb::pr_in(0), {}, &b)));
  EXPECT_TRUE(IsGood(run(Cdb::inquiry(96), {}, &b)));
  EXPECT_TRUE(IsGood(run(Cdb::report_luns(), {}, &b)));
  EXPECT_TRUE(IsGood(run(Cdb::request_sense(), {}, &b)));
  EXPECT_TRUE(IsGood(run(Cdb::release6(), {}, &b))) << "releasing another's reservation: no-op";
  EXPECT_TRUE(IsConflict(run(Cdb::read(10, 0, 1), {}, &b)));

  ASSERT_TRUE(IsGood(run(Cdb::release6(), {}, &a)));
  EXPECT_TRUE(IsGood(run(Cdb::reserve10(), {}, &b)));
  EXPECT_TRUE(IsConflict(run(Cdb::read(10, 0, 1), {}, &a)));
  EXPECT_TRUE(IsGood(run(Cdb::release10(), {}, &b)));
  EXPECT_TRUE(IsGood(run(Cdb::read(10, 0, 1), {}, &a)));
}

TEST_F(Spc2ReservationTest, ReleasedWhenTheHolderGoesAway) {
  ASSERT_TRUE(IsGood(run(Cdb::reserve6(), {}, &a)));
  disk->nexus_removed(a);
  EXPECT_TRUE(IsGood(run(Cdb::reserve6(), {}, &b)));
  disk->nexus_added(a);
  EXPECT_TRUE(HasSense(run(Cdb::read(10, 0, 1), {}, &a), sense_key::kUnitAttention,
                       asc::kPowerOnResetOccurred));
  EXPECT_TRUE(IsConflict(run(Cdb::read(10, 0, 1), {}, &a)));
}

TEST_F(Spc2ReservationTest, ReleasedByReset) {
  ASSERT_TRUE(IsGood(run(Cdb::reserve6(), {}, &a)));
  disk->reset(false);
  run(Cdb::test_unit_ready(), {}, &b);  // the reset's unit attention
  EXPECT_TRUE(IsGood(run(Cdb::reserve6(), {}, &b)));
}

TEST_F(Spc2ReservationTest, ThirdPartyAndExtentReservationsAreRefused) {
  EXPECT_TRUE(HasSense(run(Cdb::reserve6().set(1, 0x01)), sense_key::kIllegalRequest,
                       asc::kInvalidFieldInCdb));
  EXPECT_TRUE(HasSense(run(Cdb::reserve10().set(1, 0x10)), sense_key::kIllegalRequest,
                       asc::kInvalidFieldInCdb));
}

TEST_F(Spc2ReservationTest, PersistentReservationsWinOverReserve) {
  ASSERT_TRUE(IsGood(run(Cdb::pr_out(op::kProutRegister), prout_params(0, 0xa), &a)));
  ASSERT_TRUE(IsGood(run(Cdb::pr_out(op::kProutReserve, 1), prout_params(0xa, 0), &a)));
  EXPECT_TRUE(IsConflict(run(Cdb::reserve6(), {}, &a))) << "even for the PR holder";
  EXPECT_TRUE(IsGood(run(Cdb::release6(), {}, &a))) << "registered: completes without effect";
  EXPECT_TRUE(IsConflict(run(Cdb::release6(), {}, &b))) << "not registered";
  ASSERT_TRUE(IsGood(run(Cdb::pr_out(op::kProutClear), prout_params(0xa, 0), &a)));
  EXPECT_TRUE(IsGood(run(Cdb::reserve6(), {}, &b)));
  EXPECT_TRUE(IsConflict(run(Cdb::pr_out(op::kProutRegister), prout_params(0, 0xb), &a)))
      << "PERSISTENT RESERVE OUT conflicts with another's SPC-2 reservation";
}

}  // namespace
}  // namespace maya::scsi::test
