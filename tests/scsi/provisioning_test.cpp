// Thin provisioning: UNMAP and WRITE SAME with UNMAP make holes that GET LBA STATUS reports and
// that read back as zeros; WRITE SAME writes patterns; parameter list and CDB errors.
#include <gtest/gtest.h>

#include "tests/scsi/disk_fixture.h"

namespace maya::scsi::test {
namespace {

struct LbaStatus {
  std::uint64_t lba;
  std::uint32_t blocks;
  std::uint8_t status;  // 0 mapped, 1 deallocated
};

class ProvisioningTest : public DiskTest {
 protected:
  std::vector<LbaStatus> lba_status(std::uint64_t lba, std::uint32_t alloc = 1024) {
    TaskResult r = run(Cdb::get_lba_status(lba, alloc));
    EXPECT_TRUE(IsGood(r));
    std::vector<LbaStatus> out;
    if (r.data_in.size() < 8) return out;
    EXPECT_EQ(load_be32(&r.data_in[0]) + 4, r.data_in.size());
    for (std::size_t at = 8; at + 16 <= r.data_in.size(); at += 16) {
      out.push_back({load_be64(&r.data_in[at]), load_be32(&r.data_in[at + 8]),
                     static_cast<std::uint8_t>(r.data_in[at + 12] & 0x0f)});
    }
    return out;
  }
};

TEST_F(ProvisioningTest, UnmapMakesHolesThatGetLbaStatusReports) {
  write_blocks(0, pattern(64 * kBlock, 1));
  ASSERT_TRUE(IsGood(run(Cdb::unmap_cdb(24), unmap_params({{16, 8}}))));
  const auto status = lba_status(0);
  ASSERT_GE(status.size(), 3u);
  EXPECT_EQ(status[0].lba, 0u);
  EXPECT_EQ(status[0].blocks, 16u);
  EXPECT_EQ(status[0].status, 0);
  EXPECT_EQ(status[1].lba, 16u);
  EXPECT_EQ(status[1].blocks, 8u);
  EXPECT_EQ(status[1].status, 1);
  EXPECT_EQ(status[2].lba, 24u);
  EXPECT_EQ(status[2].status, 0);
  EXPECT_EQ(read_blocks(16, 8), std::vector<std::uint8_t>(8 * kBlock, 0)) << "LBPRZ";
  // The block right after the hole is still mapped, as libiscsi's UnmapSingle checks.
  EXPECT_EQ(lba_status(24, 24).at(0).status, 0);
}

TEST_F(ProvisioningTest, UnmapSeveralDescriptors) {
  write_blocks(0, pattern(32 * kBlock, 1));
  ASSERT_TRUE(IsGood(run(Cdb::unmap_cdb(56), unmap_params({{0, 1}, {4, 2}, {31, 1}}))));
  EXPECT_FALSE(backend->mapped(0));
  EXPECT_TRUE(backend->mapped(1 * kBlock));
  EXPECT_FALSE(backend->mapped(5 * kBlock));
  EXPECT_FALSE(backend->mapped(31 * kBlock));
}

TEST_F(ProvisioningTest, UnmapZeroCountsAndEmptyListsAreNoErrors) {
  EXPECT_TRUE(IsGood(run(Cdb::unmap_cdb(0))));
  EXPECT_TRUE(IsGood(run(Cdb::unmap_cdb(8), unmap_params({}))));
  EXPECT_TRUE(IsGood(run(Cdb::unmap_cdb(24), unmap_params({{blocks(), 0}}))))
      << "zero blocks at the end of the LUN";
}

TEST_F(ProvisioningTest, UnmapParameterListErrors) {
  EXPECT_TRUE(HasSense(run(Cdb::unmap_cdb(6), unmap_params({})), sense_key::kIllegalRequest,
                       asc::kParameterListLengthError));
  EXPECT_TRUE(HasSense(run(Cdb::unmap_cdb(24), unmap_params({{blocks() - 1, 2}})),
                       sense_key::kIllegalRequest, asc::kLbaOutOfRange));
  std::vector<std::uint8_t> many(8 + 16 * 1025, 0);
  store_be16(&many[2], static_cast<std::uint16_t>(16 * 1025));
  TaskResult r = run(Cdb::unmap_cdb(static_cast<std::uint16_t>(many.size())), many);
  ASSERT_TRUE(HasSense(r, sense_key::kIllegalRequest, asc::kInvalidFieldInParameterList));
  EXPECT_FALSE(parse_sense(r.sense).in_cdb);
}

TEST_F(ProvisioningTest, WriteSameWritesThePatternEverywhere) {
  for (int size : {10, 16}) {
    const auto block = pattern(kBlock, static_cast<std::uint8_t>(size));
    ASSERT_TRUE(IsGood(run(Cdb::write_same(size, blocks() - 300, 300), block)));
    const auto all = read_blocks(blocks() - 300, 300);
    for (std::size_t i = 0; i < 300; ++i) {
      ASSERT_TRUE(std::equal(block.begin(), block.end(), all.begin() + i * kBlock)) << i;
    }
  }
}

TEST_F(ProvisioningTest, WriteSameUnmapPunchesHoles) {
  write_blocks(100, pattern(10 * kBlock, 1));
  ASSERT_TRUE(IsGood(run(Cdb::write_same(16, 100, 10).unmap(), pattern(kBlock, 0xff))));
  EXPECT_EQ(read_blocks(100, 10), std::vector<std::uint8_t>(10 * kBlock, 0));
  EXPECT_EQ(lba_status(100).at(0).status, 1);
  write_blocks(100, pattern(10 * kBlock, 1));
  ASSERT_TRUE(IsGood(run(Cdb::write_same(10, 100, 10).unmap().anchor(), pattern(kBlock, 0))));
  EXPECT_FALSE(backend->mapped(100 * kBlock));
}

TEST_F(ProvisioningTest, WriteSameNdobWritesZerosWithoutData) {
  write_blocks(7, pattern(2 * kBlock, 1));
  ASSERT_TRUE(IsGood(run(Cdb::write_same(16, 7, 2).ndob())));
  EXPECT_EQ(read_blocks(7, 2), std::vector<std::uint8_t>(2 * kBlock, 0));
  EXPECT_TRUE(backend->mapped(7 * kBlock)) << "written, not deallocated";
  ASSERT_TRUE(IsGood(run(Cdb::write_same(16, 7, 2).ndob().unmap())));
  EXPECT_FALSE(backend->mapped(7 * kBlock));
}

TEST_F(ProvisioningTest, WriteSameFieldChecks) {
  const auto block = pattern(kBlock, 1);
  TaskResult zero = run(Cdb::write_same(10, 0, 0), block);
  ASSERT_TRUE(HasSense(zero, sense_key::kIllegalRequest, asc::kInvalidFieldInCdb)) << "WSNZ";
  EXPECT_EQ(parse_sense(zero.sense).field, 7);
  EXPECT_TRUE(HasSense(run(Cdb::write_same(16, 0, (1u << 20) + 1), block),
                       sense_key::kIllegalRequest, asc::kInvalidFieldInCdb));
  EXPECT_TRUE(HasSense(run(Cdb::write_same(10, blocks() - 1, 2), block), sense_key::kIllegalRequest,
                       asc::kLbaOutOfRange));
  EXPECT_TRUE(HasSense(run(Cdb::write_same(16, ~0ull, 1), block), sense_key::kIllegalRequest,
                       asc::kLbaOutOfRange));
  EXPECT_TRUE(HasSense(run(Cdb::write_same(10, 0, 1).anchor(), block), sense_key::kIllegalRequest,
                       asc::kInvalidFieldInCdb));
  EXPECT_TRUE(HasSense(run(Cdb::write_same(10, 0, 1).protect(1), block), sense_key::kIllegalRequest,
                       asc::kInvalidFieldInCdb));
  EXPECT_TRUE(HasSense(run(Cdb::write_same(10, 0, 1), pattern(kBlock / 2, 1)),
                       sense_key::kIllegalRequest, asc::kInvalidFieldInCommandIu));
  EXPECT_TRUE(HasSense(run(Cdb::write_same(10, 0, 1).unmap(), pattern(2 * kBlock, 1)),
                       sense_key::kIllegalRequest, asc::kInvalidFieldInCommandIu));
}

TEST_F(ProvisioningTest, WriteSameUnmapNeedsThinProvisioning) {
  make(block::MemoryBackendOptions{.size = 8ull << 20, .thin = false});
  EXPECT_TRUE(HasSense(run(Cdb::write_same(16, 0, 1).unmap(), pattern(kBlock, 0)),
                       sense_key::kIllegalRequest, asc::kInvalidFieldInCdb));
  EXPECT_TRUE(IsGood(run(Cdb::write_same(16, 0, 1), pattern(kBlock, 0))));
}

TEST_F(ProvisioningTest, GetLbaStatusAtTheEndAndBeyond) {
  auto tail = lba_status(blocks() - 1);
  ASSERT_EQ(tail.size(), 1u);
  EXPECT_EQ(tail[0].lba, blocks() - 1);
  EXPECT_EQ(tail[0].blocks, 1u);
  EXPECT_EQ(tail[0].status, 1) << "never written";
  EXPECT_TRUE(HasSense(run(Cdb::get_lba_status(blocks())), sense_key::kIllegalRequest,
                       asc::kLbaOutOfRange));
  EXPECT_TRUE(HasSense(run(Cdb::get_lba_status(1ull << 63)), sense_key::kIllegalRequest,
                       asc::kLbaOutOfRange));
}

TEST_F(ProvisioningTest, GetLbaStatusFitsTheAllocationLength) {
  for (std::uint64_t lba = 0; lba < 64; lba += 4) write_blocks(lba, pattern(2 * kBlock, 1));
  EXPECT_EQ(lba_status(0, 24).size(), 1u);
  EXPECT_EQ(lba_status(0, 56).size(), 3u);
  TaskResult r = run(Cdb::get_lba_status(0, 16));
  ASSERT_TRUE(IsGood(r));
  EXPECT_EQ(r.data_in.size(), 16u);
}

TEST_F(ProvisioningTest, FullyProvisionedDiskReportsEverythingMapped) {
  make(block::MemoryBackendOptions{.size = 8ull << 20, .thin = false});
  const auto status = lba_status(5);
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(status[0].blocks, blocks() - 5);
  EXPECT_EQ(status[0].status, 0);
}

}  // namespace
}  // namespace maya::scsi::test
