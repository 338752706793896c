// The conformance tests every storage driver passes; see storage_driver_suite.h.
#include "tests/conformance/storage_driver_suite.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <set>
#include <vector>

#include "lib/common/log.h"

namespace maya::testing {
namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t kMiB = 1024 * 1024;
constexpr std::uint64_t kGiB = 1024 * kMiB;
constexpr std::size_t kBlock = 4096;

// A 4 KiB pattern unique to `seed`, in a buffer aligned for O_DIRECT.
struct Block {
  explicit Block(unsigned seed)
      : data(static_cast<unsigned char*>(std::aligned_alloc(kBlock, kBlock))) {
    for (std::size_t i = 0; i < kBlock; ++i)
      data[i] = static_cast<unsigned char>((i * 31 + seed) ^ (seed >> 3));
  }
  ~Block() { std::free(data); }
  Block(const Block&) = delete;
  Block& operator=(const Block&) = delete;
  unsigned char* data;
};

// Writes `seed`'s block at `offset` of the device with O_DIRECT, so it really reaches the device.
::testing::AssertionResult write_block(const fs::path& device, std::uint64_t offset,
                                       unsigned seed) {
  int fd = ::open(device.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
  if (fd < 0)
    return ::testing::AssertionFailure() << "open " << device << ": " << std::strerror(errno);
  Block block(seed);
  ssize_t n = ::pwrite(fd, block.data, kBlock, static_cast<off_t>(offset));
  int err = errno;
  bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (n != static_cast<ssize_t>(kBlock) || !synced)
    return ::testing::AssertionFailure() << "pwrite " << device << ": " << std::strerror(err);
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult block_holds(const fs::path& device, std::uint64_t offset,
                                       unsigned seed) {
  int fd = ::open(device.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
  if (fd < 0)
    return ::testing::AssertionFailure() << "open " << device << ": " << std::strerror(errno);
  Block expected(seed);
  Block actual(seed + 1);
  ssize_t n = ::pread(fd, actual.data, kBlock, static_cast<off_t>(offset));
  int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(kBlock))
    return ::testing::AssertionFailure() << "pread " << device << ": " << std::strerror(err);
  if (std::memcmp(expected.data, actual.data, kBlock) != 0)
    return ::testing::AssertionFailure() << "block at " << offset << " of " << device << " differs";
  return ::testing::AssertionSuccess();
}

std::uint64_t device_size(const fs::path& device) {
  int fd = ::open(device.c_str(), O_RDONLY | O_CLOEXEC);
  std::uint64_t size = 0;
  if (fd >= 0) {
    if (::ioctl(fd, BLKGETSIZE64, &size) != 0) size = 0;
    ::close(fd);
  }
  return size;
}

std::set<std::string> entries_of(const fs::path& dir) {
  std::set<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) names.insert(entry.path().filename());
  return names;
}

std::set<std::string> names_of(const std::vector<drivers::StorageVolume>& volumes) {
  std::set<std::string> names;
  for (const auto& v : volumes) names.insert(v.name);
  return names;
}

}  // namespace

void StorageDriverConformance::SetUp() {
  log::set_level(log::Level::warn);
  store_ = root_.path() / "store";
  driver_ = GetParam().make(store_);
  ASSERT_NE(driver_, nullptr);
  EXPECT_EQ(driver_->name(), GetParam().driver.empty() ? GetParam().name : GetParam().driver);
}

void StorageDriverConformance::TearDown() {
  // Detach and delete what the test left, so drivers with processes (jiva's targets) stop them.
  if (driver_) {
    if (auto volumes = driver_->list()) {
      for (const auto& volume : *volumes) {
        (void)driver_->detach(volume.name);
        (void)driver_->remove(volume.name);
      }
    }
  }
  driver_.reset();
}

std::unique_ptr<drivers::StorageDriver> StorageDriverConformance::another_driver() const {
  return GetParam().make(store_);
}

drivers::VolumeSpec StorageDriverConformance::spec(const std::string& name,
                                                   std::uint64_t size) const {
  drivers::VolumeSpec s;
  s.name = name;
  s.size_bytes = size;
  s.storage_driver = GetParam().driver.empty() ? GetParam().name : GetParam().driver;
  s.replicas = GetParam().replicas;
  s.fstype = "ext4";
  return s;
}

std::optional<std::string> StorageDriverConformance::attach_unavailable() const {
  return GetParam().attach_unavailable ? GetParam().attach_unavailable() : std::nullopt;
}

TEST_P(StorageDriverConformance, CreateReturnsTheNewVolume) {
  auto created = driver_->create(spec("vol1", 64 * kMiB));
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created->name, "vol1");
  EXPECT_EQ(created->size_bytes, 64 * kMiB);
  EXPECT_FALSE(created->device.has_value());
  EXPECT_FALSE(created->location.empty());

