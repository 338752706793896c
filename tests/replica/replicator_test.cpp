// The replicator over in-memory replicas whose data and journals can be told to fail: the
// fan-out writer, the replica set's failure policy and generations, the choice of sources at
// open (a stale replica never wins), rebuilds (full, from the regions a replica missed, under
// concurrent writes) and snapshots. Faults are the one place a fake is right.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "lib/block/file_backend.h"
#include "lib/common/log.h"
#include "lib/replica/replicator.h"
#include "tests/replica/replica_fakes.h"
#include "tests/support/memory_backend.h"

namespace maya::replica {
namespace {

using namespace fakes;
using block::FileBackend;
using block::FileBackendOptions;
using block::SpaceUsage;

// The members of a volume; ownership goes to the replicator, the test keeps raw pointers
// (valid while the replicator lives, or while `keep` holds them).
struct Fleet {
  std::vector<Fake> fakes;
  std::vector<std::unique_ptr<MemoryBackend>> data;
  std::vector<std::unique_ptr<MemoryJournal>> journals;

  explicit Fleet(int n) {
    for (int i = 1; i <= n; ++i) add("r" + std::to_string(i));
  }
  Fake& add(const std::string& id) {
    MemoryBackendOptions o;
    o.size = kSize;
    data.push_back(std::make_unique<MemoryBackend>(o));
    journals.push_back(std::make_unique<MemoryJournal>());
    fakes.push_back({id, data.back().get(), journals.back().get()});
    return fakes.back();
  }
  // Hands the parts to a replicator (the test keeps the raw pointers).
  std::vector<Replicator::Member> members() {
    std::vector<Replicator::Member> out;
    for (std::size_t i = 0; i < fakes.size(); ++i) out.push_back(member(i));
    return out;
  }
  Replicator::Member member(std::size_t i) {
    return {fakes[i].id, std::unique_ptr<BlockBackend>(data[i].release()),
            std::unique_ptr<ReplicaJournal>(journals[i].release()), ""};
  }
};

Replicator::Options options() {
  Replicator::Options o;
  o.size_bytes = kSize;
  o.clean_interval = std::chrono::milliseconds(50);
  return o;
}

bool same_contents(MemoryBackend& a, MemoryBackend& b) {
  return read_back(a, 0, kSize) == read_back(b, 0, kSize);
}

// Waits (at most 30 s) until no journal marks a region dirty: the cleaner's clean mark.
bool journals_clean(const std::vector<Fake>& fakes) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    bool clean = true;
    for (const auto& f : fakes) {
      for (std::uint64_t w = 0; w < (kSize >> 20) / 64 + 1; ++w)
        clean = clean && f.journal->word(BitmapKind::dirty, w) == 0;
    }
    if (clean) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

class ReplicatorTest : public ::testing::Test {
 protected:
  void SetUp() override { log::set_level(log::Level::error); }
};

TEST_F(ReplicatorTest, WritesReachEveryReplicaAndReadsComeBack) {
  Fleet fleet(3);
  auto fakes = fleet.fakes;
  auto r = Replicator::open(fleet.members(), options());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)->health(), "healthy");
  auto small = pattern(4096, 1);
  auto large = pattern(2 << 20, 2);  // fanned out in parallel, spans three regions
  ASSERT_TRUE((*r)->write(8192, small, false));
  ASSERT_TRUE((*r)->write(3 << 20, large, true));
  for (const auto& f : fakes) {
    EXPECT_EQ(read_back(*f.data, 8192, 4096), small) << f.id;
    EXPECT_EQ(read_back(*f.data, 3 << 20, 2 << 20), large) << f.id;
    EXPECT_EQ(f.data->fua_writes(), 1u) << f.id;
  }
  for (int i = 0; i < 6; ++i) EXPECT_EQ(read_back(**r, 8192, 4096), small);
  ASSERT_TRUE((*r)->flush());
  for (const auto& f : fakes) EXPECT_GE(f.data->flushes(), 1u);
  ASSERT_TRUE((*r)->discard(3 << 20, 1 << 20));
  for (const auto& f : fakes) EXPECT_FALSE(f.data->mapped(3 << 20)) << f.id;
  // New replicas joined generation 1 together.
  for (const auto& f : fakes) {
    EXPECT_EQ(f.journal->meta().generation, 1u);
    EXPECT_EQ(f.journal->meta().members.size(), 3u);
  }
}

