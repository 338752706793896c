// What the "local" storage driver does beyond the conformance suite: its on-disk layout, thick
// volumes, failures that leave nothing behind, and loop devices found again after a crash.
#include "drivers/storage/local/local_storage_driver.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "drivers/os/linux/linux_os_driver.h"
#include "drivers/storage/common/loop_device.h"
#include "lib/common/log.h"
#include "tests/drivers/device_guards.h"

namespace maya::drivers::local {
namespace {

namespace fs = std::filesystem;
using namespace storage;
using maya::testing::loop_devices_unavailable;
using maya::testing::TempDir;

constexpr std::uint64_t kMiB = 1024 * 1024;

#define MAYA_REQUIRE_LOOP()                                          \
  do {                                                               \
    if (auto why = loop_devices_unavailable()) GTEST_SKIP() << *why; \
  } while (0)

class LocalDriverTest : public ::testing::Test {
 protected:
  void SetUp() override { log::set_level(log::Level::warn); }

  VolumeSpec spec(const std::string& name, std::uint64_t size, bool thin = true) {
    VolumeSpec s;
    s.name = name;
    s.size_bytes = size;
    s.thin = thin;
    s.storage_driver = "local";
    return s;
  }

  std::set<std::string> store_entries() {
    std::set<std::string> names;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(store_, ec)) names.insert(e.path().filename());
    return names;
  }

  // Loop devices bound to `file`, straight from sysfs.
  static std::vector<fs::path> loops_of(const fs::path& file) {
    auto bindings = bound_loop_devices();
    return bindings ? devices_backed_by(*bindings, file) : std::vector<fs::path>{};
  }

  TempDir root_;
  fs::path store_ = root_.path() / "store";
  LocalStorageDriver driver_{store_};
};

TEST_F(LocalDriverTest, AVolumeIsADataFileAndItsMetadataInItsOwnDirectory) {
  auto created = driver_.create(spec("db1", 64 * kMiB));
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created->location, store_ / "db1");
  struct stat st {};
  ASSERT_EQ(::stat((store_ / "db1" / "data.img").c_str(), &st), 0);
  EXPECT_EQ(static_cast<std::uint64_t>(st.st_size), 64 * kMiB);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  std::ifstream meta_file(store_ / "db1" / "volume.json");
  auto meta = nlohmann::json::parse(meta_file);
  EXPECT_EQ(meta["name"], "db1");
  EXPECT_EQ(meta["size_bytes"], 64 * kMiB);
  EXPECT_EQ(meta["thin"], true);
  EXPECT_TRUE(meta.contains("created"));
  EXPECT_EQ(store_entries(), (std::set<std::string>{"db1"}));  // no temp dirs left
}

TEST_F(LocalDriverTest, AThickVolumeIsFullyAllocated) {
  auto created = driver_.create(spec("thick", 64 * kMiB, /*thin=*/false));
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_GE(created->allocated_bytes, 64 * kMiB);
}

TEST_F(LocalDriverTest, TheSizeIsRoundedUpToWholeSectors) {
  auto created = driver_.create(spec("odd", 1000));
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created->size_bytes, 1024u);
}

TEST_F(LocalDriverTest, AZeroSizeIsRefused) {
  auto created = driver_.create(spec("empty", 0));
  ASSERT_FALSE(created);
  EXPECT_NE(created.error().message.find("empty"), std::string::npos);
  EXPECT_TRUE(store_entries().empty());
}

TEST_F(LocalDriverTest, AFailedCreateLeavesNothingBehind) {
  // 1 PiB: too big for the file system, or at least for its free space when thick.
  auto thick = driver_.create(spec("huge", 1024 * 1024 * 1024 * kMiB, /*thin=*/false));
  ASSERT_FALSE(thick);
  EXPECT_NE(thick.error().message.find("huge"), std::string::npos) << thick.error().message;
  EXPECT_TRUE(store_entries().empty());
  EXPECT_FALSE(driver_.inspect("huge"));
}

TEST_F(LocalDriverTest, AStoreThatIsAFileIsAClearError) {
  std::ofstream(root_.path() / "file") << "x";
  LocalStorageDriver driver(root_.path() / "file");
  auto created = driver.create(spec("v", kMiB));
  ASSERT_FALSE(created);
  EXPECT_NE(created.error().message.find((root_.path() / "file").string()), std::string::npos)
      << created.error().message;
}

TEST_F(LocalDriverTest, ListSkipsStrayEntriesInTheStore) {
  ASSERT_TRUE(driver_.create(spec("real", kMiB)));
  fs::create_directories(store_ / ".create-left-over-abc123");
  fs::create_directories(store_ / "no-data-file");
  std::ofstream(store_ / "plain-file") << "x";
  auto listed = driver_.list();
  ASSERT_TRUE(listed) << listed.error().message;
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().name, "real");
  auto damaged = driver_.inspect("no-data-file");
  ASSERT_FALSE(damaged);
  EXPECT_NE(damaged.error().message.find("damaged"), std::string::npos) << damaged.error().message;
}

TEST_F(LocalDriverTest, AttachFindsTheDeviceBoundByAProcessThatDied) {
  MAYA_REQUIRE_LOOP();
  ASSERT_TRUE(driver_.create(spec("survivor", 32 * kMiB)));
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    LocalStorageDriver other(store_);
    ::_exit(other.attach("survivor") ? 0 : 1);  // dies without detaching
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  auto inspected = driver_.inspect("survivor");
  ASSERT_TRUE(inspected) << inspected.error().message;
  ASSERT_TRUE(inspected->device.has_value());
  auto attached = driver_.attach("survivor");
  ASSERT_TRUE(attached) << attached.error().message;
  EXPECT_EQ(*attached, *inspected->device);
  EXPECT_EQ(loops_of(store_ / "survivor" / "data.img").size(), 1u);
  EXPECT_TRUE(driver_.detach("survivor"));
}