  auto inspected = driver_->inspect("vol1");
  ASSERT_TRUE(inspected) << inspected.error().message;
  EXPECT_EQ(inspected->name, "vol1");
  EXPECT_EQ(inspected->size_bytes, 64 * kMiB);
  EXPECT_EQ(inspected->location, created->location);
  EXPECT_FALSE(inspected->device.has_value());
}

TEST_P(StorageDriverConformance, NewVolumeIsThin) {
  if (!GetParam().thin_provisioning) GTEST_SKIP() << GetParam().name << " is not thin";
  auto created = driver_->create(spec("thin", kGiB));
  ASSERT_TRUE(created) << created.error().message;
  auto inspected = driver_->inspect("thin");
  ASSERT_TRUE(inspected) << inspected.error().message;
  EXPECT_EQ(inspected->size_bytes, kGiB);
  EXPECT_LT(inspected->allocated_bytes, 16 * kMiB);
}

TEST_P(StorageDriverConformance, ListShowsEveryVolume) {
  auto empty = driver_->list();
  ASSERT_TRUE(empty) << empty.error().message;
  EXPECT_TRUE(empty->empty());
  ASSERT_TRUE(driver_->create(spec("alpha", 16 * kMiB)));
  ASSERT_TRUE(driver_->create(spec("beta", 32 * kMiB)));
  auto listed = driver_->list();
  ASSERT_TRUE(listed) << listed.error().message;
  EXPECT_EQ(names_of(*listed), (std::set<std::string>{"alpha", "beta"}));
  for (const auto& v : *listed) EXPECT_EQ(v.size_bytes, v.name == "alpha" ? 16 * kMiB : 32 * kMiB);
}

TEST_P(StorageDriverConformance, CreateOfAnExistingNameIsRefusedAndKeepsTheData) {
  ASSERT_TRUE(driver_->create(spec("dup", 64 * kMiB)));
  const bool can_attach = !attach_unavailable().has_value();
  if (can_attach) {
    auto device = driver_->attach("dup");
    ASSERT_TRUE(device) << device.error().message;
    ASSERT_TRUE(write_block(*device, kMiB, 7));
    ASSERT_TRUE(driver_->detach("dup"));
  }
  auto again = driver_->create(spec("dup", 128 * kMiB));
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message.find("dup"), std::string::npos) << again.error().message;
  EXPECT_NE(again.error().message.find("exists"), std::string::npos) << again.error().message;

  auto inspected = driver_->inspect("dup");
  ASSERT_TRUE(inspected) << inspected.error().message;
  EXPECT_EQ(inspected->size_bytes, 64 * kMiB);
  if (can_attach) {
    auto device = driver_->attach("dup");
    ASSERT_TRUE(device) << device.error().message;
    EXPECT_TRUE(block_holds(*device, kMiB, 7));
  }
}

TEST_P(StorageDriverConformance, HostileNamesAreRefusedAndTouchNothing) {
  const std::vector<std::string> hostile = {"",
                                            "../x",
                                            "..",
                                            ".",
                                            "a/b",
                                            "/etc/passwd",
                                            "../store/../../escape",
                                            std::string(300, 'a'),
                                            ".hidden",
                                            "-dash",
                                            "a b",
                                            std::string("nul\0byte", 8)};
  for (const auto& name : hostile) {
    SCOPED_TRACE("name \"" + name + "\"");
    auto created = driver_->create(spec(name, 16 * kMiB));
    EXPECT_FALSE(created);
    if (!created) {
      EXPECT_FALSE(created.error().message.empty());
    }
    EXPECT_FALSE(driver_->inspect(name));
    EXPECT_FALSE(driver_->attach(name));
    EXPECT_FALSE(driver_->detach(name));
    EXPECT_FALSE(driver_->remove(name));
  }
  // Nothing beside the store, nothing in it.
  auto beside = entries_of(root_.path());
  beside.erase("store");
  EXPECT_TRUE(beside.empty()) << "created beside the store: " << *beside.begin();
  EXPECT_TRUE(entries_of(store_).empty());
  EXPECT_FALSE(fs::exists(root_.path().parent_path() / "x"));
  auto listed = driver_->list();
  ASSERT_TRUE(listed) << listed.error().message;
  EXPECT_TRUE(listed->empty());
}

TEST_P(StorageDriverConformance, MissingVolumesAreErrorsNamingThem) {
  auto inspected = driver_->inspect("ghost");
  ASSERT_FALSE(inspected);
  EXPECT_NE(inspected.error().message.find("ghost"), std::string::npos);
  auto removed = driver_->remove("ghost");
  ASSERT_FALSE(removed);
  EXPECT_NE(removed.error().message.find("ghost"), std::string::npos);
  auto attached = driver_->attach("ghost");
  ASSERT_FALSE(attached);
  EXPECT_NE(attached.error().message.find("ghost"), std::string::npos);
}

