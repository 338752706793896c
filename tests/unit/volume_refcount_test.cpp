// Reference counting of the Docker-semantics volume driver over fake storage and OS drivers
// (fake_drivers.h). The real drivers run in tests/drivers.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <vector>

#include "drivers/volume/docker/docker_volume_driver.h"
#include "lib/common/files.h"
#include "plugin/docker/docker_plugin.h"
#include "tests/unit/fake_drivers.h"

namespace maya::drivers::docker {
namespace {

namespace fs = std::filesystem;
using namespace fakes;

class Refcount : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/maya-ref-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    state_ = tmpl;
    driver_ = make();
    VolumeSpec spec{"v", 1 << 30, true, 1, "fake", "ext4"};
    ASSERT_TRUE(driver_->create(spec).has_value());
  }
  void TearDown() override { fs::remove_all(state_); }
  std::unique_ptr<DockerVolumeDriver> make() {
    DockerVolumeDriver::StorageDrivers storage;
    storage.emplace("fake", std::make_unique<FakeStorage>(calls_));
    storage.emplace("snap", std::make_unique<FakeSnapshotStorage>(calls_));
    return std::make_unique<DockerVolumeDriver>(std::move(storage),
                                                std::make_unique<FakeOs>(calls_), state_);
  }
  unsigned refs() { return driver_->get("v")->mount_count(); }

  Calls calls_;
  fs::path state_;
  std::unique_ptr<DockerVolumeDriver> driver_;
};

TEST_F(Refcount, FirstReferenceMountsLastReleases) {
  auto mp = driver_->mount("v", "c1");
  ASSERT_TRUE(mp.has_value()) << mp.error().message;
  EXPECT_EQ(*mp, state_ / "mounts/v");
  EXPECT_EQ(calls_.format, 1) << "a blank device is formatted once";
  EXPECT_EQ(driver_->path("v").value(), *mp);
  ASSERT_TRUE(driver_->mount("v", "c2").has_value());
  ASSERT_TRUE(driver_->mount("v", "c1").has_value()) << "docker cp repeats an ID";
  EXPECT_EQ(calls_.mount, 1);
  EXPECT_EQ(calls_.attach, 1);
  EXPECT_EQ(refs(), 3u);
  EXPECT_EQ(driver_->get("v")->state, "mounted");

  ASSERT_TRUE(driver_->unmount("v", "c1").has_value());
  ASSERT_TRUE(driver_->unmount("v", "c2").has_value());
  EXPECT_EQ(calls_.unmount, 0) << "c1 still holds one reference";
  ASSERT_TRUE(driver_->unmount("v", "c1").has_value());
  EXPECT_EQ(calls_.unmount, 1);
  EXPECT_EQ(calls_.detach, 1);
  EXPECT_EQ(refs(), 0u);
  EXPECT_EQ(driver_->path("v").value(), fs::path());
  EXPECT_EQ(driver_->get("v")->state, "detached");

  ASSERT_TRUE(driver_->mount("v", "c3").has_value());
  EXPECT_EQ(calls_.format, 1) << "a volume with a file system is never formatted again";
}

// Docker's plugin client gives up on a slow Mount (a 2-minute request timeout) and hangs up;
// for Docker that Mount failed, so no Unmount ever comes for it. It must leave no reference
// behind, or the volume stays mounted forever; a later Mount (a retry) counts once.
TEST_F(Refcount, AMountDockerGaveUpOnLeavesNoReferenceAndItsRetryCountsOnce) {
  auto router = plugin::docker::make_router(*driver_, [] { return config::VolumeDefaults{}; });
  http::Request mount{"POST", "/VolumeDriver.Mount", R"({"Name":"v","ID":"c1"})", {}};
  bool gone = true;
  mount.caller_gone = [&gone] { return gone; };
  auto abandoned = router(mount);
  EXPECT_NE(abandoned.body.find("gave up"), std::string::npos) << abandoned.body;
  EXPECT_EQ(refs(), 0u);
  EXPECT_TRUE(calls_.attached.empty()) << "the only reference went, so the volume detached";

  gone = false;  // the retry, whose answer Docker reads
  auto retried = router(mount);
  EXPECT_EQ(retried.status, 200) << retried.body;
  EXPECT_EQ(refs(), 1u);
  http::Request unmount{"POST", "/VolumeDriver.Unmount", R"({"Name":"v","ID":"c1"})", {}};
  EXPECT_EQ(router(unmount).status, 200);
  EXPECT_EQ(refs(), 0u) << "one Unmount releases the volume";
  EXPECT_TRUE(calls_.attached.empty());
}