TEST_F(LocalDriverTest, ConcurrentAttachesAgreeOnOneDevice) {
  MAYA_REQUIRE_LOOP();
  ASSERT_TRUE(driver_.create(spec("shared", 32 * kMiB)));
  std::vector<fs::path> devices(6);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < devices.size(); ++i) {
    threads.emplace_back([&, i] {
      LocalStorageDriver mine(store_);
      if (auto device = mine.attach("shared")) devices[i] = *device;
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& device : devices) EXPECT_EQ(device, devices.front());
  EXPECT_FALSE(devices.front().empty());
  EXPECT_EQ(loops_of(store_ / "shared" / "data.img").size(), 1u);
  EXPECT_TRUE(driver_.detach("shared"));
}

TEST_F(LocalDriverTest, AttachThroughASymlinkedStoreFindsTheSameDevice) {
  MAYA_REQUIRE_LOOP();
  ASSERT_TRUE(driver_.create(spec("linked", 32 * kMiB)));
  auto device = driver_.attach("linked");
  ASSERT_TRUE(device) << device.error().message;
  fs::create_directory_symlink(store_, root_.path() / "store-link");
  LocalStorageDriver via_link(root_.path() / "store-link");
  auto again = via_link.attach("linked");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(*again, *device);
  EXPECT_TRUE(via_link.detach("linked"));
  EXPECT_TRUE(loops_of(store_ / "linked" / "data.img").empty());
}

TEST_F(LocalDriverTest, ADeviceBackedByADeletedFileIsNotReused) {
  MAYA_REQUIRE_LOOP();
  ASSERT_TRUE(driver_.create(spec("phoenix", 32 * kMiB)));
  auto old_device = driver_.attach("phoenix");
  ASSERT_TRUE(old_device) << old_device.error().message;
  // Someone deletes the volume behind our back while it is attached, then it is re-created.
  fs::remove_all(store_ / "phoenix");
  ASSERT_TRUE(driver_.create(spec("phoenix", 32 * kMiB)));
  auto inspected = driver_.inspect("phoenix");
  ASSERT_TRUE(inspected) << inspected.error().message;
  EXPECT_FALSE(inspected->device.has_value());
  auto new_device = driver_.attach("phoenix");
  ASSERT_TRUE(new_device) << new_device.error().message;
  EXPECT_NE(*new_device, *old_device);
  EXPECT_TRUE(driver_.detach("phoenix"));
  // The stale device is still bound to the deleted file; TempDir's guard unbinds it.
}

TEST_F(LocalDriverTest, DetachWhileMountedIsRefusedNamingTheMountPoint) {
  MAYA_REQUIRE_LOOP();
  ASSERT_TRUE(driver_.create(spec("mounted", 64 * kMiB)));
  auto device = driver_.attach("mounted");
  ASSERT_TRUE(device) << device.error().message;
  linux_os::LinuxOsDriver os;
  ASSERT_TRUE(os.format(*device, "ext4"));
  const fs::path target = root_.path() / "mnt";
  auto mounted = os.mount(*device, target, "ext4", "");
  ASSERT_TRUE(mounted) << mounted.error().message;

  auto detached = driver_.detach("mounted");
  ASSERT_FALSE(detached);
  EXPECT_NE(detached.error().message.find("mounted"), std::string::npos);
  EXPECT_NE(detached.error().message.find(target.string()), std::string::npos)
      << detached.error().message;
  auto still = driver_.inspect("mounted");
  ASSERT_TRUE(still);
  EXPECT_EQ(still->device, *device);  // not lazily detached behind our back

  ASSERT_TRUE(os.unmount(target));
  auto now = driver_.detach("mounted");
  EXPECT_TRUE(now) << now.error().message;
  EXPECT_TRUE(loops_of(store_ / "mounted" / "data.img").empty());
}

TEST_F(LocalDriverTest, DetachWhileTheDeviceIsHeldOpenSaysSoAndFinishesOnClose) {
  MAYA_REQUIRE_LOOP();
  ASSERT_TRUE(driver_.create(spec("held", 32 * kMiB)));
  auto device = driver_.attach("held");
  ASSERT_TRUE(device) << device.error().message;
  int fd = ::open(device->c_str(), O_RDONLY | O_CLOEXEC);  // like a backup tool reading it
  ASSERT_GE(fd, 0);
  auto detached = driver_.detach("held");
  ::close(fd);
  ASSERT_FALSE(detached);
  EXPECT_NE(detached.error().message.find(device->string() + " is still open"), std::string::npos)
      << detached.error().message;
  // The kernel finishes the detach when the last opener closes the device.
  for (int i = 0; i < 100 && !loops_of(store_ / "held" / "data.img").empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(loops_of(store_ / "held" / "data.img").empty());
  EXPECT_TRUE(driver_.detach("held"));
}

TEST_F(LocalDriverTest, RemoveOfADamagedVolumeSucceeds) {
  ASSERT_TRUE(driver_.create(spec("broken", kMiB)));
  fs::remove(store_ / "broken" / "data.img");
  auto removed = driver_.remove("broken");
  EXPECT_TRUE(removed) << removed.error().message;
  EXPECT_TRUE(store_entries().empty());
}

}  // namespace
}  // namespace maya::drivers::local
