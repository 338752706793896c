// TEST UNIT READY, REQUEST SENSE, START STOP UNIT, REPORT LUNS, SYNCHRONIZE CACHE, PRE-FETCH.
#include <gtest/gtest.h>

#include "tests/scsi/disk_fixture.h"

namespace maya::scsi::test {
namespace {

class DeviceCommandsTest : public DiskTest {};

TEST_F(DeviceCommandsTest, TestUnitReadyAndRequestSense) {
  EXPECT_TRUE(IsGood(run(Cdb::test_unit_ready())));
  TaskResult r = run(Cdb::request_sense(252));
  ASSERT_TRUE(IsGood(r));
  ASSERT_EQ(r.data_in.size(), 18u);
  EXPECT_EQ(r.data_in[0], 0x70);
  EXPECT_EQ(r.data_in[2], 0);
  EXPECT_EQ(run(Cdb::request_sense(8)).data_in.size(), 8u);
  EXPECT_TRUE(HasSense(run(Cdb::request_sense().set(1, 0x01)), sense_key::kIllegalRequest,
                       asc::kInvalidFieldInCdb))
      << "descriptor format is not supported";
}

TEST_F(DeviceCommandsTest, StartStopUnit) {
  EXPECT_TRUE(IsGood(run(Cdb::start_stop_unit(0x01))));  // START
  const auto flushes = backend->flushes();
  EXPECT_TRUE(IsGood(run(Cdb::start_stop_unit(0x00))));  // STOP flushes the cache
  EXPECT_EQ(backend->flushes(), flushes + 1);
  EXPECT_TRUE(IsGood(run(Cdb::start_stop_unit(0x04))));  // STOP with NO_FLUSH
  EXPECT_EQ(backend->flushes(), flushes + 1);
  EXPECT_TRUE(IsGood(run(Cdb::start_stop_unit(0x30))));  // a power condition
  EXPECT_TRUE(IsGood(run(Cdb::read(10, 0, 1)))) << "still ready";
  TaskResult eject = run(Cdb::start_stop_unit(0x02));
  ASSERT_TRUE(HasSense(eject, sense_key::kIllegalRequest, asc::kInvalidFieldInCdb))
      << "LOEJ: the medium is not removable";
  EXPECT_EQ(parse_sense(eject.sense).field, 4);
}

TEST_F(DeviceCommandsTest, ReportLunsListsLunZero) {
  TaskResult r = run(Cdb::report_luns());
  ASSERT_TRUE(IsGood(r));
  ASSERT_EQ(r.data_in.size(), 16u);
  EXPECT_EQ(load_be32(&r.data_in[0]), 8u);
  EXPECT_EQ(load_be64(&r.data_in[8]), 0u);
  TaskResult well_known = run(Cdb::report_luns(4096, 1));
  ASSERT_TRUE(IsGood(well_known));
  EXPECT_EQ(load_be32(&well_known.data_in[0]), 0u);
  EXPECT_TRUE(IsGood(run(Cdb::report_luns(4096, 2))));
  EXPECT_TRUE(HasSense(run(Cdb::report_luns(4096, 7)), sense_key::kIllegalRequest,
                       asc::kInvalidFieldInCdb));
  EXPECT_EQ(run(Cdb::report_luns(12)).data_in.size(), 12u);
}

TEST_F(DeviceCommandsTest, SynchronizeCacheFlushesAndChecksTheRange) {
  for (int size : {10, 16}) {
    const auto before = backend->flushes();
    EXPECT_TRUE(IsGood(run(Cdb::synchronize_cache(size))));
    EXPECT_TRUE(IsGood(run(Cdb::synchronize_cache(size, 0, static_cast<std::uint32_t>(blocks())))));
    EXPECT_TRUE(IsGood(run(Cdb::synchronize_cache(size, 5, 10).bits(1, 0x02))));  // IMMED
    EXPECT_EQ(backend->flushes(), before + 3);
    EXPECT_TRUE(HasSense(run(Cdb::synchronize_cache(size, blocks(), 1)), sense_key::kIllegalRequest,
                         asc::kLbaOutOfRange));
  }
  backend->inject_fault(block::MemoryBackend::Fault::flush);
  EXPECT_TRUE(HasSense(run(Cdb::synchronize_cache(10)), sense_key::kMediumError, asc::kWriteError));
}

TEST_F(DeviceCommandsTest, PreFetchChecksTheRange) {
  for (int size : {10, 16}) {
    EXPECT_TRUE(IsGood(run(Cdb::pre_fetch(size, 0, 1))));
    EXPECT_TRUE(IsGood(run(Cdb::pre_fetch(size, blocks() - 1, 1).bits(1, 0x02))));
    EXPECT_TRUE(IsGood(run(Cdb::pre_fetch(size, 0, 0))));
    EXPECT_TRUE(HasSense(run(Cdb::pre_fetch(size, blocks() - 1, 2)), sense_key::kIllegalRequest,
                         asc::kLbaOutOfRange));
  }
}

}  // namespace
}  // namespace maya::scsi::test