// The I/O counters (GET /metrics) count what the volume served, once per I/O however many
// replicas it reached, and never a failed one.
TEST_F(ReplicatorTest, IoStatsCountServedReadsAndWritesOnce) {
  Fleet fleet(2);
  auto fakes = fleet.fakes;
  auto r = Replicator::open(fleet.members(), options());
  ASSERT_TRUE(r) << r.error().message;
  auto data = pattern(8192, 3);
  ASSERT_TRUE((*r)->write(0, data, false));
  ASSERT_TRUE((*r)->write(1 << 20, data, true));
  ASSERT_TRUE((*r)->read(0, std::span(data)));
  EXPECT_FALSE((*r)->write(kSize, data, false));  // past the end: refused, not counted
  const IoSnapshot writes = (*r)->io_stats().writes.snapshot();
  const IoSnapshot reads = (*r)->io_stats().reads.snapshot();
  EXPECT_EQ(writes.ops, 2u);
  EXPECT_EQ(writes.bytes, 16384u);
  EXPECT_EQ(reads.ops, 1u);
  EXPECT_EQ(reads.bytes, 8192u);
  std::uint64_t counted = 0;
  for (auto n : writes.buckets) counted += n;
  EXPECT_EQ(counted, 2u);
  EXPECT_GT(writes.seconds, 0.0);
}

// Marks are saved by group commit: a writer may find its regions saved by another's save. Each
// must still be in every journal before its data is written, however the saves interleave
// (the journals are slowed down so that writers queue behind one another).
TEST_F(ReplicatorTest, ConcurrentWritersFindTheirRegionsMarkedInEveryJournal) {
  Fleet fleet(3);
  auto fakes = fleet.fakes;
  for (auto& f : fakes)
    f.journal->set_save_word_hook(
        [] { std::this_thread::sleep_for(std::chrono::milliseconds(1)); });
  auto o = options();
  o.clean_interval = std::chrono::hours(1);  // nothing is cleared while the test looks
  auto r = Replicator::open(fleet.members(), o);
  ASSERT_TRUE(r) << r.error().message;
  std::vector<std::thread> writers;
  for (std::uint64_t t = 0; t < 8; ++t) {
    writers.emplace_back([&, t] {
      for (std::uint64_t region : {t, t + 8}) {
        auto wrote = (*r)->write(region << 20, pattern(4096, static_cast<unsigned>(region)), false);
        EXPECT_TRUE(wrote) << "region " << region;
        // Written, so marked before: in every journal.
        for (const auto& f : fakes)
          EXPECT_TRUE(f.journal->word(BitmapKind::dirty, 0) & (1ull << region))
              << f.id << " lacks region " << region;
      }
    });
  }
  for (auto& w : writers) w.join();
  for (const auto& f : fakes) EXPECT_EQ(f.journal->word(BitmapKind::dirty, 0), 0xffffu) << f.id;
  (*r)->close();
}

TEST_F(ReplicatorTest, AFailingReplicaLeavesAndTheVolumeServesDegraded) {
  Fleet fleet(3);
  auto fakes = fleet.fakes;
  auto r = Replicator::open(fleet.members(), options());
  ASSERT_TRUE(r);
  fakes[1].data->inject_fault(MemoryBackend::Fault::write);
  auto data = pattern(4096, 3);
  ASSERT_TRUE((*r)->write(0, data, false)) << "two replicas still took it";
  EXPECT_EQ(mode_of(**r, "r2"), ReplicaMode::ERR);
  EXPECT_EQ((*r)->health(), "degraded");
  // The replicas that stayed moved to a new generation that leaves r2 out; r2 did not.
  EXPECT_EQ(fakes[0].journal->meta().generation, 2u);
  EXPECT_EQ(fakes[0].journal->meta().members, (std::vector<std::string>{"r1", "r3"}));
  EXPECT_EQ(fakes[1].journal->meta().generation, 1u);
  // Reads never go to r2 again, even once it would work.
  fakes[1].data->clear_faults();
  fakes[1].data->inject_fault(MemoryBackend::Fault::read);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(read_back(**r, 0, 4096), data);
  // The last RW replica failing fails the I/O: no stale data, an error.
  fakes[0].data->inject_fault(MemoryBackend::Fault::write);
  ASSERT_TRUE((*r)->write(0, data, false));
  fakes[2].data->inject_fault(MemoryBackend::Fault::write);
  EXPECT_FALSE((*r)->write(0, data, false));
  EXPECT_EQ((*r)->health(), "failed");
  EXPECT_FALSE((*r)->read(0, std::span(data)));
}

