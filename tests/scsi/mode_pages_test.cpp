// MODE SENSE and MODE SELECT: headers, block descriptors, the Caching and Control pages, page
// control values, truncation, and what MODE SELECT may and may not change.
#include <gtest/gtest.h>

#include "tests/scsi/disk_fixture.h"

namespace maya::scsi::test {
namespace {

class ModePagesTest : public DiskTest {
 protected:
  // Finds a page in MODE SENSE(6) data; empty when absent.
  static std::vector<std::uint8_t> page_in(const std::vector<std::uint8_t>& d, std::uint8_t code) {
    for (std::size_t at = 4 + d[3]; at + 2 <= d.size(); at += 2 + d[at + 1]) {
      if ((d[at] & 0x3f) == code) return {d.begin() + at, d.begin() + at + 2 + d[at + 1]};
    }
    return {};
  }
};

TEST_F(ModePagesTest, AllPagesWithHeaderAndBlockDescriptor) {
  TaskResult r = run(Cdb::mode_sense6(0x3f));
  ASSERT_TRUE(IsGood(r));
  const auto& d = r.data_in;
  EXPECT_EQ(d[0] + 1u, d.size()) << "mode data length";
  EXPECT_EQ(d[2], 0x10) << "not write protected; DPOFUA";
  ASSERT_EQ(d[3], 8) << "short block descriptor";
  EXPECT_EQ(load_be32(&d[4]), blocks());
  EXPECT_EQ(load_be24(&d[9]), kBlock);
  const auto caching = page_in(d, 0x08);
  ASSERT_EQ(caching.size(), 20u);
  EXPECT_EQ(caching[2] & 0x04, 0x04) << "WCE";
  const auto control = page_in(d, 0x0a);
  ASSERT_EQ(control.size(), 12u);
  EXPECT_EQ(control[2] & 0x04, 0) << "D_SENSE clear: fixed-format sense";
  EXPECT_EQ(control[4] & 0x08, 0) << "SWP clear";
  EXPECT_LE(control[3] >> 4, 1) << "QUEUE ALGORITHM MODIFIER";
}

TEST_F(ModePagesTest, SinglePagesMatchAllPages) {
  const auto all = run(Cdb::mode_sense6(0x3f)).data_in;
  for (std::uint8_t code : {0x08, 0x0a}) {
    TaskResult r = run(Cdb::mode_sense6(code));
    ASSERT_TRUE(IsGood(r));
    EXPECT_EQ(page_in(r.data_in, code), page_in(all, code));
  }
}

TEST_F(ModePagesTest, DbdOmitsAndLlbaaWidensTheBlockDescriptor) {
  TaskResult dbd = run(Cdb::mode_sense6(0x08).bits(1, 0x08));
  ASSERT_TRUE(IsGood(dbd));
  EXPECT_EQ(dbd.data_in[3], 0);
  EXPECT_EQ(dbd.data_in.size(), 4u + 20u);
  TaskResult ten = run(Cdb::mode_sense10(0x3f).bits(1, 0x10));
  ASSERT_TRUE(IsGood(ten));
  const auto& d = ten.data_in;
  EXPECT_EQ(load_be16(&d[0]) + 2u, d.size());
  EXPECT_EQ(d[3], 0x10);
  EXPECT_EQ(d[4] & 0x01, 0x01) << "LONGLBA";
  ASSERT_EQ(load_be16(&d[6]), 16);
  EXPECT_EQ(load_be64(&d[8]), blocks());
  EXPECT_EQ(load_be32(&d[20]), kBlock);
}

TEST_F(ModePagesTest, PageControlValues) {
  TaskResult changeable = run(Cdb::mode_sense6(0x08, 255, 1));
  ASSERT_TRUE(IsGood(changeable));
  const auto mask = page_in(changeable.data_in, 0x08);
  EXPECT_EQ(mask[2], 0x04) << "only WCE is changeable";
  const auto control_mask = page_in(run(Cdb::mode_sense6(0x0a, 255, 1)).data_in, 0x0a);
  for (std::size_t i = 2; i < control_mask.size(); ++i) EXPECT_EQ(control_mask[i], 0) << i;
  EXPECT_TRUE(IsGood(run(Cdb::mode_sense6(0x3f, 255, 2))));
  EXPECT_TRUE(HasSense(run(Cdb::mode_sense6(0x3f, 255, 3)), sense_key::kIllegalRequest,
                       asc::kSavingParametersNotSupported));
}

TEST_F(ModePagesTest, UnknownPagesAndSubpages) {
  EXPECT_TRUE(
      HasSense(run(Cdb::mode_sense6(0x19)), sense_key::kIllegalRequest, asc::kInvalidFieldInCdb));
  EXPECT_TRUE(HasSense(run(Cdb::mode_sense6(0x08).set(3, 1)), sense_key::kIllegalRequest,
                       asc::kInvalidFieldInCdb));
  EXPECT_TRUE(IsGood(run(Cdb::mode_sense6(0x3f).set(3, 0xff))));
}

TEST_F(ModePagesTest, AllocationLengthTruncates) {
  TaskResult r = run(Cdb::mode_sense6(0x3f, 4));
  ASSERT_TRUE(IsGood(r));
  EXPECT_EQ(r.data_in.size(), 4u);
}

TEST_F(ModePagesTest, SelectChangesWceAndTellsOtherNexuses) {
  auto data = run(Cdb::mode_sense6(0x08).bits(1, 0x08)).data_in;
  data[0] = 0;  // MODE DATA LENGTH is reserved in MODE SELECT
  data[2] = 0;
  data[4 + 2] &= ~0x04;  // clear WCE
  ASSERT_TRUE(IsGood(run(Cdb::mode_select6(static_cast<std::uint8_t>(data.size())), data)));
  EXPECT_EQ(page_in(run(Cdb::mode_sense6(0x08)).data_in, 0x08)[2] & 0x04, 0);
  EXPECT_TRUE(HasSense(run(Cdb::test_unit_ready(), {}, &b), sense_key::kUnitAttention,
                       asc::kModeParametersChanged));
  EXPECT_TRUE(IsGood(run(Cdb::test_unit_ready(), {}, &a))) << "not for the nexus that changed it";
}

TEST_F(ModePagesTest, SelectRefusesUnchangeableBitsAndBadLists) {
  auto control = run(Cdb::mode_sense6(0x0a).bits(1, 0x08)).data_in;
  control[0] = 0;
  control[4 + 4] |= 0x08;  // SWP is not changeable
  TaskResult r = run(Cdb::mode_select6(static_cast<std::uint8_t>(control.size())), control);
  ASSERT_TRUE(HasSense(r, sense_key::kIllegalRequest, asc::kInvalidFieldInParameterList));
  EXPECT_EQ(parse_sense(r.sense).field, 8);
  std::vector<std::uint8_t> unknown = {0, 0, 0, 0, 0x19, 0x02, 0, 0};
  EXPECT_TRUE(HasSense(run(Cdb::mode_select6(8), unknown), sense_key::kIllegalRequest,
                       asc::kInvalidFieldInParameterList));
  std::vector<std::uint8_t> truncated = {0, 0, 0, 0, 0x08, 0x12, 0x04};
  EXPECT_TRUE(HasSense(run(Cdb::mode_select6(7), truncated), sense_key::kIllegalRequest,
                       asc::kParameterListLengthError));
  EXPECT_TRUE(HasSense(run(Cdb::mode_select6(4).bits(1, 0x01), unknown), sense_key::kIllegalRequest,
                       asc::kInvalidFieldInCdb))
      << "SP: nothing can be saved";
  EXPECT_TRUE(IsGood(run(Cdb::mode_select10(0))));
}

TEST_F(ModePagesTest, SelectChecksTheBlockDescriptor) {
  std::vector<std::uint8_t> data(12, 0);
  data[3] = 8;
  store_be24(&data[9], kBlock);
  EXPECT_TRUE(IsGood(run(Cdb::mode_select6(12), data)));
  store_be24(&data[9], 4096);
  EXPECT_TRUE(HasSense(run(Cdb::mode_select6(12), data), sense_key::kIllegalRequest,
                       asc::kInvalidFieldInParameterList));
}

}  // namespace
}  // namespace maya::scsi::test