TEST_F(Refcount, FailedMountChangesNoCountAndDetaches) {
  calls_.fail_mount = true;
  auto mp = driver_->mount("v", "c1");
  ASSERT_FALSE(mp.has_value());
  EXPECT_NE(mp.error().message.find("injected mount failure"), std::string::npos);
  EXPECT_NE(mp.error().message.find("volume v"), std::string::npos);
  EXPECT_EQ(refs(), 0u);
  EXPECT_TRUE(calls_.attached.empty()) << "the attach is undone";
}

TEST_F(Refcount, UnknownIdUnmountSucceedsAndChangesNothing) {
  ASSERT_TRUE(driver_->mount("v", "c1").has_value());
  EXPECT_TRUE(driver_->unmount("v", "never-mounted").has_value());
  EXPECT_EQ(refs(), 1u);
  EXPECT_EQ(calls_.unmount, 0);
  EXPECT_FALSE(driver_->unmount("nope", "x").has_value()) << "an unknown volume is an error";
}

TEST_F(Refcount, ForeignSignatureIsNeverFormattedOrMounted) {
  calls_.signature = "LVM2_member";
  auto mp = driver_->mount("v", "c1");
  ASSERT_FALSE(mp.has_value());
  EXPECT_NE(mp.error().message.find("LVM2_member"), std::string::npos);
  EXPECT_EQ(calls_.format, 0);
  EXPECT_EQ(calls_.mount, 0);
  EXPECT_TRUE(calls_.attached.empty());
}

TEST_F(Refcount, RemoveRefusesAMountedVolumeUnlessForced) {
  ASSERT_TRUE(driver_->mount("v", "c1").has_value());
  auto refused = driver_->remove("v", false);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("in use"), std::string::npos);
  EXPECT_TRUE(calls_.volumes.contains("v"));
  ASSERT_TRUE(driver_->remove("v", true).has_value());
  EXPECT_FALSE(calls_.volumes.contains("v"));
  EXPECT_TRUE(calls_.table.empty());
  EXPECT_FALSE(driver_->get("v").has_value());
  EXPECT_TRUE(driver_->create({"v", 1 << 30, true, 1, "fake", "ext4"}).has_value())
      << "the name is free again";
}

TEST_F(Refcount, CreateRefusesDuplicatesUnknownDriversAndTooManyReplicas) {
  auto dup = driver_->create({"v", 1 << 30, true, 1, "fake", "ext4"});
  ASSERT_FALSE(dup.has_value());
  EXPECT_NE(dup.error().message.find("already exists"), std::string::npos);
  auto unknown = driver_->create({"w", 1 << 30, true, 1, "ceph", "ext4"});
  ASSERT_FALSE(unknown.has_value());
  EXPECT_NE(unknown.error().message.find("\"ceph\" is not enabled"), std::string::npos);
  auto replicas = driver_->create({"w", 1 << 30, true, 3, "fake", "ext4"});
  ASSERT_FALSE(replicas.has_value());
  EXPECT_NE(replicas.error().message.find("replicas=3"), std::string::npos);
  EXPECT_FALSE(calls_.volumes.contains("w"));
}

TEST_F(Refcount, CountsSurviveARestartAndReconcileRepairs) {
  ASSERT_TRUE(driver_->mount("v", "c1").has_value());
  ASSERT_TRUE(driver_->mount("v", "c2").has_value());
  driver_ = make();  // a new daemon over the same state
  EXPECT_TRUE(driver_->reconcile().empty()) << "nothing to repair";
  EXPECT_EQ(refs(), 2u);
  EXPECT_EQ(driver_->get("v")->mounts.at("c1"), 1u);

  // Someone unmounted it behind our back: reconcile mounts it again for its references.
  calls_.table.clear();
  EXPECT_EQ(driver_->get("v")->state, "error");
  auto notes = driver_->reconcile();
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("mounted again"), std::string::npos) << notes[0];
  EXPECT_EQ(driver_->get("v")->state, "mounted");

  // References from an earlier boot are dropped and the volume is released.
  fs::path record = state_ / "volumes/v.json";
  std::string text = *read_file(record);
  auto at = text.find("\"boot_id\": \"");
  ASSERT_NE(at, std::string::npos);
  text.insert(at + 12, "old-");
  std::ofstream(record, std::ios::trunc) << text;
  notes = driver_->reconcile();
  ASSERT_GE(notes.size(), 1u);
  EXPECT_NE(notes[0].find("earlier boot"), std::string::npos) << notes[0];
  EXPECT_EQ(refs(), 0u);
  EXPECT_TRUE(calls_.table.empty());
  EXPECT_TRUE(calls_.attached.empty());
}