// Issue 10, failure 1: with every replica gone, a write at or above the inline size took the
// threaded fan-out branch with an empty target list and crashed. Every operation must answer
// with an error instead, whatever its size, and the volume must stay "failed", not crash.
TEST_F(ReplicatorTest, AVolumeWithNoLiveReplicaAnswersEveryOperationWithAnError) {
  Fleet fleet(2);
  auto fakes = fleet.fakes;
  auto r = Replicator::open(fleet.members(), options());
  ASSERT_TRUE(r);
  for (auto& f : fakes) f.data->inject_fault(MemoryBackend::Fault::write);
  auto big = pattern(kSize / 2, 9);  // fails on both replicas: both leave
  EXPECT_FALSE((*r)->write(0, big, false));
  ASSERT_EQ((*r)->health(), "failed");
  for (auto& f : fakes) f.data->clear_faults();  // nothing brings them back by itself
  for (std::size_t bytes :
       {std::size_t{512}, std::size_t{4096}, std::size_t{64 << 10}, std::size_t{1 << 20}}) {
    auto data = pattern(bytes, 10);
    EXPECT_FALSE((*r)->write(0, data, false)) << bytes;
    EXPECT_FALSE((*r)->write(0, data, true)) << bytes;
    EXPECT_FALSE((*r)->read(0, std::span(data))) << bytes;
  }
  EXPECT_FALSE((*r)->discard(0, 1 << 20));
  EXPECT_FALSE((*r)->discard(0, 8 << 20));
  EXPECT_FALSE((*r)->flush());
  EXPECT_FALSE((*r)->extent_at(0));
  auto snap = std::filesystem::temp_directory_path() /
              ("maya-noreplica-" + std::to_string(::getpid()) + ".img");
  EXPECT_FALSE((*r)->snapshot(snap));
  std::filesystem::remove(snap);
  EXPECT_EQ((*r)->health(), "failed");
}

TEST_F(ReplicatorTest, AReadErrorFailsOverToAnotherReplica) {
  Fleet fleet(2);
  auto fakes = fleet.fakes;
  auto r = Replicator::open(fleet.members(), options());
  ASSERT_TRUE(r);
  auto data = pattern(4096, 4);
  ASSERT_TRUE((*r)->write(4096, data, false));
  fakes[0].data->inject_fault(MemoryBackend::Fault::read);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(read_back(**r, 4096, 4096), data);
  EXPECT_EQ(mode_of(**r, "r1"), ReplicaMode::ERR);
}

// Reads stay on this host while a local replica can serve them; small writes reach a remote
// replica (on its lane, overlapped) as well as the local ones.
TEST_F(ReplicatorTest, ReadsStayLocalAndSmallWritesReachRemoteReplicas) {
  Fleet fleet(1);
  MemoryBackendOptions o;
  o.size = kSize;
  o.remote = true;
  fleet.data.push_back(std::make_unique<MemoryBackend>(o));
  fleet.journals.push_back(std::make_unique<MemoryJournal>());
  fleet.fakes.push_back({"r2", fleet.data.back().get(), fleet.journals.back().get()});
  auto fakes = fleet.fakes;
  auto r = Replicator::open(fleet.members(), options());
  ASSERT_TRUE(r) << r.error().message;
  const auto data = pattern(4096, 7);
  ASSERT_TRUE((*r)->write(8192, data, false));
  EXPECT_EQ(read_back(*fakes[1].data, 8192, 4096), data) << "the remote replica missed it";
  // Were a read sent to the remote replica, it would fail and the replica would leave.
  fakes[1].data->inject_fault(MemoryBackend::Fault::read);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(read_back(**r, 8192, 4096), data);
  EXPECT_EQ(mode_of(**r, "r2"), ReplicaMode::RW);
  EXPECT_EQ(fakes[1].data->faults_hit(), 0u);
  // With the local replica gone, the remote one serves (and here, fails over to nothing).
  fakes[1].data->clear_faults();
  ASSERT_TRUE((*r)->fail_replica("r1", "test"));
  EXPECT_EQ(read_back(**r, 8192, 4096), data);
}

