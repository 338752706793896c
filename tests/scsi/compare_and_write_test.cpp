// COMPARE AND WRITE: match and miscompare (with the offset in INFORMATION), field checks, and
// atomicity when many threads race on the same block.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "tests/scsi/disk_fixture.h"

namespace maya::scsi::test {
namespace {

class CompareAndWriteTest : public DiskTest {
 protected:
  static std::vector<std::uint8_t> both(const std::vector<std::uint8_t>& compare,
                                        const std::vector<std::uint8_t>& write) {
    std::vector<std::uint8_t> v(compare);
    v.insert(v.end(), write.begin(), write.end());
    return v;
  }
};

TEST_F(CompareAndWriteTest, MatchWritesTheSecondHalf) {
  const auto old_data = pattern(2 * kBlock, 1);
  const auto new_data = pattern(2 * kBlock, 2);
  write_blocks(30, old_data);
  ASSERT_TRUE(IsGood(run(Cdb::compare_and_write(30, 2), both(old_data, new_data))));
  EXPECT_EQ(read_blocks(30, 2), new_data);
}

TEST_F(CompareAndWriteTest, MiscompareLeavesTheMediumAndReportsTheOffset) {
  const auto old_data = pattern(3 * kBlock, 1);
  write_blocks(blocks() - 3, old_data);
  auto compare = old_data;
  compare[3 * kBlock - 27] ^= 0x55;  // one byte near the end of the last block
  TaskResult r =
      run(Cdb::compare_and_write(blocks() - 3, 3), both(compare, pattern(3 * kBlock, 9)));
  ASSERT_TRUE(HasSense(r, sense_key::kMiscompare, asc::kMiscompareDuringVerify));
  const SenseView s = parse_sense(r.sense);
  EXPECT_TRUE(s.valid);
  EXPECT_EQ(s.information, 3 * kBlock - 27);
  EXPECT_EQ(read_blocks(blocks() - 3, 3), old_data);
}

TEST_F(CompareAndWriteTest, UnwrittenBlocksCompareAsZeros) {
  EXPECT_TRUE(HasSense(run(Cdb::compare_and_write(200, 1),
                           both(std::vector<std::uint8_t>(kBlock, '%'), pattern(kBlock, 1))),
                       sense_key::kMiscompare, asc::kMiscompareDuringVerify));
  EXPECT_TRUE(IsGood(run(Cdb::compare_and_write(200, 1),
                         both(std::vector<std::uint8_t>(kBlock, 0), pattern(kBlock, 1)))));
}

TEST_F(CompareAndWriteTest, FieldChecks) {
  const auto data = both(std::vector<std::uint8_t>(kBlock, 0), pattern(kBlock, 1));
  EXPECT_TRUE(HasSense(run(Cdb::compare_and_write(0, 1).protect(1), data),
                       sense_key::kIllegalRequest, asc::kInvalidFieldInCdb));
  EXPECT_TRUE(HasSense(run(Cdb::compare_and_write(blocks(), 1), data), sense_key::kIllegalRequest,
                       asc::kLbaOutOfRange));
  // NUMBER OF LOGICAL BLOCKS 0 is a no-op without data, an error with it.
  EXPECT_TRUE(IsGood(run(Cdb::compare_and_write(0, 0))));
  TaskResult r = run(Cdb::compare_and_write(0, 0), data);
  ASSERT_TRUE(HasSense(r, sense_key::kIllegalRequest, asc::kInvalidFieldInCdb));
  EXPECT_EQ(parse_sense(r.sense).field, 13);
  // The Data-Out buffer must be exactly twice the blocks: too small and too large fail.
  EXPECT_TRUE(HasSense(run(Cdb::compare_and_write(0, 2), data), sense_key::kIllegalRequest,
                       asc::kInvalidFieldInCdb));
  EXPECT_TRUE(HasSense(run(Cdb::compare_and_write(0, 1), pattern(4 * kBlock, 0)),
                       sense_key::kIllegalRequest, asc::kInvalidFieldInCdb));
}

TEST_F(CompareAndWriteTest, DpoAndFuaAreAccepted) {
  const auto data = both(std::vector<std::uint8_t>(kBlock, 0), pattern(kBlock, 1));
  ASSERT_TRUE(IsGood(run(Cdb::compare_and_write(0, 1).dpo().fua(), data)));
  EXPECT_EQ(backend->fua_writes(), 1u);
}

TEST_F(CompareAndWriteTest, ConcurrentIncrementsNeverLoseAnUpdate) {
  // Every thread reads the counter block and swaps it for counter + 1; a lost update would
  // need two compare-and-writes to both succeed on the same old value.
  write_blocks(0, std::vector<std::uint8_t>(kBlock, 0));
  std::atomic<int> successes{0};
  auto worker = [&](const Nexus* nexus) {
    for (int i = 0; i < 300; ++i) {
      Task read_task;
      const Cdb read = Cdb::read(10, 0, 1);
      read_task.cdb = read.span();
      read_task.nexus = nexus;
      const auto current = disk->execute(read_task).data_in;
      auto next = current;
      store_be32(next.data(), load_be32(current.data()) + 1);
      auto data = both(current, next);
      Task caw;
      const Cdb cdb = Cdb::compare_and_write(0, 1);
      caw.cdb = cdb.span();
      caw.data_out = data;
      caw.nexus = nexus;
      if (disk->execute(caw).status == status::kGood) ++successes;
      // Unrelated writes race with the compare-and-writes.
      Task w;
      const Cdb write = Cdb::write(10, 1, 1);
      const auto noise = pattern(kBlock, static_cast<std::uint8_t>(i));
      w.cdb = write.span();
      w.data_out = noise;
      w.nexus = nexus;
      disk->execute(w);
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back(worker, t % 2 ? &a : &b);
  for (auto& t : threads) t.join();
  EXPECT_EQ(load_be32(read_blocks(0, 1).data()), static_cast<std::uint32_t>(successes.load()));
  EXPECT_GT(successes.load(), 0);
}

}  // namespace
}  // namespace maya::scsi::test