// Replicas and snapshots go to the storage driver's capabilities, through the volume service.
TEST_F(Refcount, OperationsADriverLacksAreRefusedNamingIt) {
  auto replica = driver_->add_replica("v", "");
  ASSERT_FALSE(replica.has_value());
  EXPECT_EQ(replica.error().message, "volume v uses the fake driver, which has no replicas");
  auto snapshot = driver_->create_snapshot("v", "s1");
  ASSERT_FALSE(snapshot.has_value());
  EXPECT_EQ(snapshot.error().message, "volume v uses the fake driver, which has no snapshots");
  EXPECT_FALSE(driver_->rebuild("nope").has_value()) << "an unknown volume is an error";
  EXPECT_FALSE(driver_->list_snapshots("../v").has_value()) << "names are checked";
}

TEST_F(Refcount, ASnapshotOfAMountedVolumeFreezesItAndRevertWaitsForItsRelease) {
  ASSERT_TRUE(driver_->create({"w", 1 << 30, true, 1, "snap", "ext4"}).has_value());
  ASSERT_TRUE(driver_->create_snapshot("w", "s1").has_value());
  EXPECT_TRUE(calls_.freezes.empty()) << "nothing to freeze while not mounted";
  ASSERT_TRUE(driver_->mount("w", "c1").has_value());
  auto snap = driver_->create_snapshot("w", "s2");
  ASSERT_TRUE(snap.has_value()) << snap.error().message;
  EXPECT_EQ(snap->name, "s2");
  EXPECT_EQ(calls_.freezes, (std::vector<bool>{true, false}));
  auto refused = driver_->revert_snapshot("w", "s1");
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("is in use"), std::string::npos);
  ASSERT_TRUE(driver_->unmount("w", "c1").has_value());
  EXPECT_TRUE(driver_->revert_snapshot("w", "s1").has_value());
}

TEST_F(Refcount, DamagedRecordsStillListAsErrors) {
  std::ofstream(state_ / "volumes/broken.json") << "{not json";
  auto all = driver_->list();
  ASSERT_TRUE(all.has_value());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[1].spec.name, "broken");
  EXPECT_EQ((*all)[1].state, "error");
  EXPECT_NE((*all)[1].error.find("damaged"), std::string::npos);
}

// DetachVolume's Force: never pulls a held device from under its holders. A storage that cannot
// let it go on the last close refuses, changing nothing; one that can leaves the volume attached
// (its mounts here unmounted lazily) until the device is released, then detach() finishes.
TEST_F(Refcount, AForcedDetachWaitsForTheHoldersAndARefusalChangesNothing) {
  auto free = driver_->attach("v");
  ASSERT_TRUE(free.has_value()) << free.error().message;
  auto now = driver_->detach_when_released("v");
  ASSERT_TRUE(now.has_value()) << now.error().message;
  EXPECT_TRUE(now->empty()) << "nobody held it: detached at once";
  EXPECT_EQ(driver_->get("v")->state, "detached");

  ASSERT_TRUE(driver_->attach("v").has_value());
  calls_.table["/mnt/mine"] = MountEntry{"/dev/fake-v", "/mnt/mine", "ext4", ""};
  calls_.holders = {"process sleep (pid 42) has it, or a file on it, open"};
  auto refused = driver_->detach_when_released("v");
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("process sleep (pid 42)"), std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find("Nothing was changed"), std::string::npos);
  EXPECT_TRUE(calls_.lazy_unmounts.empty()) << "a refused Force unmounts nothing";
  EXPECT_EQ(driver_->get("v")->state, "attached");

  calls_.can_release = true;
  auto waiting = driver_->detach_when_released("v");
  ASSERT_TRUE(waiting.has_value()) << waiting.error().message;
  EXPECT_EQ(*waiting, calls_.holders);
  EXPECT_TRUE(calls_.released.contains("v"));
  EXPECT_EQ(calls_.lazy_unmounts, std::vector<fs::path>{"/mnt/mine"});
  EXPECT_EQ(driver_->get("v")->state, "attached") << "nothing else takes it while it is held";
  EXPECT_FALSE(driver_->detach("v").has_value()) << "a plain detach waits for the holders too";

  calls_.holders.clear();  // the last holder closed it: the kernel released the device
  calls_.attached.erase("v");
  ASSERT_TRUE(driver_->detach("v").has_value());
  EXPECT_EQ(driver_->get("v")->state, "detached");
}

}  // namespace
}  // namespace maya::drivers::docker
