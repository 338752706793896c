// Write quorums (ReplicaSet::Policy::quorum_writes, the realm's volumes): a volume whose owner
// can move to another host refuses writes without a majority of its replicas, and in exchange
// opens without a member of the newest generation when it reaches a majority. In-memory
// replicas whose writes can be told to fail: faults are the one place a fake is right.
#include <gtest/gtest.h>

#include "lib/common/log.h"
#include "lib/replica/replicator.h"
#include "tests/replica/replica_fakes.h"
#include "tests/support/memory_backend.h"

namespace maya::replica {
namespace {

using namespace fakes;

Replicator::Options quorum_options(bool quorum) {
  Replicator::Options o;
  o.size_bytes = kSize;
  o.clean_interval = std::chrono::milliseconds(50);
  o.quorum_writes = quorum;
  return o;
}

// A member whose journal says it is of generation `generation` with `members`; its data lives
// in `data` (kept by the test).
Replicator::Member member_at(const std::string& id, std::uint64_t generation,
                             std::vector<std::string> members, MemoryBackend** data) {
  auto journal = std::make_unique<MemoryJournal>();
  EXPECT_TRUE(journal->save_meta({id, kSize, generation, 10, true, std::move(members), 0}));
  auto backend = std::make_unique<MemoryBackend>(MemoryBackendOptions{kSize});
  if (data) *data = backend.get();
  return {id, std::move(backend), std::move(journal), ""};
}

Replicator::Member unreachable(const std::string& id) {
  return {id, nullptr, nullptr, "cannot connect or log in"};
}

class ReplicatorQuorumTest : public ::testing::Test {
 protected:
  void SetUp() override { log::set_level(log::Level::error); }
};

TEST_F(ReplicatorQuorumTest, WithoutAMajorityWritesAreRefusedAndTheMembershipStays) {
  MemoryBackend* data[3];
  std::vector<Replicator::Member> members;
  for (int i = 0; i < 3; ++i)
    members.push_back(member_at("r" + std::to_string(i + 1), 1, {"r1", "r2", "r3"}, &data[i]));
  auto r = Replicator::open(std::move(members), quorum_options(true));
  ASSERT_TRUE(r) << r.error().message;
  auto block = pattern(4096, 7);
  ASSERT_TRUE((*r)->write(0, block, false));
  // One of three leaves: two are a majority, writes go on.
  data[1]->inject_fault(MemoryBackend::Fault::write);
  ASSERT_TRUE((*r)->write(4096, block, false)) << "two of three still take writes";
  EXPECT_EQ(mode_of(**r, "r2"), ReplicaMode::ERR);
  // A second one leaves: one is no majority. The write is refused (EIO), not acknowledged by
  // r1 alone, and reads still serve what was written.
  data[2]->inject_fault(MemoryBackend::Fault::write);
  auto refused = (*r)->write(8192, block, false);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errno_code(EIO)) << refused.error().message;
  EXPECT_NE(refused.error().message.find("majority"), std::string::npos) << refused.error().message;
  EXPECT_FALSE((*r)->write(12288, block, false)) << "later writes are refused too";
  EXPECT_EQ(read_back(**r, 0, 4096), block);
  (*r)->close();
}

TEST_F(ReplicatorQuorumTest, AMajorityOpensWithoutAMemberOfTheNewestGeneration) {
  // The owner died holding r1..r3 at generation 4; its host, with r3, is gone.
  MemoryBackend* r1 = nullptr;
  std::vector<Replicator::Member> members;
  members.push_back(member_at("r1", 4, {"r1", "r2", "r3"}, &r1));
  members.push_back(member_at("r2", 4, {"r1", "r2", "r3"}, nullptr));
  members.push_back(unreachable("r3"));
  auto r = Replicator::open(std::move(members), quorum_options(true));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(mode_of(**r, "r1"), ReplicaMode::RW);
  EXPECT_EQ(mode_of(**r, "r2"), ReplicaMode::RW);
  EXPECT_EQ(mode_of(**r, "r3"), ReplicaMode::ERR);
  auto block = pattern(4096, 9);
  EXPECT_TRUE((*r)->write(0, block, false)) << "two of three are a majority";
  (*r)->close();
}

TEST_F(ReplicatorQuorumTest, WithoutQuorumsAMissingMemberStillKeepsTheVolumeOffline) {
  std::vector<Replicator::Member> members;
  members.push_back(member_at("r1", 4, {"r1", "r2", "r3"}, nullptr));
  members.push_back(member_at("r2", 4, {"r1", "r2", "r3"}, nullptr));
  members.push_back(unreachable("r3"));
  auto r = Replicator::open(std::move(members), quorum_options(false));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("r3"), std::string::npos) << r.error().message;
}

