// lib/mounts: the one mountinfo reader (libmount), on a table written here: targets come
// unescaped, devices by MAJ:MIN, the first mount of a device wins.
#include "lib/mounts/mount_table.h"

#include <gtest/gtest.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>

#include "lib/common/files.h"

namespace maya::mounts {
namespace {

namespace fs = std::filesystem;

class MountTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/maya-mountinfo-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    table_ = dir_ / "mountinfo";
    ASSERT_TRUE(write_file_atomic(
        table_,
        "21 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n"
        "40 21 0:35 / /tmp rw,nosuid shared:2 - tmpfs tmpfs rw,size=1024k\n"
        "50 21 7:3 / /srv/my\\040volume rw,noatime shared:3 - ext4 /dev/loop3 rw\n"
        "51 21 7:3 / /srv/again rw shared:4 - ext4 /dev/loop3 rw\n"));
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  fs::path dir_, table_;
};

TEST_F(MountTableTest, EveryMountInOrderWithItsDevice) {
  auto mounts = read_mount_table(table_);
  ASSERT_TRUE(mounts) << mounts.error().message;
  ASSERT_EQ(mounts->size(), 4u);
  EXPECT_EQ((*mounts)[0].target, "/");
  EXPECT_EQ((*mounts)[0].source, "/dev/nvme0n1p2");
  EXPECT_EQ((*mounts)[1].fstype, "tmpfs");
  EXPECT_EQ((*mounts)[2].target, "/srv/my volume");
  EXPECT_EQ((*mounts)[2].devno, makedev(7, 3));
  EXPECT_NE((*mounts)[2].options.find("noatime"), std::string::npos) << (*mounts)[2].options;
}

TEST_F(MountTableTest, TheFirstMountOfADeviceIsWhereItIsMounted) {
  EXPECT_EQ(first_mount_of(makedev(7, 3), table_), fs::path("/srv/my volume"));
  EXPECT_EQ(first_mount_of(makedev(7, 4), table_), std::nullopt);
  EXPECT_EQ(first_mount_of(makedev(7, 3), dir_ / "none"), std::nullopt);
}

TEST_F(MountTableTest, AMissingTableIsAnErrorNamingIt) {
  auto mounts = read_mount_table(dir_ / "none");
  ASSERT_FALSE(mounts);
  EXPECT_NE(mounts.error().message.find("cannot read the mount table " + (dir_ / "none").string()),
            std::string::npos)
      << mounts.error().message;
}

}  // namespace
}  // namespace maya::mounts
