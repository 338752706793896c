// The "linux" OS driver on real loop devices (attached through the local storage driver):
// probe, format (and its refusals), mount, mounted_at and unmount.
#include "drivers/os/linux/linux_os_driver.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "drivers/storage/local/local_storage_driver.h"
#include "lib/common/log.h"
#include "lib/process/exec.h"
#include "tests/drivers/device_guards.h"

namespace maya::drivers::linux_os {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using maya::testing::loop_devices_unavailable;
using maya::testing::TempDir;

constexpr std::uint64_t kMiB = 1024 * 1024;

bool has_option(const std::string& options, const std::string& option) {
  std::stringstream list(options);
  std::string item;
  while (std::getline(list, item, ',')) {
    if (item == option) return true;
  }
  return false;
}

std::string slurp(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

// Tests that need no device: argument checks and the mount table.
class LinuxOsDriverTest : public ::testing::Test {
 protected:
  void SetUp() override { log::set_level(log::Level::warn); }
  TempDir root_;
  LinuxOsDriver os_;
};

// Tests on a fresh loop device per volume.
class LinuxOsDriverDeviceTest : public LinuxOsDriverTest {
 protected:
  void SetUp() override {
    LinuxOsDriverTest::SetUp();
    if (auto why = loop_devices_unavailable()) GTEST_SKIP() << *why;
  }

  fs::path new_device(const std::string& name, std::uint64_t size = 64 * kMiB) {
    VolumeSpec spec;
    spec.name = name;
    spec.size_bytes = size;
    auto created = storage_.create(spec);
    EXPECT_TRUE(created) << created.error().message;
    auto device = storage_.attach(name);
    EXPECT_TRUE(device) << device.error().message;
    return device ? *device : fs::path();
  }

  fs::path mount_point(const std::string& name) { return root_.path() / "mnt" / name; }

  local::LocalStorageDriver storage_{root_.path() / "store"};
};

TEST_F(LinuxOsDriverTest, MountsListsTheRootFileSystem) {
  auto mounts = os_.mounts();
  ASSERT_TRUE(mounts) << mounts.error().message;
  bool root_seen = false;
  for (const auto& m : *mounts) root_seen = root_seen || m.target == "/";
  EXPECT_TRUE(root_seen);
  auto root = os_.mounted_at("/");
  ASSERT_TRUE(root) << root.error().message;
  ASSERT_TRUE(root->has_value());
  EXPECT_FALSE((*root)->fstype.empty());
}

TEST_F(LinuxOsDriverTest, UnmountOfADirectoryThatIsNotMountedSucceeds) {
  fs::create_directories(root_.path() / "plain");
  auto unmounted = os_.unmount(root_.path() / "plain");
  EXPECT_TRUE(unmounted) << unmounted.error().message;
  auto missing = os_.unmount(root_.path() / "does-not-exist");
  EXPECT_TRUE(missing) << missing.error().message;
  auto at = os_.mounted_at(root_.path() / "plain");
  ASSERT_TRUE(at);
  EXPECT_FALSE(at->has_value());
}

TEST_F(LinuxOsDriverTest, FormatOfAnUnknownFileSystemTypeIsRefused) {
  auto formatted = os_.format("/dev/null", "zfs");
  ASSERT_FALSE(formatted);
  EXPECT_NE(formatted.error().message.find("\"zfs\""), std::string::npos);
  EXPECT_NE(formatted.error().message.find("ext4"), std::string::npos) << formatted.error().message;
}

TEST_F(LinuxOsDriverTest, ProbeAndFormatOfAMissingDeviceAreClearErrors) {
  auto probed = os_.probe("/dev/maya-no-such-device");
  ASSERT_FALSE(probed);
  EXPECT_NE(probed.error().message.find("/dev/maya-no-such-device does not exist"),
            std::string::npos)
      << probed.error().message;
  auto formatted = os_.format("/dev/maya-no-such-device", "ext4");
  ASSERT_FALSE(formatted);
  EXPECT_NE(formatted.error().message.find("/dev/maya-no-such-device"), std::string::npos);
}

TEST_F(LinuxOsDriverTest, FormatAndMountRefuseARegularFile) {
  std::ofstream(root_.path() / "image") << std::string(1 << 20, '\0');
  auto formatted = os_.format(root_.path() / "image", "ext4");
  ASSERT_FALSE(formatted);
  EXPECT_NE(formatted.error().message.find("not a block device"), std::string::npos);
  auto mounted = os_.mount(root_.path() / "image", root_.path() / "mnt", "ext4", "");
  ASSERT_FALSE(mounted);
  EXPECT_NE(mounted.error().message.find("not a block device"), std::string::npos);
}

TEST_F(LinuxOsDriverDeviceTest, ProbeOfABlankDeviceFindsNothing) {
  auto device = new_device("blank");
  auto probed = os_.probe(device);
  ASSERT_TRUE(probed) << probed.error().message;
  EXPECT_FALSE(probed->has_value()) << **probed;
}

TEST_F(LinuxOsDriverDeviceTest, FormatExt4ThenProbeSaysExt4) {
  auto device = new_device("ext4vol");
  auto formatted = os_.format(device, "ext4");
  ASSERT_TRUE(formatted) << formatted.error().message;
  auto probed = os_.probe(device);
  ASSERT_TRUE(probed) << probed.error().message;
  EXPECT_EQ(*probed, std::optional<std::string>("ext4"));
}

TEST_F(LinuxOsDriverDeviceTest, FormatRefusesADeviceHoldingAFileSystem) {
  auto device = new_device("hasfs");
  ASSERT_TRUE(os_.format(device, "ext4"));
  for (const std::string fstype : {"ext4", "xfs"}) {
    auto again = os_.format(device, fstype);
    ASSERT_FALSE(again) << fstype;
    EXPECT_NE(again.error().message.find("refusing to format " + device.string()),
              std::string::npos)
        << again.error().message;
    EXPECT_NE(again.error().message.find("ext4"), std::string::npos) << again.error().message;
  }
  EXPECT_EQ(*os_.probe(device), std::optional<std::string>("ext4"));
}

TEST_F(LinuxOsDriverDeviceTest, FormatRefusesADeviceHoldingASwapSignature) {
  auto device = new_device("swapsig");
  auto swap = run_command_checked({"mkswap", device.string()}, 60s);
  ASSERT_TRUE(swap) << swap.error().message;
  EXPECT_EQ(*os_.probe(device), std::optional<std::string>("swap"));
  auto formatted = os_.format(device, "ext4");
  ASSERT_FALSE(formatted);
  EXPECT_NE(formatted.error().message.find("swap"), std::string::npos) << formatted.error().message;
  EXPECT_EQ(*os_.probe(device), std::optional<std::string>("swap"));  // untouched
}

TEST_F(LinuxOsDriverDeviceTest, FormatRefusesADeviceHoldingAPartitionTable) {
  auto device = new_device("parted");
  // A DOS partition table: one Linux partition from sector 2048, and the 55AA boot signature.
  unsigned char mbr[512] = {};
  unsigned char* entry = mbr + 446;
  entry[4] = 0x83;                                       // type: Linux
  entry[8] = 0x00, entry[9] = 0x08;                      // first LBA 2048 (little-endian)
  entry[12] = 0x00, entry[13] = 0x80, entry[14] = 0x01;  // 0x18000 sectors
  mbr[510] = 0x55, mbr[511] = 0xAA;
  int fd = ::open(device.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, mbr, sizeof mbr, 0), static_cast<ssize_t>(sizeof mbr));
  ::fsync(fd);
  ::close(fd);
  EXPECT_EQ(*os_.probe(device), std::optional<std::string>("dos"));
  auto formatted = os_.format(device, "ext4");
  ASSERT_FALSE(formatted);
  EXPECT_NE(formatted.error().message.find("dos"), std::string::npos) << formatted.error().message;
}

TEST_F(LinuxOsDriverDeviceTest, MountWriteReadUnmountRoundTrip) {
  auto device = new_device("roundtrip");
  ASSERT_TRUE(os_.format(device, "ext4"));
  const fs::path target = mount_point("roundtrip");  // does not exist yet
  auto mounted = os_.mount(device, target, "ext4", "");
  ASSERT_TRUE(mounted) << mounted.error().message;

  auto at = os_.mounted_at(target);
  ASSERT_TRUE(at) << at.error().message;
  ASSERT_TRUE(at->has_value());
  EXPECT_EQ((*at)->source, device.string());
  EXPECT_EQ((*at)->target, target);
  EXPECT_EQ((*at)->fstype, "ext4");
  std::ofstream(target / "hello.txt") << "hello from maya";

  auto unmounted = os_.unmount(target);
  ASSERT_TRUE(unmounted) << unmounted.error().message;
  at = os_.mounted_at(target);
  ASSERT_TRUE(at);
  EXPECT_FALSE(at->has_value());
  EXPECT_FALSE(fs::exists(target / "hello.txt"));

  ASSERT_TRUE(os_.mount(device, target, "ext4", ""));
  EXPECT_EQ(slurp(target / "hello.txt"), "hello from maya");
  ASSERT_TRUE(os_.unmount(target));
  EXPECT_TRUE(os_.unmount(target)) << "a second unmount succeeds too";
}

TEST_F(LinuxOsDriverDeviceTest, MountOptionsReachTheKernel) {
  auto device = new_device("opts");
  ASSERT_TRUE(os_.format(device, "ext4"));
  const fs::path target = mount_point("opts");
  auto mounted = os_.mount(device, target, "ext4", "noatime,nodev,errors=remount-ro");
  ASSERT_TRUE(mounted) << mounted.error().message;
  auto at = os_.mounted_at(target);
  ASSERT_TRUE(at && at->has_value());
  EXPECT_TRUE(has_option((*at)->options, "noatime")) << (*at)->options;
  EXPECT_TRUE(has_option((*at)->options, "nodev")) << (*at)->options;
  EXPECT_TRUE(has_option((*at)->options, "errors=remount-ro")) << (*at)->options;
  ASSERT_TRUE(os_.unmount(target));
}

TEST_F(LinuxOsDriverDeviceTest, MountingAgainIsIdempotentAndNeverStacks) {
  auto first = new_device("first");
  auto second = new_device("second");
  ASSERT_TRUE(os_.format(first, "ext4"));
  ASSERT_TRUE(os_.format(second, "ext4"));
  const fs::path target = mount_point("shared");
  ASSERT_TRUE(os_.mount(first, target, "ext4", ""));
  auto again = os_.mount(first, target, "ext4", "");
  EXPECT_TRUE(again) << again.error().message;
  auto other = os_.mount(second, target, "ext4", "");
  ASSERT_FALSE(other);
  EXPECT_NE(other.error().message.find("already mounted"), std::string::npos)
      << other.error().message;
  ASSERT_TRUE(os_.unmount(target));
  auto at = os_.mounted_at(target);
  ASSERT_TRUE(at);
  EXPECT_FALSE(at->has_value()) << "a mount was stacked on " << target;
}

TEST_F(LinuxOsDriverDeviceTest, MountFailuresAreClearAndLeaveNothingMounted) {
  auto device = new_device("unformatted");
  const fs::path target = mount_point("unformatted");
  auto blank = os_.mount(device, target, "ext4", "");
  ASSERT_FALSE(blank);
  EXPECT_EQ(blank.error().message, "cannot mount " + device.string() + " on " + target.string() +
                                       ": it holds no file system; format it first");

  ASSERT_TRUE(os_.format(device, "ext4"));
  auto wrong_type = os_.mount(device, target, "xfs", "");
  ASSERT_FALSE(wrong_type);
  EXPECT_NE(wrong_type.error().message.find("it holds ext4, not xfs"), std::string::npos)
      << wrong_type.error().message;

  auto bad_option = os_.mount(device, target, "ext4", "maya_bogus_option=1");
  ASSERT_FALSE(bad_option);
  EXPECT_NE(bad_option.error().message.find(device.string()), std::string::npos)
      << bad_option.error().message;
  auto at = os_.mounted_at(target);
  ASSERT_TRUE(at);
  EXPECT_FALSE(at->has_value());
}

TEST_F(LinuxOsDriverDeviceTest, UnmountOfABusyTargetFailsClearly) {
  auto device = new_device("busy");
  ASSERT_TRUE(os_.format(device, "ext4"));
  const fs::path target = mount_point("busy");
  ASSERT_TRUE(os_.mount(device, target, "ext4", ""));
  int fd = ::open((target / "open-file").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  auto busy = os_.unmount(target);
  ::close(fd);
  ASSERT_FALSE(busy);
  EXPECT_NE(busy.error().message.find("cannot unmount " + target.string()), std::string::npos)
      << busy.error().message;
  EXPECT_NE(busy.error().message.find("busy"), std::string::npos) << busy.error().message;
  EXPECT_TRUE(os_.unmount(target));
}

TEST_F(LinuxOsDriverDeviceTest, XfsFormatProbeAndMount) {
  if (!run_command({"mkfs.xfs", "-V"}, 10s)) GTEST_SKIP() << "mkfs.xfs is not installed";
  auto device = new_device("xfsvol", 512 * kMiB);  // mkfs.xfs wants at least 300 MiB
  auto formatted = os_.format(device, "xfs");
  ASSERT_TRUE(formatted) << formatted.error().message;
  EXPECT_EQ(*os_.probe(device), std::optional<std::string>("xfs"));
  auto refused = os_.format(device, "xfs");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("not blank (libblkid finds xfs on it)"), std::string::npos)
      << refused.error().message;

  const fs::path target = mount_point("xfsvol");
  auto mounted = os_.mount(device, target, "xfs", "noatime");
  ASSERT_TRUE(mounted) << mounted.error().message;
  auto at = os_.mounted_at(target);
  ASSERT_TRUE(at && at->has_value());
  EXPECT_EQ((*at)->fstype, "xfs");
  EXPECT_TRUE(has_option((*at)->options, "noatime")) << (*at)->options;
  std::ofstream(target / "data") << "xfs works";
  EXPECT_EQ(slurp(target / "data"), "xfs works");
  ASSERT_TRUE(os_.unmount(target));
}

TEST_F(LinuxOsDriverDeviceTest, FormatKeepsAThickVolumeAllocated) {
  VolumeSpec spec;
  spec.name = "thick";
  spec.size_bytes = 64 * kMiB;
  spec.thin = false;
  ASSERT_TRUE(storage_.create(spec));
  auto device = storage_.attach("thick");
  ASSERT_TRUE(device) << device.error().message;
  ASSERT_TRUE(os_.format(*device, "ext4"));
  auto inspected = storage_.inspect("thick");
  ASSERT_TRUE(inspected);
  EXPECT_GE(inspected->allocated_bytes, 64 * kMiB) << "mkfs discarded the preallocated blocks";
}

}  // namespace
}  // namespace maya::drivers::linux_os
