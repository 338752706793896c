// PERSISTENT RESERVE IN/OUT with two nexuses: registration, the six reservation types and the
// SPC-4 access table, release, clear, preempt, unit attentions, and the exact parameter data.
#include <gtest/gtest.h>

#include <string>
#include <tuple>

#include "tests/scsi/disk_fixture.h"

namespace maya::scsi::test {
namespace {

constexpr std::uint64_t kKeyA = 0x1111222233334444ull;
constexpr std::uint64_t kKeyB = 0x5555666677778888ull;

class PersistentReservationTest : public DiskTest {
 protected:
  // PERSISTENT RESERVE IN goes through a nexus that never registers, so the unit attentions
  // the tests provoke for A and B stay queued for them.
  Nexus observer{"iqn.2026-01.test:observer,i,0x23d000000009", "iqn.2026-11.io.maya:vol,t,0x0001",
                 1};
  TaskResult prout(const Nexus& n, std::uint8_t sa, std::uint64_t key, std::uint64_t sa_key,
                   std::uint8_t type = 0) {
    return run(Cdb::pr_out(sa, type), prout_params(key, sa_key), &n);
  }
  std::vector<std::uint64_t> keys() {
    TaskResult r = run(Cdb::pr_in(op::kPrinReadKeys), {}, &observer);
    EXPECT_TRUE(IsGood(r));
    std::vector<std::uint64_t> out;
    for (std::size_t at = 8; at + 8 <= r.data_in.size(); at += 8) {
      out.push_back(load_be64(&r.data_in[at]));
    }
    EXPECT_EQ(load_be32(&r.data_in[4]), 8 * out.size());
    return out;
  }
  std::uint32_t generation() {
    return load_be32(run(Cdb::pr_in(op::kPrinReadKeys), {}, &observer).data_in.data());
  }
  // (reserved?, key, type) from READ RESERVATION.
  std::tuple<bool, std::uint64_t, std::uint8_t> reservation() {
    TaskResult r = run(Cdb::pr_in(op::kPrinReadReservation), {}, &observer);
    EXPECT_TRUE(IsGood(r));
    if (load_be32(&r.data_in[4]) == 0) return {false, 0, 0};
    EXPECT_EQ(r.data_in.size(), 24u);
    return {true, load_be64(&r.data_in[8]), static_cast<std::uint8_t>(r.data_in[21] & 0x0f)};
  }
  void register_both() {
    ASSERT_TRUE(IsGood(prout(a, op::kProutRegisterAndIgnore, 0, kKeyA)));
    ASSERT_TRUE(IsGood(prout(b, op::kProutRegisterAndIgnore, 0, kKeyB)));
  }
  bool can_read(const Nexus& n) { return run(Cdb::read(10, 1, 1), {}, &n).status == status::kGood; }
  bool can_write(const Nexus& n) {
    return run(Cdb::write(10, 1, 1), pattern(kBlock, 1), &n).status == status::kGood;
  }
};

TEST_F(PersistentReservationTest, RegisterReadKeysAndUnregister) {
  const std::uint32_t gen0 = generation();
  ASSERT_TRUE(IsGood(prout(a, op::kProutRegister, 0, kKeyA)));
  EXPECT_EQ(keys(), std::vector<std::uint64_t>{kKeyA});
  EXPECT_EQ(generation(), gen0 + 1);
  // Registering again with the wrong reservation key conflicts and changes nothing.
  EXPECT_TRUE(IsConflict(prout(a, op::kProutRegister, 0, kKeyA + 1)));
  EXPECT_EQ(generation(), gen0 + 1);
  // The right key changes it.
  ASSERT_TRUE(IsGood(prout(a, op::kProutRegister, kKeyA, kKeyB)));
  EXPECT_EQ(keys(), std::vector<std::uint64_t>{kKeyB});
  ASSERT_TRUE(IsGood(prout(a, op::kProutRegister, kKeyB, 0)));
  EXPECT_TRUE(keys().empty());
  EXPECT_EQ(generation(), gen0 + 3);
  // An unregistered nexus giving a key conflicts; unregistering it again is a no-op.
  EXPECT_TRUE(IsConflict(prout(a, op::kProutRegister, kKeyA, kKeyA)));
  EXPECT_TRUE(IsGood(prout(a, op::kProutRegister, 0, 0)));
}

TEST_F(PersistentReservationTest, RegisterAndIgnoreReplacesAnyKey) {
  ASSERT_TRUE(IsGood(prout(a, op::kProutRegister, 0, kKeyA)));
  ASSERT_TRUE(IsGood(prout(a, op::kProutRegisterAndIgnore, 0x999, kKeyB)));
  EXPECT_EQ(keys(), std::vector<std::uint64_t>{kKeyB});
  ASSERT_TRUE(IsGood(prout(a, op::kProutRegisterAndIgnore, 0, 0)));
  EXPECT_TRUE(keys().empty());
}

TEST_F(PersistentReservationTest, ReserveNeedsARegistrationWithTheRightKey) {
  EXPECT_TRUE(IsConflict(prout(a, op::kProutReserve, kKeyA, 0, 1)));
  ASSERT_TRUE(IsGood(prout(a, op::kProutRegister, 0, kKeyA)));
  EXPECT_TRUE(IsConflict(prout(a, op::kProutReserve, kKeyB, 0, 1)));
  EXPECT_TRUE(HasSense(prout(a, op::kProutReserve, kKeyA, 0, 2), sense_key::kIllegalRequest,
                       asc::kInvalidFieldInCdb))
      << "type 2 does not exist";
  EXPECT_TRUE(HasSense(prout(a, op::kProutReserve, kKeyA, 0, 0x11), sense_key::kIllegalRequest,
                       asc::kInvalidFieldInCdb))
      << "only LU scope";
  ASSERT_TRUE(IsGood(prout(a, op::kProutReserve, kKeyA, 0, 1)));
  EXPECT_TRUE(IsGood(prout(a, op::kProutReserve, kKeyA, 0, 1))) << "same type again";
  EXPECT_TRUE(IsConflict(prout(a, op::kProutReserve, kKeyA, 0, 3))) << "another type";
}

// SPC-4 table 40 from the point of view of nexus B while A holds a reservation of each type:
// {registered B may read, registered B may write, unregistered B may read, may write}.
struct AccessCase {
  std::uint8_t type;
  bool reg_read, reg_write, unreg_read, unreg_write;
};

class ReservationAccessTest : public PersistentReservationTest,
                              public ::testing::WithParamInterface<AccessCase> {};

TEST_P(ReservationAccessTest, OtherNexusAccessFollowsTheType) {
  const AccessCase c = GetParam();
  register_both();
  ASSERT_TRUE(IsGood(prout(a, op::kProutReserve, kKeyA, 0, c.type)));
  const auto [reserved, key, type] = reservation();
  EXPECT_TRUE(reserved);
  EXPECT_EQ(type, c.type);
  EXPECT_EQ(key, c.type >= 7 ? 0 : kKeyA) << "all-registrants reservations report key 0";
  EXPECT_TRUE(can_read(a));
  EXPECT_TRUE(can_write(a));
  EXPECT_EQ(can_read(b), c.reg_read);
  EXPECT_EQ(can_write(b), c.reg_write);
  // Commands that never conflict.
  EXPECT_TRUE(IsGood(run(Cdb::test_unit_ready(), {}, &b)));
  EXPECT_TRUE(IsGood(run(Cdb::read_capacity16(), {}, &b)));
  EXPECT_TRUE(IsGood(run(Cdb::inquiry(96), {}, &b)));
  ASSERT_TRUE(IsGood(prout(b, op::kProutRegister, kKeyB, 0)));
  EXPECT_EQ(can_read(b), c.unreg_read);
  EXPECT_EQ(can_write(b), c.unreg_write);
  EXPECT_TRUE(IsGood(run(Cdb::pr_in(op::kPrinReadReservation), {}, &b)));
  ASSERT_TRUE(IsGood(prout(a, op::kProutRelease, kKeyA, 0, c.type)));
  EXPECT_TRUE(can_write(b));
}

INSTANTIATE_TEST_SUITE_P(AllTypes, ReservationAccessTest,
                         ::testing::Values(AccessCase{1, true, false, true, false},
                                           AccessCase{3, false, false, false, false},
                                           AccessCase{5, true, true, true, false},
                                           AccessCase{6, true, true, false, false},
                                           AccessCase{7, true, true, true, false},
                                           AccessCase{8, true, true, false, false}),
                         [](const auto& info) { return "Type" + std::to_string(info.param.type); });

TEST_F(PersistentReservationTest, ReleaseRules) {
  register_both();
  ASSERT_TRUE(IsGood(prout(a, op::kProutReserve, kKeyA, 0, 5)));
  EXPECT_TRUE(IsGood(prout(b, op::kProutRelease, kKeyB, 0, 5))) << "not the holder: no effect";
  EXPECT_TRUE(std::get<0>(reservation()));
  EXPECT_TRUE(HasSense(prout(a, op::kProutRelease, kKeyA, 0, 6), sense_key::kIllegalRequest,
                       asc::kInvalidReleaseOfPersistentReservation));
  EXPECT_TRUE(IsConflict(prout(a, op::kProutRelease, kKeyB, 0, 5))) << "wrong key";
  ASSERT_TRUE(IsGood(prout(a, op::kProutRelease, kKeyA, 0, 5)));
  EXPECT_FALSE(std::get<0>(reservation()));
  // Releasing a registrants-only reservation tells the other registrants.
  EXPECT_TRUE(HasSense(run(Cdb::test_unit_ready(), {}, &b), sense_key::kUnitAttention,
                       asc::kReservationsReleased));
  EXPECT_TRUE(IsGood(run(Cdb::test_unit_ready(), {}, &a)));
}

TEST_F(PersistentReservationTest, HolderUnregisteringReleasesTheReservation) {
  register_both();
  ASSERT_TRUE(IsGood(prout(a, op::kProutReserve, kKeyA, 0, 6)));
  ASSERT_TRUE(IsGood(prout(a, op::kProutRegister, kKeyA, 0)));
  EXPECT_FALSE(std::get<0>(reservation()));
  EXPECT_TRUE(HasSense(run(Cdb::test_unit_ready(), {}, &b), sense_key::kUnitAttention,
                       asc::kReservationsReleased));
}

TEST_F(PersistentReservationTest, AllRegistrantsReservationOutlivesItsCreator) {
  register_both();
  ASSERT_TRUE(IsGood(prout(a, op::kProutReserve, kKeyA, 0, 8)));
  ASSERT_TRUE(IsGood(prout(a, op::kProutRegister, kKeyA, 0)));
  EXPECT_TRUE(std::get<0>(reservation()));
  EXPECT_FALSE(can_read(a)) << "A is no longer a registrant";
  EXPECT_TRUE(can_read(b));
  ASSERT_TRUE(IsGood(prout(b, op::kProutRelease, kKeyB, 0, 8)));
  EXPECT_FALSE(std::get<0>(reservation()));
}

TEST_F(PersistentReservationTest, ClearRemovesEverythingAndBumpsTheGeneration) {
  register_both();
  ASSERT_TRUE(IsGood(prout(a, op::kProutReserve, kKeyA, 0, 3)));
  const std::uint32_t gen = generation();
  EXPECT_TRUE(IsConflict(prout(b, op::kProutClear, kKeyA, 0))) << "B's key is not kKeyA";
  ASSERT_TRUE(IsGood(prout(b, op::kProutClear, kKeyB, 0)));
  EXPECT_TRUE(keys().empty());
  EXPECT_FALSE(std::get<0>(reservation()));
  EXPECT_EQ(generation(), gen + 1) << "CLEAR increments, RESERVE did not";
  EXPECT_TRUE(HasSense(run(Cdb::test_unit_ready(), {}, &a), sense_key::kUnitAttention,
                       asc::kReservationsPreempted));
}

TEST_F(PersistentReservationTest, PreemptRemovesRegistrations) {
  register_both();
  const std::uint32_t gen = generation();
  ASSERT_TRUE(IsGood(prout(b, op::kProutPreempt, kKeyB, kKeyA, 3)));
  EXPECT_EQ(keys(), std::vector<std::uint64_t>{kKeyB});
  EXPECT_EQ(generation(), gen + 1);
  EXPECT_FALSE(std::get<0>(reservation())) << "no reservation existed, none is created";
  EXPECT_TRUE(HasSense(run(Cdb::test_unit_ready(), {}, &a), sense_key::kUnitAttention,
                       asc::kRegistrationsPreempted));
  EXPECT_TRUE(IsConflict(prout(b, op::kProutPreempt, kKeyB, 0x42, 3))) << "no such key";
  EXPECT_TRUE(HasSense(prout(b, op::kProutPreempt, kKeyB, 0, 3), sense_key::kIllegalRequest,
                       asc::kInvalidFieldInParameterList));
}

TEST_F(PersistentReservationTest, PreemptingTheHolderTakesTheReservationOver) {
  register_both();
  ASSERT_TRUE(IsGood(prout(a, op::kProutReserve, kKeyA, 0, 1)));
  ASSERT_TRUE(IsGood(prout(b, op::kProutPreemptAndAbort, kKeyB, kKeyA, 3)));
  const auto [reserved, key, type] = reservation();
  EXPECT_TRUE(reserved);
  EXPECT_EQ(key, kKeyB);
  EXPECT_EQ(type, 3);
  EXPECT_TRUE(can_write(b));
  EXPECT_TRUE(HasSense(run(Cdb::test_unit_ready(), {}, &a), sense_key::kUnitAttention,
                       asc::kRegistrationsPreempted));
  EXPECT_FALSE(can_read(a));
}

TEST_F(PersistentReservationTest, ReportCapabilities) {
  TaskResult r = run(Cdb::pr_in(op::kPrinReportCapabilities));
  ASSERT_TRUE(IsGood(r));
  ASSERT_EQ(r.data_in.size(), 8u);
  EXPECT_EQ(load_be16(&r.data_in[0]), 8);
  EXPECT_EQ(r.data_in[2] & 0x0d, 0) << "SIP_C, ATP_C, PTPL_C clear: APTPL is not supported";
  EXPECT_EQ(r.data_in[3] & 0x80, 0x80) << "TMV";
  EXPECT_LE((r.data_in[3] >> 4) & 0x07, 5) << "ALLOW COMMANDS";
  EXPECT_EQ(load_be16(&r.data_in[4]), 0xea01) << "all six types";
}

TEST_F(PersistentReservationTest, ReadFullStatusBytes) {
  register_both();
  ASSERT_TRUE(IsGood(prout(a, op::kProutReserve, kKeyA, 0, 5)));
  TaskResult r = run(Cdb::pr_in(op::kPrinReadFullStatus));
  ASSERT_TRUE(IsGood(r));
  const auto& d = r.data_in;
  EXPECT_EQ(load_be32(&d[4]) + 8, d.size());
  // First descriptor: A, the holder.
  EXPECT_EQ(load_be64(&d[8]), kKeyA);
  EXPECT_EQ(d[8 + 12], 0x01) << "R_HOLDER";
  EXPECT_EQ(d[8 + 13], 0x05) << "scope LU, type 5";
  EXPECT_EQ(load_be16(&d[8 + 18]), 1) << "relative target port";
  const std::uint32_t id_length = load_be32(&d[8 + 20]);
  ASSERT_GE(id_length, 24u);
  EXPECT_EQ(id_length % 4, 0u);
  const std::uint8_t* id = &d[8 + 24];
  EXPECT_EQ(id[0], 0x45) << "iSCSI TransportID, format 01b";
  EXPECT_EQ(load_be16(&id[2]) + 4u, id_length);
  EXPECT_STREQ(reinterpret_cast<const char*>(id + 4), a.initiator_port.c_str());
  // Second descriptor: B, registered but not holding.
  const std::size_t second = 8 + 24 + id_length;
  EXPECT_EQ(load_be64(&d[second]), kKeyB);
  EXPECT_EQ(d[second + 12], 0x00);
  EXPECT_EQ(d[second + 13], 0x00);
}

TEST_F(PersistentReservationTest, ReadKeysHonoursTheAllocationLength) {
  register_both();
  TaskResult r = run(Cdb::pr_in(op::kPrinReadKeys, 8));
  ASSERT_TRUE(IsGood(r));
  ASSERT_EQ(r.data_in.size(), 8u);
  EXPECT_EQ(load_be32(&r.data_in[4]), 16u) << "ADDITIONAL LENGTH is not truncated";
}

TEST_F(PersistentReservationTest, ParameterListErrors) {
  EXPECT_TRUE(HasSense(run(Cdb::pr_out(op::kProutRegister, 0, 20), prout_params(0, kKeyA)),
                       sense_key::kIllegalRequest, asc::kParameterListLengthError));
  EXPECT_TRUE(HasSense(run(Cdb::pr_out(op::kProutRegister), std::vector<std::uint8_t>(10, 0)),
                       sense_key::kIllegalRequest, asc::kParameterListLengthError));
  TaskResult aptpl = run(Cdb::pr_out(op::kProutRegister), prout_params(0, kKeyA, 0x01));
  ASSERT_TRUE(HasSense(aptpl, sense_key::kIllegalRequest, asc::kInvalidFieldInParameterList));
  EXPECT_EQ(parse_sense(aptpl.sense).field, 20);
  EXPECT_TRUE(HasSense(run(Cdb::pr_out(op::kProutRegister), prout_params(0, kKeyA, 0x04)),
                       sense_key::kIllegalRequest, asc::kInvalidFieldInParameterList))
      << "ALL_TG_PT";
  EXPECT_TRUE(HasSense(run(Cdb::pr_out(op::kProutRegister), prout_params(0, kKeyA, 0x08)),
                       sense_key::kIllegalRequest, asc::kInvalidFieldInParameterList))
      << "SPEC_I_PT";
  EXPECT_TRUE(keys().empty());
}

TEST_F(PersistentReservationTest, ServiceActionRangeOfPersistentReserveIn) {
  for (std::uint8_t sa = 0; sa < 4; ++sa) EXPECT_TRUE(IsGood(run(Cdb::pr_in(sa))));
  for (std::uint8_t sa = 4; sa < 0x20; ++sa) {
    // Not 20h/00h: libiscsi's PrinServiceactionRange wants an invalid field, not opcode.
    EXPECT_TRUE(HasSense(run(Cdb::pr_in(sa)), sense_key::kIllegalRequest, asc::kInvalidFieldInCdb));
  }
}

TEST_F(PersistentReservationTest, RegistrationsSurviveNexusLoss) {
  register_both();
  ASSERT_TRUE(IsGood(prout(a, op::kProutReserve, kKeyA, 0, 1)));
  disk->nexus_removed(a);
  EXPECT_EQ(keys().size(), 2u);
  EXPECT_TRUE(std::get<0>(reservation()));
  EXPECT_FALSE(can_write(b));
}

// Persistent reservations kept across restarts (a shared replica's fence): every change is
// saved, a change whose save fails is answered as failed and undone, and a restart restores
// what was saved.
TEST_F(PersistentReservationTest, SavedStateIsRestoredAndAFailedSaveChangesNothing) {
  std::string on_disk;
  bool failing = false;
  ASSERT_TRUE(disk->persist_reservations("", [&](const std::string& text) -> Result<void> {
    if (failing) return fail("disk full");
    on_disk = text;
    return {};
  }));
  register_both();
  ASSERT_TRUE(IsGood(prout(a, op::kProutReserve, kKeyA, 0, 5)));  // WE - registrants only
  const std::string before = on_disk;
  failing = true;
  const TaskResult preempt = prout(b, op::kProutPreempt, kKeyB, kKeyA, 5);
  EXPECT_FALSE(IsGood(preempt)) << "the failed save is reported";
  const auto [reserved, key, type] = reservation();
  EXPECT_TRUE(reserved);
  EXPECT_EQ(key, kKeyA) << "a command answered with an error changed the reservation";
  EXPECT_EQ(keys(), (std::vector<std::uint64_t>{kKeyA, kKeyB}))
      << "a command answered with an error removed registrations";
  EXPECT_EQ(on_disk, before);
  // A new disk restores the saved state: A still holds the reservation, B may not write.
  auto again = make_disk(*backend, Identity{});
  ASSERT_TRUE(
      again->persist_reservations(on_disk, [](const std::string&) -> Result<void> { return {}; }));
  EXPECT_NE(on_disk.find(std::to_string(kKeyA)), std::string::npos);
  auto damaged = make_disk(*backend, Identity{});
  EXPECT_FALSE(damaged->persist_reservations("{\"registrations\": 7}", nullptr));
}

}  // namespace
}  // namespace maya::scsi::test
