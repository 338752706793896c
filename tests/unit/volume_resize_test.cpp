// VolumeService::resize over fake storage and OS drivers (fake_drivers.h): what is grown in which
// order, what the record keeps, and the file-system grow deferred to the next mount when it
// cannot run while mounted. Real devices and file systems: tests/integration/volume_resize.sh.
#include <gtest/gtest.h>

#include "drivers/volume/docker/docker_volume_driver.h"
#include "tests/unit/fake_drivers.h"

namespace maya::drivers::docker {
namespace {

namespace fs = std::filesystem;
using namespace fakes;

constexpr std::uint64_t kMiB = 1 << 20;

class Resize : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/maya-resize-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    state_ = tmpl;
    DockerVolumeDriver::StorageDrivers storage;
    storage.emplace("fake", std::make_unique<FakeStorage>(calls_));
    storage.emplace("grow", std::make_unique<FakeGrowingStorage>(calls_));
    driver_ = std::make_unique<DockerVolumeDriver>(std::move(storage),
                                                   std::make_unique<FakeOs>(calls_), state_);
    ASSERT_TRUE(driver_->create({"v", 64 * kMiB, true, 1, "grow", "ext4"}).has_value());
    calls_.sizes["v"] = 64 * kMiB;
  }
  void TearDown() override { fs::remove_all(state_); }
  std::uint64_t recorded() { return driver_->get("v")->spec.size_bytes; }

  Calls calls_;
  fs::path state_;
  std::unique_ptr<DockerVolumeDriver> driver_;
};

TEST_F(Resize, AnIdleVolumeGrowsAndItsFileSystemGrowsAtTheNextMount) {
  auto grown = driver_->resize("v", 128 * kMiB);
  ASSERT_TRUE(grown.has_value()) << grown.error().message;
  EXPECT_EQ(grown->previous_bytes, 64 * kMiB);
  EXPECT_EQ(grown->size_bytes, 128 * kMiB);
  EXPECT_EQ(grown->filesystem, "");
  EXPECT_EQ(recorded(), 128 * kMiB);
  EXPECT_TRUE(calls_.fs_grows.empty()) << "nothing is mounted";

  calls_.signature = "ext4";  // it has a file system from an earlier life
  ASSERT_TRUE(driver_->mount("v", "c1").has_value());
  ASSERT_EQ(calls_.fs_grows.size(), 1u);
  EXPECT_EQ(calls_.fs_grows[0].second, fs::path()) << "ext4 grows unmounted, before the mount";
  ASSERT_TRUE(driver_->unmount("v", "c1").has_value());
  ASSERT_TRUE(driver_->mount("v", "c1").has_value());
  EXPECT_EQ(calls_.fs_grows.size(), 1u) << "grown once: the record's flag is cleared";
}

TEST_F(Resize, AMountedFileSystemGrowsOnlineOrAtItsNextMountAndNeverMountsUngrown) {
  calls_.signature = "ext4";
  ASSERT_TRUE(driver_->mount("v", "c1").has_value());
  calls_.grow_fs_error = "the kernel refuses (CAP_SYS_RESOURCE)";
  auto grown = driver_->resize("v", 128 * kMiB);
  ASSERT_TRUE(grown.has_value()) << "the volume grew; only its file system waits";
  EXPECT_NE(grown->filesystem_deferred.find("CAP_SYS_RESOURCE"), std::string::npos);
  EXPECT_EQ(recorded(), 128 * kMiB);
  ASSERT_TRUE(driver_->unmount("v", "c1").has_value());

  // The grow before the next mount fails too: no mount of a file system that must grow first.
  auto refused = driver_->mount("v", "c2");
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("must grow"), std::string::npos)
      << refused.error().message;
  EXPECT_EQ(driver_->get("v")->mount_count(), 0u);

  calls_.grow_fs_error.clear();
  ASSERT_TRUE(driver_->mount("v", "c2").has_value()) << "tried again, and it grows";
  const std::size_t grows = calls_.fs_grows.size();
  ASSERT_TRUE(driver_->resize("v", 128 * kMiB).has_value());
  EXPECT_EQ(calls_.fs_grows.size(), grows) << "the same size: nothing left to grow";
  ASSERT_TRUE(driver_->resize("v", 256 * kMiB).has_value());
  ASSERT_EQ(calls_.fs_grows.size(), grows + 1);
  EXPECT_EQ(calls_.fs_grows.back().second, state_ / "mounts/v") << "online, at the mount point";
}

TEST_F(Resize, ShrinkingAHugeSizeAndADriverThatCannotGrowAreRefused) {
  EXPECT_FALSE(driver_->resize("v", 32 * kMiB).has_value());
  EXPECT_FALSE(driver_->resize("v", kMaxVolumeBytes + 1).has_value());
  EXPECT_FALSE(driver_->resize("nosuch", 128 * kMiB).has_value());
  EXPECT_FALSE(driver_->resize("../x", 128 * kMiB).has_value());
  EXPECT_EQ(recorded(), 64 * kMiB);
  ASSERT_TRUE(driver_->create({"f", 64 * kMiB, true, 1, "fake", "ext4"}).has_value());
  auto refused = driver_->resize("f", 128 * kMiB);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("cannot grow"), std::string::npos);
}

}  // namespace
}  // namespace maya::drivers::docker
