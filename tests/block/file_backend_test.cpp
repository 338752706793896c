// FileBackend on real sparse files in a temporary directory: sizing, thin provisioning (holes
// stay holes, discard punches, extent_at), durability calls. The SCSI disk on top of one is
// tests/scsi/file_disk_test.cpp.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "lib/block/file_backend.h"

namespace maya::block {
namespace {

namespace fs = std::filesystem;

std::vector<std::byte> bytes(std::size_t n, std::uint8_t value) {
  return std::vector<std::byte>(n, std::byte{value});
}

class FileBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("maya-file-backend-" + std::to_string(rd()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<FileBackend> create(std::uint64_t size) {
    auto b = FileBackend::open(path(), {.size = size, .create = true});
    EXPECT_TRUE(b) << (b ? "" : b.error().message);
    return b ? std::move(*b) : nullptr;
  }
  fs::path path() const { return dir_ / "disk.img"; }
  std::uint64_t allocated_bytes() const {
    struct stat st {};
    ::stat(path().c_str(), &st);
    return static_cast<std::uint64_t>(st.st_blocks) * 512;
  }
  std::string no_holes_reason() const {
    return "SKIP: the file system of " + dir_.string() +
           " cannot punch holes (set TMPDIR to ext4, xfs, btrfs or tmpfs)";
  }

  fs::path dir_;
};

TEST_F(FileBackendTest, CreatesASparseFileOfTheGivenSize) {
  auto b = create(64ull << 20);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->size_bytes(), 64ull << 20);
  EXPECT_EQ(b->block_size(), 512u);
  EXPECT_EQ(fs::file_size(path()), 64ull << 20);
  EXPECT_LT(allocated_bytes(), 1u << 20) << "a new volume takes no space";
}

TEST_F(FileBackendTest, SizeComesFromTheFileAndIsRoundedToBlocks) {
  { std::ofstream(path()) << std::string(5000, 'x'); }
  auto b = FileBackend::open(path());
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ((*b)->size_bytes(), 4608u);
  auto grown = FileBackend::open(path(), {.size = 1 << 20});
  ASSERT_TRUE(grown);
  EXPECT_EQ(fs::file_size(path()), 1u << 20) << "grown when asked";
  auto smaller = FileBackend::open(path(), {.size = 8192});
  ASSERT_TRUE(smaller);
  EXPECT_EQ((*smaller)->size_bytes(), 8192u);
  EXPECT_EQ(fs::file_size(path()), 1u << 20) << "never shrunk";
}

TEST_F(FileBackendTest, RefusesWhatItCannotServe) {
  EXPECT_FALSE(FileBackend::open(dir_ / "missing.img"));
  EXPECT_FALSE(FileBackend::open(path(), {.create = true})) << "creating needs a size";
  { std::ofstream(path()) << "tiny"; }
  auto tiny = FileBackend::open(path());
  ASSERT_FALSE(tiny);
  EXPECT_NE(tiny.error().message.find("less than one block"), std::string::npos);
  EXPECT_FALSE(FileBackend::open(path(), {.size = 1 << 20, .block_size = 1000}));
  EXPECT_FALSE(FileBackend::open(dir_));
}

TEST_F(FileBackendTest, WritesReadBackAndStayInRange) {
  auto b = create(1 << 20);
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->write(4096, bytes(8192, 0x5a), false));
  ASSERT_TRUE(b->write(0, bytes(512, 0x11), true));
  ASSERT_TRUE(b->flush());
  auto out = bytes(8192, 0);
  ASSERT_TRUE(b->read(4096, out));
  EXPECT_EQ(out, bytes(8192, 0x5a));
  EXPECT_FALSE(b->read((1 << 20) - 512, out));
  EXPECT_FALSE(b->write(1 << 20, bytes(512, 0), false));
}

// Large aligned writes go around the page cache, others through it, and every read sees the
// last write whichever way each went: a direct write drops the cached pages it replaces.
TEST_F(FileBackendTest, DirectAndBufferedWritesOfOneRangeReadBackInOrder) {
  auto b = create(1 << 20);
  ASSERT_TRUE(b);
  if (!b->writes_direct())
    GTEST_SKIP() << "SKIP: the file system of " << dir_ << " has no direct I/O (set TMPDIR)";
  constexpr std::size_t kAlign = FileBackend::kDirectAlign;
  constexpr std::size_t kSize = FileBackend::kDirectMinBytes;
  std::vector<std::byte> storage(kSize + kAlign);
  const auto base = reinterpret_cast<std::uintptr_t>(storage.data());
  std::span<std::byte> aligned(storage.data() + (kAlign - base % kAlign) % kAlign, kSize);
  auto out = bytes(kSize, 0);

  ASSERT_TRUE(b->write(8192, bytes(kSize, 0x11), false));  // buffered (unaligned memory)
  ASSERT_TRUE(b->read(8192, out));                         // now cached
  std::fill(aligned.begin(), aligned.end(), std::byte{0x22});
  ASSERT_TRUE(b->write(8192, aligned, false));  // direct
  ASSERT_TRUE(b->read(8192, out));
  EXPECT_EQ(out, bytes(kSize, 0x22));
  ASSERT_TRUE(b->write(8192 + 512, bytes(512, 0x33), true));  // buffered, FUA
  ASSERT_TRUE(b->read(8192, out));
  EXPECT_EQ(out[511], std::byte{0x22});
  EXPECT_EQ(out[512], std::byte{0x33});
  EXPECT_EQ(out[1024], std::byte{0x22});
  std::fill(aligned.begin(), aligned.end(), std::byte{0x44});
  ASSERT_TRUE(b->write(8192, aligned, true));  // direct, FUA
  ASSERT_TRUE(b->flush());
  ASSERT_TRUE(b->read(8192, out));
  EXPECT_EQ(out, bytes(kSize, 0x44));
  EXPECT_TRUE(b->writes_direct()) << "a direct write was refused and turned direct I/O off";
  // What another reader of the file sees (no cache of ours in between).
  std::ifstream file(path(), std::ios::binary);
  file.seekg(8192);
  std::vector<char> raw(kSize);
  file.read(raw.data(), static_cast<std::streamsize>(raw.size()));
  EXPECT_EQ(raw[0], 0x44);
  EXPECT_EQ(raw[kSize - 1], 0x44);
}

TEST_F(FileBackendTest, HolesStayHolesAfterWritesElsewhere) {
  auto b = create(16ull << 20);
  ASSERT_TRUE(b);
  if (!b->thin()) GTEST_SKIP() << no_holes_reason();
  ASSERT_TRUE(b->write(8ull << 20, bytes(64 * 1024, 1), false));
  auto head = b->extent_at(0);
  ASSERT_TRUE(head);
  EXPECT_FALSE(head->mapped);
  EXPECT_EQ(head->length, 8ull << 20);
  auto data = b->extent_at(8ull << 20);
  ASSERT_TRUE(data);
  EXPECT_TRUE(data->mapped);
  EXPECT_GE(data->length, 64u * 1024);
  auto tail = b->extent_at(data->offset + data->length);
  ASSERT_TRUE(tail);
  EXPECT_FALSE(tail->mapped);
  EXPECT_EQ(tail->offset + tail->length, 16ull << 20) << "ENXIO at the end is a hole to EOF";
  EXPECT_LT(allocated_bytes(), 1u << 20);
}

TEST_F(FileBackendTest, DiscardPunchesHolesThatReadZero) {
  auto b = create(4ull << 20);
  ASSERT_TRUE(b);
  if (!b->thin()) GTEST_SKIP() << no_holes_reason();
  EXPECT_TRUE(b->discard_zeroes());
  ASSERT_TRUE(b->write(0, bytes(1 << 20, 0xab), false));
  ASSERT_TRUE(b->discard(256 * 1024, 512 * 1024));
  auto hole = b->extent_at(256 * 1024);
  ASSERT_TRUE(hole);
  EXPECT_FALSE(hole->mapped);
  EXPECT_EQ(hole->length, 512u * 1024);
  EXPECT_TRUE(b->extent_at(0)->mapped);
  auto out = bytes(512 * 1024, 0xff);
  ASSERT_TRUE(b->read(256 * 1024, out));
  EXPECT_EQ(out, bytes(512 * 1024, 0));
  // A sub-block discard zeroes without deallocating: reads still return zeros.
  ASSERT_TRUE(b->discard(512, 512));
  auto small = bytes(512, 0xff);
  ASSERT_TRUE(b->read(512, small));
  EXPECT_EQ(small, bytes(512, 0));
  EXPECT_TRUE(b->discard(0, 0));
  EXPECT_FALSE(b->discard(4ull << 20, 512));
}

TEST_F(FileBackendTest, GrowKeepsTheDataAndTheNewRangeReadsZeros) {
  auto b = create(1 << 20);
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->write(0, bytes(4096, 0x5a), false));
  EXPECT_FALSE(b->write(1 << 20, bytes(512, 1), false)) << "past the end before the grow";
  ASSERT_TRUE(b->grow(3 << 20)) << "grow";
  EXPECT_EQ(b->size_bytes(), 3u << 20);
  EXPECT_EQ(fs::file_size(path()), 3u << 20);
  auto old = bytes(4096, 0);
  ASSERT_TRUE(b->read(0, old));
  EXPECT_EQ(old, bytes(4096, 0x5a));
  auto fresh = bytes(1 << 20, 0xff);
  ASSERT_TRUE(b->read(1 << 20, fresh));
  EXPECT_EQ(fresh, bytes(1 << 20, 0));
  ASSERT_TRUE(b->write((3 << 20) - 512, bytes(512, 7), false)) << "the new last block";
  EXPECT_TRUE(b->grow(3 << 20)) << "the same size changes nothing";
  EXPECT_FALSE(b->grow(2 << 20)) << "no shrinking";
  EXPECT_FALSE(b->grow((4 << 20) + 100)) << "whole blocks only";
  EXPECT_EQ(b->size_bytes(), 3u << 20);
}