TEST_P(StorageDriverConformance, AttachGivesAWritableBlockDevice) {
  MAYA_REQUIRE_ATTACH();
  ASSERT_TRUE(driver_->create(spec("blk", 64 * kMiB)));
  auto device = driver_->attach("blk");
  ASSERT_TRUE(device) << device.error().message;
  struct stat st {};
  ASSERT_EQ(::stat(device->c_str(), &st), 0) << *device;
  EXPECT_TRUE(S_ISBLK(st.st_mode)) << *device << " is not a block device";
  EXPECT_EQ(device_size(*device), 64 * kMiB);

  ASSERT_TRUE(write_block(*device, 0, 1));
  ASSERT_TRUE(write_block(*device, 64 * kMiB - kBlock, 2));
  EXPECT_TRUE(block_holds(*device, 0, 1));
  EXPECT_TRUE(block_holds(*device, 64 * kMiB - kBlock, 2));

  auto inspected = driver_->inspect("blk");
  ASSERT_TRUE(inspected) << inspected.error().message;
  EXPECT_EQ(inspected->device, *device);
}

TEST_P(StorageDriverConformance, AttachTwiceGivesTheSameDevice) {
  MAYA_REQUIRE_ATTACH();
  ASSERT_TRUE(driver_->create(spec("twice", 32 * kMiB)));
  auto first = driver_->attach("twice");
  ASSERT_TRUE(first) << first.error().message;
  auto second = driver_->attach("twice");
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(*first, *second);
  // A new driver instance (a restarted daemon) finds the same device.
  auto restarted = another_driver();
  auto third = restarted->attach("twice");
  ASSERT_TRUE(third) << third.error().message;
  EXPECT_EQ(*first, *third);
  auto inspected = restarted->inspect("twice");
  ASSERT_TRUE(inspected) << inspected.error().message;
  EXPECT_EQ(inspected->device, *first);
}

TEST_P(StorageDriverConformance, DetachTwiceSucceeds) {
  MAYA_REQUIRE_ATTACH();
  ASSERT_TRUE(driver_->create(spec("det", 32 * kMiB)));
  ASSERT_TRUE(driver_->attach("det"));
  auto first = driver_->detach("det");
  ASSERT_TRUE(first) << first.error().message;
  auto inspected = driver_->inspect("det");
  ASSERT_TRUE(inspected) << inspected.error().message;
  EXPECT_FALSE(inspected->device.has_value());
  auto second = driver_->detach("det");
  EXPECT_TRUE(second) << second.error().message;
}

TEST_P(StorageDriverConformance, DetachOfAVolumeNeverAttachedSucceeds) {
  ASSERT_TRUE(driver_->create(spec("idle", 16 * kMiB)));
  auto detached = driver_->detach("idle");
  EXPECT_TRUE(detached) << detached.error().message;
}

TEST_P(StorageDriverConformance, RemoveWhileAttachedIsRefused) {
  MAYA_REQUIRE_ATTACH();
  ASSERT_TRUE(driver_->create(spec("busy", 32 * kMiB)));
  auto device = driver_->attach("busy");
  ASSERT_TRUE(device) << device.error().message;
  auto removed = driver_->remove("busy");
  ASSERT_FALSE(removed);
  EXPECT_NE(removed.error().message.find("busy"), std::string::npos) << removed.error().message;
  auto inspected = driver_->inspect("busy");
  ASSERT_TRUE(inspected) << inspected.error().message;
  EXPECT_EQ(inspected->device, *device);

  ASSERT_TRUE(driver_->detach("busy"));
  auto removed_now = driver_->remove("busy");
  EXPECT_TRUE(removed_now) << removed_now.error().message;
}

TEST_P(StorageDriverConformance, RemoveDeletesTheVolume) {
  auto created = driver_->create(spec("gone", 16 * kMiB));
  ASSERT_TRUE(created) << created.error().message;
  auto removed = driver_->remove("gone");
  ASSERT_TRUE(removed) << removed.error().message;
  EXPECT_FALSE(driver_->inspect("gone"));
  auto listed = driver_->list();
  ASSERT_TRUE(listed) << listed.error().message;
  EXPECT_TRUE(listed->empty());
  EXPECT_FALSE(fs::exists(created->location)) << created->location;
  auto again = driver_->remove("gone");
  EXPECT_FALSE(again);
  // The name is free again.
  auto recreated = driver_->create(spec("gone", 16 * kMiB));
  EXPECT_TRUE(recreated) << recreated.error().message;
}

TEST_P(StorageDriverConformance, DataPersistsAcrossDetachAndAttach) {
  MAYA_REQUIRE_ATTACH();
  ASSERT_TRUE(driver_->create(spec("keep", 64 * kMiB)));
  auto device = driver_->attach("keep");
  ASSERT_TRUE(device) << device.error().message;
  ASSERT_TRUE(write_block(*device, 0, 11));
  ASSERT_TRUE(write_block(*device, 33 * kMiB, 12));
  ASSERT_TRUE(driver_->detach("keep"));

  auto restarted = another_driver();
  auto again = restarted->attach("keep");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_TRUE(block_holds(*again, 0, 11));
  EXPECT_TRUE(block_holds(*again, 33 * kMiB, 12));
  ASSERT_TRUE(restarted->detach("keep"));
}

}  // namespace maya::testing