TEST_F(ReplicatorQuorumTest, AMinorityStaysOffline) {
  // An old owner coming back reaches only its own replica: it must not serve it.
  std::vector<Replicator::Member> members;
  members.push_back(unreachable("r1"));
  members.push_back(unreachable("r2"));
  members.push_back(member_at("r3", 4, {"r1", "r2", "r3"}, nullptr));
  auto r = Replicator::open(std::move(members), quorum_options(true));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("offline"), std::string::npos) << r.error().message;
}

TEST_F(ReplicatorQuorumTest, ANewOwnersGenerationsStartAboveItsEpoch) {
  // A new owner (epoch 5) opens replicas an old owner left at generation 9; the old owner,
  // fenced, may still bump its own replica's generation a few times: never up to the new one's.
  std::vector<Replicator::Member> members;
  MemoryBackend* data = nullptr;
  members.push_back(member_at("r1", 9, {"r1", "r2"}, &data));
  members.push_back(member_at("r2", 9, {"r1", "r2"}, nullptr));
  auto options = quorum_options(true);
  options.min_generation = std::uint64_t{5} << 32;
  auto r = Replicator::open(std::move(members), options);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_GT((*r)->generation(), std::uint64_t{5} << 32);
  (*r)->close();
}

TEST_F(ReplicatorQuorumTest, RemovingAReplicaIsRefusedWhenWhatStaysIsNoMajority) {
  MemoryBackend* data[3];
  std::vector<Replicator::Member> members;
  for (int i = 0; i < 3; ++i)
    members.push_back(member_at("r" + std::to_string(i + 1), 1, {"r1", "r2", "r3"}, &data[i]));
  auto r = Replicator::open(std::move(members), quorum_options(true));
  ASSERT_TRUE(r) << r.error().message;
  data[2]->inject_fault(MemoryBackend::Fault::write);
  ASSERT_TRUE((*r)->write(0, pattern(4096, 1), false));  // r3 leaves: r1, r2 in sync
  auto removed = (*r)->remove_replica("r2");             // r1 alone of r1, r3: no majority
  ASSERT_FALSE(removed);
  EXPECT_NE(removed.error().message.find("majority"), std::string::npos) << removed.error().message;
  EXPECT_TRUE((*r)->write(0, pattern(4096, 2), false)) << "r1 and r2 still take writes";
  (*r)->close();
}

// A replica added to a quorum volume (a drain's new one) votes only once it is in sync: while
// it rebuilds, or if its rebuild fails, the volume takes the loss of one of its three as before.
// Once RW it counts: two of four are no majority.
TEST_F(ReplicatorQuorumTest, ANewReplicaVotesOnlyOnceInSync) {
  for (const bool rebuilt : {false, true}) {
    SCOPED_TRACE(rebuilt ? "the new replica rebuilt" : "the new replica's rebuild failed");
    MemoryBackend* data[3];
    std::vector<Replicator::Member> members;
    for (int i = 0; i < 3; ++i)
      members.push_back(member_at("r" + std::to_string(i + 1), 1, {"r1", "r2", "r3"}, &data[i]));
    auto r = Replicator::open(std::move(members), quorum_options(true));
    ASSERT_TRUE(r) << r.error().message;
    auto block = pattern(4096, 3);
    ASSERT_TRUE((*r)->write(0, block, false));
    auto fresh = std::make_unique<MemoryBackend>(MemoryBackendOptions{kSize});
    if (!rebuilt) fresh->inject_fault(MemoryBackend::Fault::write);
    ASSERT_TRUE((*r)->add_replica({"r4", std::move(fresh), std::make_unique<MemoryJournal>(), ""}));
    (*r)->wait_rebuilds();
    EXPECT_EQ(mode_of(**r, "r4"), rebuilt ? ReplicaMode::RW : ReplicaMode::ERR);
    data[2]->inject_fault(MemoryBackend::Fault::write);
    ASSERT_TRUE((*r)->write(4096, block, false)) << "one replica of the three lost";
    data[1]->inject_fault(MemoryBackend::Fault::write);
    auto second = (*r)->write(8192, block, false);
    // Rebuilt: r1 and r4 are two of four voters; not: r1 is one of three. Neither a majority.
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code, errno_code(EIO)) << second.error().message;
    (*r)->close();
  }
}

}  // namespace
}  // namespace maya::replica
