// The replicator when the store runs out of space (issue 10, failure 2; SBC-4 thin
// provisioning): out of space everywhere is not a dead replica (the write fails with ENOSPC as
// its cause, every replica stays RW, no generation bump, writes work again once space is
// back), a partial write that left replicas different converges, a replica that alone runs out
// leaves and is rebuilt by itself when space returns, and a membership that cannot be saved
// leaves the volume serving reads rather than offline.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "lib/block/memory_backend.h"
#include "lib/block/replicator.h"
#include "lib/common/log.h"

namespace maya::block {
namespace {

constexpr std::uint64_t kSize = 16ull << 20;  // 16 regions
using Fault = MemoryBackend::Fault;

struct Fake {
  std::string id;
  MemoryBackend* data = nullptr;
  MemoryJournal* journal = nullptr;
};

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

std::vector<std::byte> pattern(std::size_t n, unsigned seed) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 7 + seed * 13) & 0xff);
  return v;
}

std::vector<std::byte> read_back(BlockBackend& b, std::uint64_t offset, std::size_t n) {
  std::vector<std::byte> v(n);
  EXPECT_TRUE(b.read(offset, v).has_value());
  return v;
}

ReplicaMode mode_of(const Replicator& r, const std::string& id) {
  for (const auto& s : r.replicas())
    if (s.id == id) return s.mode;
  return ReplicaMode::ERR;
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
  // Still full: retried with a backoff, and it goes back to ERR each time.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
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
}  // namespace maya::block