TEST_F(FileBackendTest, GrowCutsOffBytesPastTheExportedEndFirst) {
  // A file larger than what it exports: what lies past the end was never the volume's.
  { std::ofstream(path()) << std::string(8192, 'x'); }
  auto b = FileBackend::open(path(), {.size = 4096});
  ASSERT_TRUE(b) << b.error().message;
  ASSERT_TRUE((*b)->grow(16384));
  auto tail = bytes(12288, 0xff);
  ASSERT_TRUE((*b)->read(4096, tail));
  EXPECT_EQ(tail, bytes(12288, 0));
  auto head = bytes(4096, 0);
  ASSERT_TRUE((*b)->read(0, head));
  EXPECT_EQ(head, bytes(4096, 'x'));
}

TEST_F(FileBackendTest, AThickFileIsAllocatedWhenGrownAtOpenAndByGrow) {
  auto thick = [&] {
    return FileBackend::open(path(), {.size = 8 << 20, .create = true, .preallocate = true});
  };
  auto b = thick();
  ASSERT_TRUE(b) << b.error().message;
  if (allocated_bytes() < (8u << 20))
    GTEST_SKIP() << "SKIP: the file system of " << dir_ << " does not preallocate";
  ASSERT_TRUE((*b)->grow(16 << 20));
  EXPECT_GE(allocated_bytes(), 16u << 20) << "the new range is allocated";
  auto sparse = FileBackend::open(path(), {.size = 16 << 20});
  ASSERT_TRUE(sparse);
  ASSERT_TRUE((*sparse)->grow(20 << 20));
  EXPECT_LT(allocated_bytes(), 20u << 20) << "a thin file's new range stays a hole";
}

}  // namespace
}  // namespace maya::block
