// The opcode table and dispatch: unknown opcodes and service actions, the NACA bit, missing LUNs,
// and REPORT SUPPORTED OPERATION CODES agreeing with what the disk executes.
#include <gtest/gtest.h>

#include <set>
#include <utility>

#include "lib/scsi/cdb.h"
#include "lib/scsi/command_table.h"
#include "tests/scsi/disk_fixture.h"

namespace maya::scsi::test {
namespace {

using Supported = std::set<std::pair<std::uint8_t, std::uint16_t>>;

// Parses the all-commands form of REPORT SUPPORTED OPERATION CODES.
Supported parse_all_commands(const std::vector<std::uint8_t>& d, bool* servactv_ok = nullptr) {
  Supported out;
  const std::size_t length = load_be32(&d[0]);
  EXPECT_EQ(length + 4, d.size());
  for (std::size_t at = 4; at + 8 <= d.size();) {
    const bool ctdp = d[at + 5] & 0x02;
    const bool servactv = d[at + 5] & 0x01;
    const std::uint16_t sa = load_be16(&d[at + 2]);
    if (servactv_ok != nullptr && !servactv && sa != 0) *servactv_ok = false;
    out.insert({d[at], servactv ? sa : std::uint16_t{0xffff}});
    EXPECT_EQ(load_be16(&d[at + 6]), cdb_length_for(d[at]));
    at += 8 + (ctdp ? 12 : 0);
  }
  return out;
}

// A CDB of the right length for the opcode, with the service action filled in. Fields are zero,
// so most commands are valid no-ops (zero-length transfers, LBA 0).
Cdb minimal_cdb(std::uint8_t opcode, std::uint16_t sa) {
  Cdb cdb(cdb_length_for(opcode), opcode);
  if (sa != 0xffff) cdb.set(1, static_cast<std::uint8_t>(sa));
  return cdb;
}

TEST(CommandTable, EveryEntryIsFoundByItsOpcodeAndServiceAction) {
  for (const CommandInfo& c : command_table()) {
    const CommandLookup found = find_command(c.opcode, c.service_action);
    EXPECT_EQ(found.info, &c) << c.name;
    EXPECT_TRUE(found.opcode_known);
    EXPECT_EQ(c.usage[0], c.opcode) << c.name;
    EXPECT_NE(c.handler, nullptr) << c.name;
  }
}

class DispatchTest : public DiskTest {};

TEST_F(DispatchTest, EveryOpcodeNotInTheTableIsInvalidOperationCode) {
  std::set<std::uint8_t> supported;
  for (const CommandInfo& c : command_table()) supported.insert(c.opcode);
  int checked = 0;
  for (int opcode = 0; opcode < 256; ++opcode) {
    if (supported.contains(static_cast<std::uint8_t>(opcode))) continue;
    Cdb cdb(16, static_cast<std::uint8_t>(opcode));
    const TaskResult r = run(cdb);
    EXPECT_TRUE(HasSense(r, sense_key::kIllegalRequest, asc::kInvalidCommandOperationCode))
        << "opcode " << opcode;
    ++checked;
  }
  EXPECT_GT(checked, 180);
}

TEST_F(DispatchTest, UnsupportedServiceActionIsInvalidFieldPointingAtIt) {
  // SERVICE ACTION IN(16) / READ LONG(16) (11h) and PERSISTENT RESERVE IN service action 4.
  for (const Cdb& cdb : {Cdb(16, 0x9e).set(1, 0x11), Cdb::pr_in(0x04), Cdb(12, 0xa3).set(1, 0x0a),
                         Cdb::pr_out(0x07)}) {
    const TaskResult r = run(cdb, prout_params(0, 0));
    ASSERT_TRUE(HasSense(r, sense_key::kIllegalRequest, asc::kInvalidFieldInCdb));
    const SenseView s = parse_sense(r.sense);
    EXPECT_TRUE(s.sksv && s.in_cdb);
    EXPECT_EQ(s.field, 1);
  }
}

TEST_F(DispatchTest, NacaBitIsRefused) {
  const TaskResult r = run(Cdb::test_unit_ready().naca());
  ASSERT_TRUE(HasSense(r, sense_key::kIllegalRequest, asc::kInvalidFieldInCdb));
  EXPECT_EQ(parse_sense(r.sense).field, 5);
}

TEST_F(DispatchTest, ShortCdbIsInvalidField) {
  EXPECT_TRUE(
      HasSense(run(Cdb::raw({0x28, 0, 0})), sense_key::kIllegalRequest, asc::kInvalidFieldInCdb));
}

TEST_F(DispatchTest, OtherLunsDoNotExist) {
  EXPECT_TRUE(HasSense(run(Cdb::test_unit_ready(), {}, &a, 3), sense_key::kIllegalRequest,
                       asc::kLogicalUnitNotSupported));
  TaskResult inq = run(Cdb::inquiry(96), {}, &a, 3);
  ASSERT_TRUE(IsGood(inq));
  EXPECT_EQ(inq.data_in[0], 0x7f) << "peripheral qualifier 011b, type 1Fh";
  EXPECT_TRUE(IsGood(run(Cdb::report_luns(), {}, &a, 3)));
  TaskResult sense = run(Cdb::request_sense(), {}, &a, 3);
  ASSERT_TRUE(IsGood(sense));
  EXPECT_EQ(parse_sense(sense.data_in).asc, 0x25);
}

TEST_F(DispatchTest, ReportSupportedOpcodesListsExactlyTheTable) {
  TaskResult r = run(Cdb::report_supported_opcodes());
  ASSERT_TRUE(IsGood(r));
  bool servactv_ok = true;
  const Supported listed = parse_all_commands(r.data_in, &servactv_ok);
  EXPECT_TRUE(servactv_ok) << "SERVACTV clear but a service action reported";
  EXPECT_EQ(listed.size(), command_table().size());
  for (const CommandInfo& c : command_table()) {
    EXPECT_TRUE(listed.contains({c.opcode, c.has_service_action ? c.service_action : 0xffff}))
        << c.name;
  }
}

TEST_F(DispatchTest, EveryListedCommandExecutes) {
  TaskResult r = run(Cdb::report_supported_opcodes());
  ASSERT_TRUE(IsGood(r));
  for (auto [opcode, sa] : parse_all_commands(r.data_in)) {
    const TaskResult x = run(minimal_cdb(opcode, sa), prout_params(0, 0));
    const SenseView s = parse_sense(x.sense);
    const bool unsupported = x.status == status::kCheckCondition && s.key == 0x5 &&
                             (s.asc == 0x20 || (s.asc == 0x24 && s.field == 1));
    EXPECT_FALSE(unsupported) << "opcode " << int(opcode) << " sa " << sa;
  }
}

TEST_F(DispatchTest, UnmapIsNeitherListedNorExecutedWithoutThinProvisioning) {
  make(block::MemoryBackendOptions{.size = 8ull << 20, .thin = false});
  TaskResult r = run(Cdb::report_supported_opcodes());
  ASSERT_TRUE(IsGood(r));
  EXPECT_FALSE(parse_all_commands(r.data_in).contains({op::kUnmap, 0xffff}));
  EXPECT_TRUE(HasSense(run(Cdb::unmap_cdb(24), unmap_params({{0, 1}})), sense_key::kIllegalRequest,
                       asc::kInvalidCommandOperationCode));
  TaskResult one = run(Cdb::report_supported_opcodes(1, op::kUnmap));
  ASSERT_TRUE(IsGood(one));
  EXPECT_EQ(one.data_in[1] & 0x07, 0x01) << "SUPPORT: not supported";
}

TEST_F(DispatchTest, RctdAddsTimeoutDescriptorsToEveryCommand) {
  TaskResult r = run(Cdb::report_supported_opcodes().bits(2, 0x80));
  ASSERT_TRUE(IsGood(r));
  std::size_t count = 0;
  for (std::size_t at = 4; at < r.data_in.size(); at += 20, ++count) {
    EXPECT_EQ(r.data_in[at + 5] & 0x02, 0x02) << "CTDP";
    EXPECT_EQ(load_be16(&r.data_in[at + 8]), 0x0a) << "timeouts descriptor length";
  }
  EXPECT_EQ(count, command_table().size());
}

TEST_F(DispatchTest, OneCommandFormsFollowServiceActions) {
  // READ(10) has no service actions: 001b works, 010b is an invalid field.
  TaskResult read10 = run(Cdb::report_supported_opcodes(1, op::kRead10));
  ASSERT_TRUE(IsGood(read10));
  EXPECT_EQ(read10.data_in[1] & 0x07, 0x03);
  EXPECT_EQ(load_be16(&read10.data_in[2]), 10);
  EXPECT_EQ(read10.data_in[4], op::kRead10);
  EXPECT_EQ(read10.data_in[5] & 0x18, 0x18) << "DPO and FUA usable";
  EXPECT_TRUE(HasSense(run(Cdb::report_supported_opcodes(2, op::kRead10)),
                       sense_key::kIllegalRequest, asc::kInvalidFieldInCdb));
  // READ CAPACITY(16) lives under SERVICE ACTION IN(16): 010b works, 001b is invalid.
  TaskResult rc16 = run(Cdb::report_supported_opcodes(2, 0x9e, op::kReadCapacity16));
  ASSERT_TRUE(IsGood(rc16));
  EXPECT_EQ(rc16.data_in[1] & 0x07, 0x03);
  EXPECT_EQ(rc16.data_in[5] & 0x1f, op::kReadCapacity16);
  EXPECT_TRUE(HasSense(run(Cdb::report_supported_opcodes(1, 0x9e)), sense_key::kIllegalRequest,
                       asc::kInvalidFieldInCdb));
  // An opcode the disk does not have is reported as not supported, with GOOD status.
  TaskResult sanitize = run(Cdb::report_supported_opcodes(1, 0x48));
  ASSERT_TRUE(IsGood(sanitize));
  EXPECT_EQ(sanitize.data_in[1] & 0x07, 0x01);
  // COMPARE AND WRITE advertises DPO/FUA, as MODE SENSE's DPOFUA says.
  TaskResult caw = run(Cdb::report_supported_opcodes(1, op::kCompareAndWrite));
  EXPECT_EQ(caw.data_in[5] & 0x18, 0x18);
  EXPECT_TRUE(HasSense(run(Cdb::report_supported_opcodes(5)), sense_key::kIllegalRequest,
                       asc::kInvalidFieldInCdb));
}

TEST_F(DispatchTest, AllocationLengthTruncatesDataIn) {
  TaskResult r = run(Cdb::report_supported_opcodes(0, 0, 0, 16));
  ASSERT_TRUE(IsGood(r));
  EXPECT_EQ(r.data_in.size(), 16u);
  EXPECT_GT(load_be32(&r.data_in[0]), 16u) << "the length field is not truncated";
}

}  // namespace
}  // namespace maya::scsi::test
