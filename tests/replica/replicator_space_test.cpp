// The replicator when the store runs out of space (issue 10, failure 2; SBC-4 thin
// provisioning): out of space everywhere is not a dead replica (the write fails with ENOSPC as
// its cause, every replica stays RW, no generation bump, writes work again once space is
// back), a partial write that left replicas different converges, a replica that alone runs out
// leaves and is rebuilt by itself when space returns, and a membership that cannot be saved
// leaves the volume serving reads rather than offline.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "lib/common/log.h"
#include "lib/replica/replicator.h"
#include "tests/replica/replica_fakes.h"
#include "tests/support/memory_backend.h"

namespace maya::replica {
namespace {

using namespace fakes;
using block::SpaceUsage;

using Fault = MemoryBackend::Fault;

// Makes n replicas; ownership goes to the replicator, the test keeps raw pointers.
std::vector<Replicator::Member> make_members(int n, std::vector<Fake>& fakes) {
  std::vector<Replicator::Member> out;
  for (int i = 1; i <= n; ++i) {
    auto data = std::make_unique<MemoryBackend>(MemoryBackendOptions{.size = kSize});
    auto journal = std::make_unique<MemoryJournal>();
    fakes.push_back({"r" + std::to_string(i), data.get(), journal.get()});
    out.push_back({fakes.back().id, std::move(data), std::move(journal), ""});
  }
  return out;
}

Replicator::Options options() {
  Replicator::Options o;
  o.size_bytes = kSize;
  o.clean_interval = std::chrono::milliseconds(20);
  o.space_retry = std::chrono::milliseconds(20);
  o.space_retry_max = std::chrono::milliseconds(100);
  return o;
}

// Waits (bounded: 10 s) for `done`; no timing assertion, only a state.
template <class F>
bool eventually(F done) {
  for (int i = 0; i < 1000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

class ReplicatorSpaceTest : public ::testing::Test {
 protected:
  void SetUp() override { log::set_level(log::Level::error); }
};

TEST_F(ReplicatorSpaceTest, OutOfSpaceEverywhereFailsTheWriteButNoReplicaLeaves) {
  for (int n : {1, 2}) {
    std::vector<Fake> fakes;
    auto r = Replicator::open(make_members(n, fakes), options());
    ASSERT_TRUE(r) << r.error().message;
    const auto first = pattern(1 << 20, 1);
    ASSERT_TRUE((*r)->write(0, first, false));
    const auto generation = fakes[0].journal->meta().generation;
    for (auto& f : fakes) f.data->inject_fault(Fault::no_space, 4 << 20);
    for (std::size_t bytes : {std::size_t{4096}, std::size_t{4 << 20}}) {
      auto big = pattern(bytes, 2);
      auto put = (*r)->write((4 << 20) - 2048, big, false);
      ASSERT_FALSE(put) << n << " replica(s), " << bytes;
      EXPECT_TRUE(out_of_space(put.error())) << put.error().message;
    }
    EXPECT_EQ((*r)->health(), "healthy") << n;
    for (auto& f : fakes) {
      EXPECT_EQ(mode_of(**r, f.id), ReplicaMode::RW) << f.id;
      EXPECT_EQ(f.journal->meta().generation, generation) << "no generation bump";
    }
    EXPECT_EQ(read_back(**r, 0, 1 << 20), first) << "reads go on";
    for (auto& f : fakes) f.data->clear_faults();  // space freed: no restart, no rebuild
    const auto later = pattern(4 << 20, 3);
    ASSERT_TRUE((*r)->write(3 << 20, later, false));
    EXPECT_EQ(read_back(**r, 3 << 20, 4 << 20), later);
    EXPECT_FALSE((*r)->rebuild_status());
    EXPECT_EQ((*r)->health(), "healthy");
  }
}

TEST_F(ReplicatorSpaceTest, AFullReplicaStaysWhenTheOtherFailsForAnotherReason) {
  std::vector<Fake> fakes;
  auto r = Replicator::open(make_members(2, fakes), options());
  ASSERT_TRUE(r);
  fakes[0].data->inject_fault(Fault::no_space);
  fakes[1].data->inject_fault(Fault::write);  // EIO: a dead disk
  auto put = (*r)->write(0, pattern(4096, 10), false);
  ASSERT_FALSE(put);
  EXPECT_TRUE(out_of_space(put.error())) << put.error().message;
  EXPECT_EQ(mode_of(**r, "r1"), ReplicaMode::RW) << "full, not broken: it keeps the data";
  EXPECT_EQ(mode_of(**r, "r2"), ReplicaMode::ERR);
  fakes[0].data->clear_faults();
  EXPECT_TRUE((*r)->write(0, pattern(4096, 11), false));
  EXPECT_EQ(read_back(**r, 0, 4096), pattern(4096, 11));
}

TEST_F(ReplicatorSpaceTest, APartialWriteThatLeftReplicasDifferentConverges) {
  std::vector<Fake> fakes;
  auto r = Replicator::open(make_members(2, fakes), options());
  ASSERT_TRUE(r);
  // r1 fills up at 5 MiB, r2 at 3 MiB: a write of [2, 6) MiB leaves 3..5 MiB on r1 only.
  fakes[0].data->inject_fault(Fault::no_space, 5 << 20);
  fakes[1].data->inject_fault(Fault::no_space, 3 << 20);
  auto put = (*r)->write(2 << 20, pattern(4 << 20, 4), false);
  ASSERT_FALSE(put);
  EXPECT_TRUE(out_of_space(put.error()));
  EXPECT_NE(read_back(*fakes[0].data, 3 << 20, 1 << 20),
            read_back(*fakes[1].data, 3 << 20, 1 << 20));
  // Reads of a region that differs give one answer until the replicas agree.
  const auto seen = read_back(**r, 3 << 20, 1 << 20);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(read_back(**r, 3 << 20, 1 << 20), seen);
  for (auto& f : fakes) f.data->clear_faults();
  EXPECT_TRUE(eventually([&] {
    return read_back(*fakes[0].data, 0, kSize) == read_back(*fakes[1].data, 0, kSize);
  })) << "the replicas converge once there is room";
  EXPECT_EQ((*r)->health(), "healthy");
}

TEST_F(ReplicatorSpaceTest, AReplicaThatAloneRunsOutLeavesAndIsRebuiltWhenSpaceReturns) {
  std::vector<Fake> fakes;
  auto r = Replicator::open(make_members(2, fakes), options());
  ASSERT_TRUE(r);
  fakes[1].data->inject_fault(Fault::no_space);
  const auto data = pattern(2 << 20, 5);
  ASSERT_TRUE((*r)->write(1 << 20, data, false)) << "r1 took it";
  EXPECT_EQ(mode_of(**r, "r2"), ReplicaMode::ERR);
  EXPECT_EQ((*r)->health(), "degraded");
  // Still full: retried by itself (each try hits the full store again), and never RW meanwhile.
  const auto first_hits = fakes[1].data->faults_hit();
  bool rw_while_full = false;
  EXPECT_TRUE(eventually([&] {
    rw_while_full = rw_while_full || mode_of(**r, "r2") == ReplicaMode::RW;
    return fakes[1].data->faults_hit() >= first_hits + 2;
  })) << "retried at least twice while full";
  EXPECT_FALSE(rw_while_full);
  EXPECT_NE(mode_of(**r, "r2"), ReplicaMode::RW);
  fakes[1].data->clear_faults();  // space is back: no manual step
  EXPECT_TRUE(eventually([&] { return (*r)->health() == "healthy"; }));
  EXPECT_EQ(read_back(*fakes[1].data, 1 << 20, 2 << 20), data);
}

TEST_F(ReplicatorSpaceTest, JournalsWithNoRoomRefuseTheWriteAndNobodyLeaves) {
  std::vector<Fake> fakes;
  auto r = Replicator::open(make_members(2, fakes), options());
  ASSERT_TRUE(r);
  for (auto& f : fakes) f.journal->set_out_of_space(true);
  auto put = (*r)->write(0, pattern(4096, 6), false);
  ASSERT_FALSE(put);
  EXPECT_TRUE(out_of_space(put.error())) << put.error().message;
  EXPECT_EQ((*r)->health(), "healthy");
  for (auto& f : fakes) f.journal->set_out_of_space(false);
  ASSERT_TRUE((*r)->write(0, pattern(4096, 7), false));
  for (auto& f : fakes) EXPECT_NE(f.journal->word(BitmapKind::dirty, 0) & 1, 0u) << f.id;
}

TEST_F(ReplicatorSpaceTest, AVolumeWhoseJournalCannotBeWrittenAtOpenServesReads) {
  // A replica of generation 3 on a store that is full: opening saves generation 4, and cannot.
  auto data = std::make_unique<MemoryBackend>(MemoryBackendOptions{.size = kSize});
  ASSERT_TRUE(data->write(0, pattern(4096, 8), false));
  auto journal2 = std::make_unique<MemoryJournal>();
  ASSERT_TRUE(journal2->save_meta(ReplicaMeta{"r1", kSize, 3, 1, true, {"r1"}, 0}));
  journal2->set_out_of_space(true);
  auto* j2 = journal2.get();
  std::vector<Replicator::Member> again;
  again.push_back({"r1", std::move(data), std::move(journal2), ""});
  auto r = Replicator::open(std::move(again), options());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_NE((*r)->read_only_reason(), "") << "says why";
  EXPECT_EQ(read_back(**r, 0, 4096), pattern(4096, 8));
  auto put = (*r)->write(0, pattern(4096, 9), false);
  ASSERT_FALSE(put);
  EXPECT_TRUE(out_of_space(put.error())) << put.error().message;
  j2->set_out_of_space(false);  // space freed
  ASSERT_TRUE((*r)->write(0, pattern(4096, 9), false));
  EXPECT_EQ((*r)->read_only_reason(), "");
  EXPECT_GT(j2->meta().generation, 3u);
}

// r1 dies (EIO) on a write to region 0 and r2 cannot save the membership without it (no room
// for a new replica.json): r1 is ERR in memory, but the saved membership still names it. A
// write to region 1 that passed the read-only check just before then reaches r2 alone; if it
// were acknowledged, r1 would serve the old data of region 1 as a source after a restart.
TEST_F(ReplicatorSpaceTest, NoWriteIsAcknowledgedWhileTheSavedMembershipNamesAReplicaWithoutIt) {
  std::vector<Fake> fakes;
  auto r = Replicator::open(make_members(2, fakes), options());
  ASSERT_TRUE(r);
  fakes[0].data->inject_fault(Fault::write, 0, 1 << 20);
  fakes[1].journal->set_meta_out_of_space(true);
  const auto later = pattern(4096, 12);
  std::thread concurrent;
  Result<void> put3 = fail("not run");
  std::atomic<bool> once{false};
  // Runs while r1's failure is being recorded (the membership lock held): the concurrent write
  // passes the read-only check now and takes its targets once r1 is out.
  fakes[1].journal->set_save_meta_hook([&] {
    if (once.exchange(true)) return;
    concurrent = std::thread([&] { put3 = (*r)->write(1 << 20, later, false); });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // lets it reach the lock
  });
  EXPECT_FALSE((*r)->write(0, pattern(4096, 11), false));
  ASSERT_TRUE(concurrent.joinable());
  concurrent.join();
  fakes[1].journal->set_save_meta_hook(nullptr);
  EXPECT_NE((*r)->read_only_reason(), "");
  const auto members = fakes[1].journal->meta().members;
  const bool r1_named = std::find(members.begin(), members.end(), "r1") != members.end();
  ASSERT_TRUE(r1_named) << "the membership without r1 could not be saved";
  if (put3) {
    EXPECT_EQ(read_back(*fakes[0].data, 1 << 20, 4096), later)
        << "acknowledged, yet r1 (still a member on disk) does not hold it";
  }
  EXPECT_FALSE(put3) << "a write is refused while the saved membership names a replica without it";
  // Space back: the membership is saved without r1, and writes are acknowledged again.
  fakes[1].journal->set_meta_out_of_space(false);
  ASSERT_TRUE((*r)->write(1 << 20, later, false));
  EXPECT_EQ(read_back(**r, 1 << 20, 4096), later);
  const auto saved = fakes[1].journal->meta().members;
  EXPECT_EQ(std::find(saved.begin(), saved.end(), "r1"), saved.end());
}

// fdatasync that fails with ENOSPC has dropped written-back pages, maybe different ones on each
// replica, and says so once: the next flush succeeds. Every replica stays (the store is full,
// not broken), including when the cleaner's own flush is the one that fails, and the regions
// written before stay dirty until they are copied, so the replicas end up alike.
TEST_F(ReplicatorSpaceTest, AFlushThatRunsOutOfSpaceKeepsTheReplicasAndTheirDirtyRegions) {
  std::vector<Fake> fakes;
  auto r = Replicator::open(make_members(2, fakes), options());
  ASSERT_TRUE(r);
  for (auto& f : fakes) f.data->inject_fault(Fault::flush_no_space);
  ASSERT_TRUE((*r)->write(0, pattern(64 << 10, 13), false));
  auto flushed = (*r)->flush();
  ASSERT_FALSE(flushed);
  EXPECT_TRUE(out_of_space(flushed.error())) << flushed.error().message;
  // The cleaner flushes too, and hits the same full store.
  EXPECT_TRUE(eventually([&] { return fakes[0].data->faults_hit() >= 3; }));
  EXPECT_EQ(mode_of(**r, "r1"), ReplicaMode::RW);
  EXPECT_EQ(mode_of(**r, "r2"), ReplicaMode::RW);
  EXPECT_EQ((*r)->health(), "healthy");
  // What r2 lost: its written-back pages of region 0 are gone, and the next flush says so.
  ASSERT_TRUE(fakes[1].data->write(0, pattern(64 << 10, 14), false));
  const auto hits = fakes[0].data->faults_hit();
  EXPECT_TRUE(eventually([&] { return fakes[0].data->faults_hit() > hits; }));
  for (auto& f : fakes) f.data->clear_faults();
  EXPECT_TRUE(eventually([&] {
    return read_back(*fakes[0].data, 0, 1 << 20) == read_back(*fakes[1].data, 0, 1 << 20);
  })) << "region 0 stays dirty until the replicas agree again";
  EXPECT_TRUE(eventually([&] {
    return fakes[0].journal->word(BitmapKind::dirty, 0) == 0 &&
           fakes[1].journal->word(BitmapKind::dirty, 0) == 0;
  })) << "and is cleaned once they do";
  EXPECT_EQ((*r)->health(), "healthy");
}

// A replica rebuilt after its store was full joins only once a membership naming it is saved:
// while the others' journals have no room it does not serve (a restart would not count it),
// the regions it missed stay marked, and it is tried again until it can join.
TEST_F(ReplicatorSpaceTest, ARebuiltReplicaJoinsOnlyOnceTheMembershipNamingItIsSaved) {
  std::vector<Fake> fakes;
  auto r = Replicator::open(make_members(2, fakes), options());
  ASSERT_TRUE(r);
  fakes[1].data->inject_fault(Fault::no_space);
  const auto data = pattern(2 << 20, 15);
  ASSERT_TRUE((*r)->write(1 << 20, data, false));
  ASSERT_EQ(mode_of(**r, "r2"), ReplicaMode::ERR);
  for (auto& f : fakes) f.journal->set_meta_out_of_space(true);
  fakes[1].data->clear_faults();
  auto member_on_disk = [&] {
    const auto members = fakes[0].journal->meta().members;
    return std::find(members.begin(), members.end(), "r2") != members.end();
  };
  // Rebuilt at least once (it got the data), and never RW without being a member on disk.
  bool serves_unsaved = false;
  EXPECT_TRUE(eventually([&] {
    serves_unsaved = serves_unsaved || (mode_of(**r, "r2") == ReplicaMode::RW && !member_on_disk());
    return fakes[1].data->writes() > 0;
  }));
  for (int i = 0; i < 50; ++i) {  // a few retries
    serves_unsaved = serves_unsaved || (mode_of(**r, "r2") == ReplicaMode::RW && !member_on_disk());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_FALSE(serves_unsaved);
  EXPECT_EQ((*r)->health(), "degraded");
  for (auto& f : fakes) f.journal->set_meta_out_of_space(false);
  EXPECT_TRUE(eventually([&] { return (*r)->health() == "healthy"; }));
  EXPECT_TRUE(member_on_disk());
  EXPECT_EQ(fakes[0].journal->meta().degraded_since, 0u);
  EXPECT_EQ(read_back(*fakes[1].data, 1 << 20, 2 << 20), data);
}

// Saving replica.json can fail for space after the rename landed (the directory's fsync): that
// generation may be on disk. A later save with another member set must not reuse its number,
// or after a restart two replicas would be sources of one generation holding different data.
TEST_F(ReplicatorSpaceTest, AGenerationThatMayHaveReachedADiskIsNeverReused) {
  std::vector<Fake> fakes;
  auto r = Replicator::open(make_members(3, fakes), options());
  ASSERT_TRUE(r);
  fakes[0].data->inject_fault(Fault::write);
  for (auto& f : fakes) f.journal->set_saved_but_out_of_space(true);
  EXPECT_FALSE((*r)->write(0, pattern(4096, 16), false)) << "r1 left and that is not saved";
  EXPECT_NE((*r)->read_only_reason(), "");
  const auto on_r3 = fakes[2].journal->meta();  // {r2, r3}, stored despite the error
  for (auto& f : fakes) f.journal->set_saved_but_out_of_space(false);
  ASSERT_TRUE((*r)->fail_replica("r3", "test"));
  const auto on_r2 = fakes[1].journal->meta();  // {r2}
  EXPECT_GT(on_r2.generation, on_r3.generation)
      << "r2 (" << on_r2.members.size() << " member(s)) and r3 (" << on_r3.members.size()
      << ") must not both be generation " << on_r3.generation;
}

// The write-intent rule under a race: a write to a clean region sets its dirty bit and saves it
// to the journals, which have no room, so the bit is taken back and the write refused. A second
// write to that region that finds the bit set while it is being saved must not count it as
// saved: acknowledged, its region would be marked in no journal.
TEST_F(ReplicatorSpaceTest, AWriteNeverCountsADirtyBitThatIsStillBeingSaved) {
  std::vector<Fake> fakes;
  auto r = Replicator::open(make_members(2, fakes), options());
  ASSERT_TRUE(r);
  for (auto& f : fakes) f.journal->set_out_of_space(true);
  std::thread second;
  Result<void> put2 = fail("not run");
  std::promise<void> second_done;
  auto finished = second_done.get_future();
  std::atomic<bool> once{false};
  // Runs in the first write's save of the bit: the second write goes now, and is given a
  // while to finish (it must wait instead, or be refused).
  fakes[0].journal->set_save_word_hook([&] {
    if (once.exchange(true)) return;
    second = std::thread([&] {
      put2 = (*r)->write(4096, pattern(4096, 18), false);
      second_done.set_value();
    });
    (void)finished.wait_for(std::chrono::milliseconds(300));
  });
  EXPECT_FALSE((*r)->write(0, pattern(4096, 17), false)) << "no room for the mark";
  ASSERT_TRUE(second.joinable());
  second.join();
  fakes[0].journal->set_save_word_hook(nullptr);
  if (put2) {
    for (auto& f : fakes)
      EXPECT_NE(f.journal->word(BitmapKind::dirty, 0) & 1, 0u) << f.id << ": acknowledged unmarked";
  }
  EXPECT_FALSE(put2) << "the mark could not be saved for it either";
  for (auto& f : fakes) f.journal->set_out_of_space(false);
  ASSERT_TRUE((*r)->write(4096, pattern(4096, 18), false));
  for (auto& f : fakes) EXPECT_NE(f.journal->word(BitmapKind::dirty, 0) & 1, 0u) << f.id;
}

TEST_F(ReplicatorSpaceTest, AStorePastTheWarningIsReportedOncePerCrossing) {
  std::vector<Fake> fakes;
  auto r = Replicator::open(make_members(2, fakes), options());  // warns at 90%
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)->soft_threshold_events(), 0u) << "no room known: nothing to say";
  fakes[0].data->set_space(SpaceUsage{1000, 500});
  fakes[1].data->set_space(SpaceUsage{1000, 80});  // 92% used
  (*r)->check_space();
  auto status = (*r)->space_status();
  EXPECT_EQ(status.used_percent, 92u);
  EXPECT_NE(status.warning.find("r2"), std::string::npos) << status.warning;
  EXPECT_EQ((*r)->soft_threshold_events(), 1u);
  (*r)->check_space();
  EXPECT_EQ((*r)->soft_threshold_events(), 1u) << "once, not on every check";
  fakes[1].data->set_space(SpaceUsage{1000, 600});  // space freed
  (*r)->check_space();
  EXPECT_EQ((*r)->space_status().warning, "");
  fakes[1].data->set_space(SpaceUsage{1000, 0});  // and full again: a new crossing
  (*r)->check_space();
  EXPECT_EQ((*r)->soft_threshold_events(), 2u);
}

}  // namespace
}  // namespace maya::replica