TEST_F(ReplicatorTest, AStaleReplicaNeverWinsAndIsRebuiltFromTheRegionsItMissed) {
  Fleet fleet(2);
  auto fakes = fleet.fakes;
  auto old_data = pattern(4096, 5), new_data = pattern(4096, 6);
  auto r = Replicator::open(fleet.members(), options());
  ASSERT_TRUE(r);
  ASSERT_TRUE((*r)->write(5 << 20, old_data, false));
  ASSERT_TRUE((*r)->fail_replica("r2", "test"));
  ASSERT_TRUE((*r)->write(5 << 20, new_data, false));
  (*r)->close();
  // A restart: the same data and journals, in new handles.
  std::vector<Replicator::Member> again;
  for (auto& f : fakes) {
    auto copy = std::make_unique<MemoryBackend>(MemoryBackendOptions{kSize});
    ASSERT_TRUE(copy->write(0, read_back(*f.data, 0, kSize), false));
    auto journal = std::make_unique<MemoryJournal>();
    ASSERT_TRUE(journal->save_meta(f.journal->meta()));
    for (auto kind : {BitmapKind::dirty, BitmapKind::degraded})
      ASSERT_TRUE(journal->save_word(kind, 0, f.journal->word(kind, 0)));
    again.push_back({f.id, std::move(copy), std::move(journal), ""});
  }
  r->reset();
  auto* r1 = static_cast<MemoryBackend*>(again[0].data.get());
  auto* r2 = static_cast<MemoryBackend*>(again[1].data.get());
  EXPECT_EQ(read_back(*r2, 5 << 20, 4096), old_data) << "r2 missed the second write";
  auto reopened = Replicator::open(std::move(again), options());
  ASSERT_TRUE(reopened) << reopened.error().message;
  EXPECT_EQ(read_back(**reopened, 5 << 20, 4096), new_data) << "the stale replica must not serve";
  (*reopened)->wait_rebuilds();
  EXPECT_EQ(mode_of(**reopened, "r2"), ReplicaMode::RW);
  EXPECT_EQ((*reopened)->health(), "healthy");
  EXPECT_TRUE(same_contents(*r1, *r2));
}

TEST_F(ReplicatorTest, AMissingMemberOfTheNewestGenerationKeepsTheVolumeOffline) {
  // r1 went on alone at generation 3 while r2 stayed at 2; r1 is now unreadable.
  auto r1 = std::make_unique<MemoryJournal>();
  auto r2 = std::make_unique<MemoryJournal>();
  ASSERT_TRUE(r2->save_meta({"r2", kSize, 2, 10, false, {"r1", "r2"}, 0}));
  std::vector<Replicator::Member> members;
  members.push_back({"r1", nullptr, nullptr, "no such file"});
  members.push_back(
      {"r2", std::make_unique<MemoryBackend>(MemoryBackendOptions{kSize}), std::move(r2), ""});
  auto r = Replicator::open(std::move(members), options());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("r1"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("offline"), std::string::npos) << r.error().message;
}

