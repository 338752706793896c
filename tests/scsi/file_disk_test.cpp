// The SCSI disk on a FileBackend over a real sparse file: GET LBA STATUS reports its holes,
// UNMAP punches them, READ CAPACITY(16) advertises LBPME and LBPRZ. (FileBackend alone is
// tests/block/file_backend_test.cpp.)
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "lib/block/file_backend.h"
#include "tests/scsi/disk_fixture.h"

namespace maya::block {
namespace {

namespace fs = std::filesystem;

class FileDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("maya-file-disk-" + std::to_string(rd()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<FileBackend> create(std::uint64_t size) {
    auto b = FileBackend::open(dir_ / "disk.img", {.size = size, .create = true});
    EXPECT_TRUE(b) << (b ? "" : b.error().message);
    return b ? std::move(*b) : nullptr;
  }
  std::string no_holes_reason() const {
    return "SKIP: the file system of " + dir_.string() +
           " cannot punch holes (set TMPDIR to ext4, xfs, btrfs or tmpfs)";
  }

  fs::path dir_;
};

TEST_F(FileDiskTest, ReportsHolesThroughGetLbaStatus) {
  auto b = create(8ull << 20);
  ASSERT_TRUE(b);
  if (!b->thin()) GTEST_SKIP() << no_holes_reason();
  auto disk = scsi::make_disk(*b, scsi::Identity{.serial = "FILE1"});
  using scsi::test::Cdb;
  auto run = [&](const Cdb& cdb, std::span<const std::uint8_t> data = {}) {
    scsi::Task t;
    t.cdb = cdb.span();
    t.data_out = data;
    return disk->execute(t);
  };
  const std::vector<std::uint8_t> data(64 * 1024, 0x33);
  ASSERT_TRUE(scsi::test::IsGood(run(Cdb::write(16, 2048, 128), data)));
  auto status = run(Cdb::get_lba_status(0, 8 + 16 * 3));
  ASSERT_TRUE(scsi::test::IsGood(status));
  const auto& d = status.data_in;
  ASSERT_EQ(d.size(), 8u + 48u);
  EXPECT_EQ(load_be32(&d[8 + 8]), 2048u) << "hole before the data";
  EXPECT_EQ(d[8 + 12], 1);
  EXPECT_EQ(load_be64(&d[24]), 2048u);
  EXPECT_EQ(d[24 + 12], 0) << "the written range is mapped";
  EXPECT_EQ(d[40 + 12], 1) << "and a hole after it";
  ASSERT_TRUE(scsi::test::IsGood(run(Cdb::unmap_cdb(24), scsi::test::unmap_params({{2048, 128}}))));
  auto after = run(Cdb::get_lba_status(2048));
  EXPECT_EQ(after.data_in[8 + 12], 1) << "UNMAP punched the file";
  auto rc16 = run(Cdb::read_capacity16());
  EXPECT_EQ(rc16.data_in[14] & 0xc0, 0xc0) << "LBPME and LBPRZ on a file system with holes";
}

}  // namespace
}  // namespace maya::block
