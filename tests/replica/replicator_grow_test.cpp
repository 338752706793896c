// Growing a replicated volume in place (Replicator::grow, lib/replica/replica_grow.cpp): data
// written before and after reads back, the new range reads zeros, writes past the old end land
// on every replica, a replica that cannot grow leaves (and comes back rebuilt over the whole new
// size), a grow cut short by a crash is finished at open, and metadata of a larger volume is
// refused. File replicas (file:// children) where a reopen is the point, memory ones elsewhere.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <random>

#include "lib/common/log.h"
#include "lib/replica/child_factory.h"
#include "lib/replica/replicator.h"
#include "tests/replica/replica_fakes.h"
#include "tests/support/memory_backend.h"

namespace maya::replica {
namespace {

using namespace fakes;
namespace fs = std::filesystem;

constexpr std::uint64_t kGrown = 2 * kSize;  // 32 MiB

Replicator::Options options(std::uint64_t size = kSize) {
  Replicator::Options o;
  o.size_bytes = size;
  o.clean_interval = std::chrono::milliseconds(50);
  return o;
}

// Memory replicas handed to a replicator; the test keeps raw pointers (valid while it lives).
struct Fleet {
  std::vector<Fake> fakes;
  std::vector<Replicator::Member> parts;

  explicit Fleet(int n, std::uint64_t data_size = kSize) {
    for (int i = 1; i <= n; ++i) add("r" + std::to_string(i), data_size);
  }
  Fake& add(const std::string& id, std::uint64_t data_size) {
    auto data = std::make_unique<MemoryBackend>(MemoryBackendOptions{.size = data_size});
    auto journal = std::make_unique<MemoryJournal>();
    fakes.push_back({id, data.get(), journal.get()});
    parts.push_back({id, std::move(data), std::move(journal), ""});
    return fakes.back();
  }
  std::vector<Replicator::Member> members() { return std::move(parts); }
};

std::vector<std::byte> zeros(std::size_t n) {
  return std::vector<std::byte>(n, std::byte{0});
}

std::string error_of(const Replicator& r, const std::string& id) {
  for (const auto& s : r.replicas())
    if (s.id == id) return s.error;
  return "";
}

class ReplicatorGrowTest : public ::testing::Test {
 protected:
  void SetUp() override { log::set_level(log::Level::error); }
};

TEST_F(ReplicatorGrowTest, DataBeforeAndAfterReadsBackAndTheNewRangeReadsZeros) {
  Fleet fleet(2);
  auto fakes = fleet.fakes;
  auto r = Replicator::open(fleet.members(), options());
  ASSERT_TRUE(r) << r.error().message;
  const auto before = pattern(1 << 20, 1);
  ASSERT_TRUE((*r)->write(kSize - (1 << 20), before, false));
  EXPECT_FALSE((*r)->write(kSize, pattern(4096, 9), false)) << "past the end before the grow";

  ASSERT_TRUE((*r)->grow(kGrown)) << "grow";
  EXPECT_EQ((*r)->size_bytes(), kGrown);
  EXPECT_EQ((*r)->health(), "healthy");
  EXPECT_EQ(read_back(**r, kSize - (1 << 20), 1 << 20), before);
  EXPECT_EQ(read_back(**r, kSize, kGrown - kSize), zeros(kGrown - kSize));
  const auto after = pattern(2 << 20, 2);  // crosses the old end
  ASSERT_TRUE((*r)->write(kSize - (1 << 20), after, true));
  ASSERT_TRUE((*r)->write(kGrown - 4096, pattern(4096, 3), false)) << "the new last block";
  EXPECT_FALSE((*r)->write(kGrown, pattern(4096, 3), false)) << "past the new end";
  for (const auto& f : fakes) {
    EXPECT_EQ(f.data->size_bytes(), kGrown) << f.id;
    EXPECT_EQ(read_back(*f.data, kSize - (1 << 20), 2 << 20), after) << f.id;
    EXPECT_EQ(read_back(*f.data, kGrown - 4096, 4096), pattern(4096, 3)) << f.id;
    EXPECT_EQ(f.journal->meta().size_bytes, kGrown) << f.id << ": its metadata names the size";
  }
  EXPECT_TRUE((*r)->grow(kGrown)) << "the same size changes nothing";
  auto shrink = (*r)->grow(kSize);
  ASSERT_FALSE(shrink);
  EXPECT_EQ(shrink.error().message, "the volume is " + std::to_string(kGrown) +
                                        " bytes; it cannot shrink to " + std::to_string(kSize));
  EXPECT_FALSE((*r)->grow(kGrown + 100)) << "whole blocks only";
  EXPECT_EQ((*r)->size_bytes(), kGrown);
}

TEST_F(ReplicatorGrowTest, AReplicaThatCannotGrowLeavesAndComesBackRebuiltOverTheNewSize) {
  Fleet fleet(3);
  auto fakes = fleet.fakes;
  auto r = Replicator::open(fleet.members(), options());
  ASSERT_TRUE(r);
  ASSERT_TRUE((*r)->write(0, pattern(1 << 20, 4), false));
  const auto generation = (*r)->generation();
  fakes[1].data->inject_fault(MemoryBackend::Fault::grow);

  ASSERT_TRUE((*r)->grow(kGrown)) << "the volume goes on with the others";
  EXPECT_EQ(mode_of(**r, "r1"), ReplicaMode::RW);
  EXPECT_EQ(mode_of(**r, "r2"), ReplicaMode::ERR);
  EXPECT_EQ(mode_of(**r, "r3"), ReplicaMode::RW);
  EXPECT_NE(error_of(**r, "r2").find("cannot grow"), std::string::npos) << error_of(**r, "r2");
  EXPECT_GT((*r)->generation(), generation) << "the members that stay are a new generation";
  EXPECT_EQ((*r)->health(), "degraded");
  const auto late = pattern(1 << 20, 5);
  ASSERT_TRUE((*r)->write(kGrown - (1 << 20), late, false));

  // It comes back opened at the volume's size (as replica_files opens it) and copies everything,
  // the new range included.
  auto back = std::make_unique<MemoryBackend>(MemoryBackendOptions{.size = kGrown});
  MemoryBackend* back_data = back.get();
  ASSERT_TRUE((*r)->add_replica({"r2", std::move(back), std::make_unique<MemoryJournal>(), ""}));
  (*r)->wait_rebuilds();
  EXPECT_EQ(mode_of(**r, "r2"), ReplicaMode::RW);
  EXPECT_EQ(read_back(*back_data, kGrown - (1 << 20), 1 << 20), late);
  EXPECT_EQ(read_back(*back_data, 0, 1 << 20), pattern(1 << 20, 4));
}

TEST_F(ReplicatorGrowTest, WhenNoReplicaCanGrowNothingChanges) {
  Fleet fleet(2);
  auto fakes = fleet.fakes;
  auto r = Replicator::open(fleet.members(), options());
  ASSERT_TRUE(r);
  for (const auto& f : fakes) f.data->inject_fault(MemoryBackend::Fault::grow);
  auto grown = (*r)->grow(kGrown);
  ASSERT_FALSE(grown);
  EXPECT_NE(grown.error().message.find("no replica can grow"), std::string::npos)
      << grown.error().message;
  EXPECT_EQ((*r)->size_bytes(), kSize);
  EXPECT_EQ((*r)->health(), "healthy");
  for (const auto& f : fakes) EXPECT_EQ(f.journal->meta().size_bytes, kSize) << f.id;
  EXPECT_FALSE((*r)->write(kSize, pattern(4096, 1), false));
}

TEST_F(ReplicatorGrowTest, AGrowIsRefusedWhileARebuildRuns) {
  Fleet fleet(1);
  auto fakes = fleet.fakes;
  // Declared before the replicator: its close() at the end saves metadata through the hook.
  std::promise<void> entered, release;
  auto released = release.get_future().share();
  std::atomic<bool> armed{true};
  auto r = Replicator::open(fleet.members(), options());
  ASSERT_TRUE(r);
  // The rebuild of a new replica ends by saving the membership on r1: held there, it runs.
  fakes[0].journal->set_save_meta_hook([&] {
    if (!armed.exchange(false)) return;
    entered.set_value();
    released.wait();
  });
  ASSERT_TRUE((*r)->add_replica({"r2", std::make_unique<MemoryBackend>(MemoryBackendOptions{}),
                                 std::make_unique<MemoryJournal>(), ""}));
  ASSERT_EQ(entered.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
  auto refused = (*r)->grow(kGrown);
  release.set_value();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message,
            "a rebuild of replica r2 is running; resize once it completes");
  (*r)->wait_rebuilds();
  EXPECT_TRUE((*r)->grow(kGrown)) << "once it completes";
  EXPECT_EQ(mode_of(**r, "r2"), ReplicaMode::RW);
}

// A target that died after the manifest grew, before or during the grow: replicas whose
// metadata names the old size serve, their data grown at open.
TEST_F(ReplicatorGrowTest, MetadataOfASmallerVolumeIsAcceptedAndItsDataGrownAtOpen) {
  Fleet fleet(2);  // data of the old size, as the dead target left it
  auto fakes = fleet.fakes;
  for (const auto& f : fakes)
    ASSERT_TRUE(f.journal->save_meta({f.id, kSize, 3, 7, false, {"r1", "r2"}, 0}));
  ASSERT_TRUE(fakes[0].data->write(0, pattern(4096, 6), false));
  ASSERT_TRUE(fakes[1].data->write(0, pattern(4096, 6), false));
  auto r = Replicator::open(fleet.members(), options(kGrown));
  ASSERT_TRUE(r) << r.error().message;
  for (const auto& f : fakes) {
    EXPECT_EQ(mode_of(**r, f.id), ReplicaMode::RW) << error_of(**r, f.id);
    EXPECT_EQ(f.data->size_bytes(), kGrown) << f.id;
    EXPECT_EQ(f.journal->meta().size_bytes, kGrown) << f.id;
  }
  EXPECT_EQ(read_back(**r, 0, 4096), pattern(4096, 6));
  EXPECT_EQ(read_back(**r, kSize, 1 << 20), zeros(1 << 20));
  EXPECT_TRUE((*r)->write(kGrown - 4096, pattern(4096, 1), false));
}

TEST_F(ReplicatorGrowTest, MetadataOfALargerVolumeIsRefused) {
  Fleet fleet(2, kGrown);
  auto fakes = fleet.fakes;
  ASSERT_TRUE(fakes[0].journal->save_meta({"r1", kSize, 3, 7, false, {"r1"}, 4}));
  ASSERT_TRUE(fakes[1].journal->save_meta({"r2", kGrown, 2, 5, false, {"r1", "r2"}, 0}));
  auto r = Replicator::open(fleet.members(), options());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(mode_of(**r, "r1"), ReplicaMode::RW);
  EXPECT_EQ(mode_of(**r, "r2"), ReplicaMode::ERR);
  EXPECT_NE(error_of(**r, "r2").find("a volume cannot shrink"), std::string::npos)
      << error_of(**r, "r2");

  Fleet alone(1, kGrown);
  ASSERT_TRUE(alone.fakes[0].journal->save_meta({"r1", kGrown, 1, 1, true, {"r1"}, 0}));
  auto refused = Replicator::open(alone.members(), options());
  ASSERT_FALSE(refused) << "its only replica belongs to a larger volume";
  EXPECT_NE(refused.error().message.find("cannot shrink"), std::string::npos)
      << refused.error().message;
}

TEST_F(ReplicatorGrowTest, DataSmallerThanItsOwnMetadataSaysIsNotGrown) {
  Fleet fleet(2);
  auto fakes = fleet.fakes;
  ASSERT_TRUE(fakes[0].journal->save_meta({"r1", kGrown, 2, 1, true, {"r1", "r2"}, 0}));
  ASSERT_TRUE(fakes[1].journal->save_meta({"r2", kGrown, 2, 1, true, {"r1", "r2"}, 0}));
  auto r = Replicator::open(fleet.members(), options(kGrown));
  ASSERT_FALSE(r) << "data cut short is damage, not a grow to finish";
  EXPECT_NE(r.error().message.find("its data is smaller than the volume"), std::string::npos)
      << r.error().message;
}

// Real file:// children: grow, close, reopen at the new size.
class FileReplicaGrowTest : public ReplicatorGrowTest {
 protected:
  void SetUp() override {
    ReplicatorGrowTest::SetUp();
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("maya-grow-" + std::to_string(rd()));
    // The data files start at the old size (as `maya volume create` made them).
    for (const char* id : {"r1", "r2"}) {
      fs::create_directories(dir_ / id);
      std::ofstream(dir_ / id / kFileChildData).close();
      fs::resize_file(dir_ / id / kFileChildData, kSize);
    }
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<Replicator::Member> open_members(std::uint64_t size) {
    std::vector<Replicator::Member> members;
    for (const char* id : {"r1", "r2"}) {
      auto child = open_child(id, "file://" + (dir_ / id).string(),
                              {.size_bytes = size, .block_size = 512, .thin = true});
      EXPECT_TRUE(child) << child.error().message;
      if (child) members.push_back({id, std::move(child->data), std::move(child->journal), ""});
    }
    return members;
  }
  std::uint64_t file_size(const char* id) const {
    return fs::file_size(dir_ / id / kFileChildData);
  }

  fs::path dir_;
};

TEST_F(FileReplicaGrowTest, AGrownVolumeReopensAtItsNewSize) {
  {
    auto r = Replicator::open(open_members(kSize), options());
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_TRUE((*r)->write(0, pattern(1 << 20, 1), false));
    ASSERT_TRUE((*r)->grow(kGrown));
    EXPECT_EQ(file_size("r1"), kGrown);
    EXPECT_EQ(file_size("r2"), kGrown);
    ASSERT_TRUE((*r)->write(kGrown - (1 << 20), pattern(1 << 20, 2), true));
    (*r)->close();
  }
  auto r = Replicator::open(open_members(kGrown), options(kGrown));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)->health(), "healthy");
  EXPECT_EQ(read_back(**r, 0, 1 << 20), pattern(1 << 20, 1));
  EXPECT_EQ(read_back(**r, kGrown - (1 << 20), 1 << 20), pattern(1 << 20, 2));
  EXPECT_EQ(read_back(**r, kSize, 1 << 20), zeros(1 << 20));
}

TEST_F(FileReplicaGrowTest, AVolumeWhoseTargetDiedBeforeTheGrowOpensAtTheManifestSize) {
  {
    auto r = Replicator::open(open_members(kSize), options());
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_TRUE((*r)->write(4096, pattern(4096, 8), true));
    (*r)->close();
  }
  // The manifest says kGrown now; the journals still say kSize.
  auto r = Replicator::open(open_members(kGrown), options(kGrown));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)->health(), "healthy");
  EXPECT_EQ(file_size("r1"), kGrown);
  EXPECT_EQ(read_back(**r, 4096, 4096), pattern(4096, 8));
  EXPECT_TRUE((*r)->write(kGrown - 4096, pattern(4096, 9), false));
}

TEST(RegionBitmapGrow, KeepsItsBitsAndCountsTheNewRegionsClear) {
  RegionBitmap bm(70);
  bm.set(3);
  bm.set(69);
  bm.grow(200);
  EXPECT_EQ(bm.regions(), 200u);
  EXPECT_TRUE(bm.test(3));
  EXPECT_TRUE(bm.test(69));
  EXPECT_EQ(bm.count(), 2u);
  EXPECT_TRUE(bm.set(199));
  EXPECT_FALSE(bm.set(200)) << "past the end";
  bm.grow(10);
  EXPECT_EQ(bm.regions(), 200u) << "never shrinks";
}

}  // namespace
}  // namespace maya::replica