TEST_F(ReplicatorTest, AfterAnUncleanStopDirtyRegionsAreCopiedFromTheLeader) {
  // Two members of generation 4, stopped uncleanly with region 2 dirty: r1 got a write r2 did
  // not (r1 has the higher revision, so it leads).
  std::vector<Replicator::Member> members;
  std::vector<MemoryBackend*> data;
  for (int i = 1; i <= 2; ++i) {
    auto b = std::make_unique<MemoryBackend>(MemoryBackendOptions{kSize});
    auto j = std::make_unique<MemoryJournal>();
    ASSERT_TRUE(j->save_meta(
        {"r" + std::to_string(i), kSize, 4, i == 1 ? 8u : 7u, false, {"r1", "r2"}, 0}));
    ASSERT_TRUE(j->save_word(BitmapKind::dirty, 0, 1u << 2));
    data.push_back(b.get());
    members.push_back({"r" + std::to_string(i), std::move(b), std::move(j), ""});
  }
  auto fresh = pattern(4096, 7);
  ASSERT_TRUE(data[0]->write(2 << 20, fresh, false));
  auto r = Replicator::open(std::move(members), options());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read_back(**r, 2 << 20, 4096), fresh);
  (*r)->wait_rebuilds();
  EXPECT_EQ(read_back(*data[1], 2 << 20, 4096), fresh);
  EXPECT_EQ((*r)->health(), "healthy");
}

TEST_F(ReplicatorTest, ANewReplicaIsRebuiltFullyAndHolesStayHoles) {
  Fleet fleet(1);
  auto first = fleet.fakes[0];
  auto r = Replicator::open(fleet.members(), options());
  ASSERT_TRUE(r);
  auto a = pattern(1 << 20, 8);
  ASSERT_TRUE((*r)->write(1 << 20, a, false));
  ASSERT_TRUE((*r)->write(9 << 20, a, false));
  Fleet more(0);
  auto added = more.add("r2");
  ASSERT_TRUE((*r)->add_replica(more.member(0)));
  (*r)->wait_rebuilds();
  EXPECT_EQ(mode_of(**r, "r2"), ReplicaMode::RW);
  EXPECT_TRUE(same_contents(*first.data, *added.data));
  EXPECT_FALSE(added.data->mapped(5 << 20)) << "a hole of the source became data";
  EXPECT_TRUE(added.data->mapped(9 << 20));
  EXPECT_EQ(added.journal->meta().members, (std::vector<std::string>{"r1", "r2"}));
}

TEST_F(ReplicatorTest, AReplicaThatWasAwayCopiesOnlyTheRegionsWrittenMeanwhile) {
  Fleet fleet(3);
  auto fakes = fleet.fakes;
  auto r = Replicator::open(fleet.members(), options());
  ASSERT_TRUE(r);
  for (std::uint64_t region = 0; region < 16; ++region)
    ASSERT_TRUE((*r)->write(region << 20, pattern(1 << 20, static_cast<unsigned>(region)), false));
  // The cleaner clears idle regions' dirty bits in the background; wait for its clean mark in
  // every journal (however long a busy machine makes it take), so only the regions written
  // while r3 is away are left to copy.
  ASSERT_TRUE(journals_clean(fakes)) << "the cleaner never cleared the idle regions";
  ASSERT_TRUE((*r)->fail_replica("r3", "unplugged for a moment"));
  ASSERT_TRUE((*r)->write(4 << 20, pattern(4096, 40), false));
  ASSERT_TRUE((*r)->write(11 << 20, pattern(4096, 41), false));
  // It comes back with its parts (the same files): only regions 4 and 11 (and any still dirty)
  // are copied, not all 16.
  Replicator::Member again{"r3", nullptr, nullptr, ""};
  again.data = std::make_unique<MemoryBackend>(MemoryBackendOptions{kSize});
  ASSERT_TRUE(again.data->write(0, read_back(*fakes[2].data, 0, kSize), false));
  auto journal = std::make_unique<MemoryJournal>();
  ASSERT_TRUE(journal->save_meta(fakes[2].journal->meta()));
  auto* copy = static_cast<MemoryBackend*>(again.data.get());
  again.journal = std::move(journal);
  const std::uint64_t copy_writes_before = copy->writes();
  ASSERT_TRUE((*r)->add_replica(std::move(again)));
  (*r)->wait_rebuilds();
  EXPECT_EQ(mode_of(**r, "r3"), ReplicaMode::RW);
  EXPECT_TRUE(same_contents(*fakes[0].data, *copy));
  EXPECT_LE(copy->writes() - copy_writes_before, 4u) << "copied more than the regions it missed";
  EXPECT_EQ((*r)->health(), "healthy");
}

TEST_F(ReplicatorTest, WritesDuringARebuildLandRight) {
  Fleet fleet(1);
  auto first = fleet.fakes[0];
  auto r = Replicator::open(fleet.members(), options());
  ASSERT_TRUE(r);
  for (std::uint64_t region = 0; region < 16; ++region)
    ASSERT_TRUE((*r)->write(region << 20, pattern(1 << 20, static_cast<unsigned>(region)), false));
  Fleet more(0);
  auto added = more.add("r2");
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    unsigned seed = 100;
    while (!stop) {
      std::uint64_t at = (seed * 7919ull % (kSize / 4096)) * 4096;
      ASSERT_TRUE((*r)->write(at, pattern(4096, seed++), false));
    }
  });
  ASSERT_TRUE((*r)->add_replica(more.member(0)));
  (*r)->wait_rebuilds();
  stop = true;
  writer.join();
  EXPECT_TRUE(same_contents(*first.data, *added.data));
}

TEST_F(ReplicatorTest, ASnapshotIsThePointInTimeWhileWritesGoOn) {
  Fleet fleet(2);
  auto r = Replicator::open(fleet.members(), options());
  ASSERT_TRUE(r);
  for (std::uint64_t region = 0; region < 16; ++region)
    ASSERT_TRUE((*r)->write(region << 20, pattern(1 << 20, 1), false));
  char name[] = "/tmp/maya-snap-XXXXXX";
  int fd = ::mkstemp(name);
  ASSERT_GE(fd, 0);
  ::close(fd);
  ::unlink(name);
  ASSERT_TRUE((*r)->snapshot(name));
  for (std::uint64_t region = 0; region < 16; ++region)
    ASSERT_TRUE((*r)->write(region << 20, pattern(1 << 20, 2), false));
  ASSERT_TRUE((*r)->wait_snapshot());
  std::vector<std::byte> snap(kSize);
  FILE* f = std::fopen(name, "rb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(std::fread(snap.data(), 1, kSize, f), kSize);
  std::fclose(f);
  ::unlink(name);
  for (std::uint64_t region = 0; region < 16; ++region) {
    auto expected = pattern(1 << 20, 1);
    EXPECT_EQ(std::memcmp(snap.data() + (region << 20), expected.data(), 1 << 20), 0) << region;
  }
  EXPECT_EQ(read_back(**r, 0, 1 << 20), pattern(1 << 20, 2));
}

TEST_F(ReplicatorTest, AReplicaWhoseJournalFailsLeaves) {
  Fleet fleet(2);
  auto fakes = fleet.fakes;
  auto r = Replicator::open(fleet.members(), options());
  ASSERT_TRUE(r);
  fakes[1].journal->set_failing(true);
  ASSERT_TRUE((*r)->write(0, pattern(4096, 9), false));
  EXPECT_EQ(mode_of(**r, "r2"), ReplicaMode::ERR);
  EXPECT_EQ((*r)->health(), "degraded");
}

TEST_F(ReplicatorTest, RemovingTheLastReadWriteReplicaIsRefused) {
  Fleet fleet(2);
  auto r = Replicator::open(fleet.members(), options());
  ASSERT_TRUE(r);
  ASSERT_TRUE((*r)->remove_replica("r2"));
  auto last = (*r)->remove_replica("r1");
  ASSERT_FALSE(last);
  EXPECT_NE(last.error().message.find("last"), std::string::npos);
  EXPECT_FALSE((*r)->remove_replica("r9"));
  EXPECT_EQ((*r)->replicas().size(), 1u);
  EXPECT_EQ((*r)->health(), "healthy");
}

TEST_F(ReplicatorTest, ANewVolumeWithAnUnreadableReplicaStaysOffline) {
  // Generation 0 everywhere could also be a half-added replica next to an unreadable one that
  // holds the data: nothing can be trusted.
  std::vector<Replicator::Member> members;
  members.push_back({"r1", nullptr, nullptr, "no such file"});
  members.push_back({"r2", std::make_unique<MemoryBackend>(MemoryBackendOptions{kSize}),
                     std::make_unique<MemoryJournal>(), ""});
  auto r = Replicator::open(std::move(members), options());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("r1"), std::string::npos) << r.error().message;
}

TEST_F(ReplicatorTest, AMemberRemovedFromTheManifestIsNotWaitedFor) {
  // r1 and r2 were the members of generation 3; r1 was lost and removed from the manifest.
  auto journal = std::make_unique<MemoryJournal>();
  ASSERT_TRUE(journal->save_meta({"r2", kSize, 3, 5, true, {"r1", "r2"}, 0}));
  std::vector<Replicator::Member> members;
  members.push_back(
      {"r2", std::make_unique<MemoryBackend>(MemoryBackendOptions{kSize}), std::move(journal), ""});
  auto r = Replicator::open(std::move(members), options());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)->health(), "healthy");
}

TEST_F(ReplicatorTest, AReplicaAwayDuringARevertCopiesEverythingWhenItComesBack) {
  // Real files: revert copies the snapshot into each replica's file.
  char tmpl[] = "/tmp/maya-revert-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::filesystem::path dir = tmpl;
  auto open_file_replica = [&](const std::string& id) {
    std::filesystem::create_directories(dir / id);
    FileBackendOptions o;
    o.size = kSize;
    o.create = true;
    Replicator::Member m{id, nullptr, nullptr, ""};
    auto data = FileBackend::open(dir / id / "data.img", o);
    auto journal = FileJournal::open(dir / id);
    EXPECT_TRUE(data && journal);
    m.data = std::move(*data);
    m.journal = std::move(*journal);
    return m;
  };
  std::vector<Replicator::Member> members;
  members.push_back(open_file_replica("r1"));
  members.push_back(open_file_replica("r2"));
  auto r = Replicator::open(std::move(members), options());
  ASSERT_TRUE(r) << r.error().message;
  for (std::uint64_t region = 0; region < 16; ++region)
    ASSERT_TRUE((*r)->write(region << 20, pattern(1 << 20, 1), false));
  // r2 has a place for snapshots (a pool's, beside it): the image goes there, from r2, and the
  // snapshot's own name links to it; the revert below reads it through the link.
  const auto image_dir = dir / "pool" / "snapshots";
  ASSERT_TRUE((*r)->snapshot(dir / "snap.img", [&](const std::string& id) {
    return id == "r2" ? image_dir : std::filesystem::path();
  }));
  ASSERT_TRUE((*r)->wait_snapshot());
  ASSERT_TRUE(std::filesystem::is_symlink(dir / "snap.img"));
  EXPECT_EQ(std::filesystem::read_symlink(dir / "snap.img"), image_dir / "snap.img");
  EXPECT_EQ(std::filesystem::file_size(image_dir / "snap.img"), kSize);
  for (std::uint64_t region = 0; region < 16; ++region)
    ASSERT_TRUE((*r)->write(region << 20, pattern(1 << 20, 2), false));
  // r2 leaves holding pattern 2 everywhere; only region 0 is written while it is away.
  ASSERT_TRUE((*r)->fail_replica("r2", "away during the revert"));
  ASSERT_TRUE((*r)->write(0, pattern(1 << 20, 3), false));
  ASSERT_TRUE((*r)->revert(dir / "snap.img")) << "revert";
  EXPECT_EQ(read_back(**r, 0, 1 << 20), pattern(1 << 20, 1));
  // r2 comes back with pattern 2 where the volume now holds pattern 1: it must copy everything,
  // not only region 0, the one written while it was away.
  ASSERT_TRUE((*r)->add_replica(open_file_replica("r2")));
  (*r)->wait_rebuilds();
  EXPECT_EQ((*r)->health(), "healthy");
  (*r)->close();
  auto a = std::filesystem::file_size(dir / "r1" / "data.img");
  std::ifstream f1(dir / "r1" / "data.img", std::ios::binary),
      f2(dir / "r2" / "data.img", std::ios::binary);
  std::string c1((std::istreambuf_iterator<char>(f1)), {}),
      c2((std::istreambuf_iterator<char>(f2)), {});
  EXPECT_EQ(a, kSize);
  EXPECT_TRUE(c1 == c2) << "r2 differs from r1 after coming back";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace maya::replica
