// lib/daemon/pool_watch: what the watch decides, over the real volume service and a fake
// replicated storage driver whose replicas' pools and modes the test sets. A pool's fault
// cannot be timed here (the XFS shutdown is e2e.pools_docker's); the decisions can:
//   - one look changes nothing; the second fails the replica; after replace_after one is added,
//     and the failed one goes only once the new one is RW
//   - the last RW replica is neither failed nor replaced; an offline volume is left alone
//   - a pool in state "unknown" (the mount table could not be read) changes nothing
//   - a pool that comes back gets its failed replica rebuilt
//   - a reload's new settings keep what was seen (no second add)
#include "lib/daemon/pool_watch.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>

#include "drivers/volume/docker/docker_volume_driver.h"
#include "tests/unit/fake_drivers.h"

namespace maya::daemon {
namespace {

namespace fs = std::filesystem;
using drivers::ReplicaInfo;
using drivers::docker::DockerVolumeDriver;
using drivers::docker::fakes::Calls;
using drivers::docker::fakes::FakeOs;
using drivers::docker::fakes::FakeStorage;
using drivers::pools::PoolInfo;
using namespace std::chrono_literals;

// Replicas as the test sets them; add/remove/fail/rebuild change them as a target would.
struct Replicas {
  std::vector<ReplicaInfo> list;
  std::string health = "healthy";
  int adds = 0, removes = 0, fails = 0, rebuilds = 0;
  std::string add_error;
  ReplicaInfo* find(const std::string& id) {
    auto it = std::find_if(list.begin(), list.end(), [&](auto& r) { return r.id == id; });
    return it == list.end() ? nullptr : &*it;
  }
};

class FakeReplicated : public FakeStorage, public drivers::ReplicaManager {
 public:
  FakeReplicated(Calls& c, Replicas& r) : FakeStorage(c), r_(r) {}
  unsigned max_replicas() const override { return 16; }
  Result<drivers::StorageVolume> inspect(const std::string& n) override {
    auto v = FakeStorage::inspect(n);
    if (v) v->replication = drivers::ReplicationInfo{r_.health, r_.list};
    return v;
  }
  Result<std::string> add_replica(const std::string&, const std::string&) override {
    if (!r_.add_error.empty()) return fail(r_.add_error);
    ++r_.adds;
    const std::string id = "r" + std::to_string(10 + r_.adds);
    r_.list.push_back({id, "file:///p4/" + id, "p4", "WO"});
    return id;
  }
  Result<void> remove_replica(const std::string&, const std::string& id) override {
    ++r_.removes;
    std::erase_if(r_.list, [&](const auto& r) { return r.id == id; });
    return {};
  }
  Result<void> fail_replica(const std::string&, const std::string& id,
                            const std::string& reason) override {
    ++r_.fails;
    r_.find(id)->mode = "ERR";
    r_.find(id)->error = reason;
    return {};
  }
  Result<std::vector<std::string>> rebuild(const std::string&) override {
    ++r_.rebuilds;
    for (auto& r : r_.list)
      if (r.mode == "ERR") r.mode = "RW";
    return std::vector<std::string>{};
  }

 private:
  Replicas& r_;
};

class PoolWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/maya-pool-watch-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    state_ = tmpl;
    DockerVolumeDriver::StorageDrivers storage;
    storage.emplace("jiva", std::make_unique<FakeReplicated>(calls_, replicas_));
    volumes_ = std::make_unique<DockerVolumeDriver>(std::move(storage),
                                                    std::make_unique<FakeOs>(calls_), state_);
    auto made = volumes_->create({"db", 64 << 20, true, 3, "jiva", "ext4"});
    ASSERT_TRUE(made.has_value()) << made.error().message;
    for (const std::string p : {"p1", "p2", "p3", "p4"}) states_[p] = "online";
    replicas_.list = {{"r1", "file:///p1/db@r1", "p1", "RW"},
                      {"r2", "file:///p2/db@r2", "p2", "RW"},
                      {"r3", "file:///p3/db@r3", "p3", "RW"}};
    watch_ = std::make_unique<PoolWatch>(
        [this]() -> Result<std::vector<PoolInfo>> {
          std::vector<PoolInfo> pools;
          for (const auto& [name, state] : states_) {
            PoolInfo p;
            p.name = name;
            p.state = state;
            pools.push_back(p);
          }
          return pools;
        },
        [this](std::map<std::string, std::string> errors) { read_errors_ = std::move(errors); },
        *volumes_, events_, PoolWatch::Options{true, 60s, 2s}, /*threaded=*/false);
  }
  void TearDown() override {
    watch_.reset();
    fs::remove_all(state_);
  }
  std::string pools_of_replicas() {
    std::string out;
    for (const auto& r : replicas_.list) out += (out.empty() ? "" : ",") + r.pool + ":" + r.mode;
    return out;
  }

  Calls calls_;
  Replicas replicas_;
  std::map<std::string, std::string> states_;
  std::map<std::string, std::string> read_errors_;
  VolumeEvents events_;
  fs::path state_;
  std::unique_ptr<DockerVolumeDriver> volumes_;
  std::unique_ptr<PoolWatch> watch_;
  PoolWatch::Clock::time_point t0_ = PoolWatch::Clock::now();
};

TEST_F(PoolWatchTest, AFaultedPoolsReplicaIsFailedThenReplacedAndDroppedOnceTheNewOneIsRW) {
  states_["p2"] = "faulted";
  watch_->tick(t0_);
  EXPECT_EQ(replicas_.fails, 0) << "one look changes nothing";
  watch_->tick(t0_ + 2s);
  EXPECT_EQ(replicas_.find("r2")->mode, "ERR");
  EXPECT_NE(replicas_.find("r2")->error.find("its pool p2 is faulted"), std::string::npos);
  watch_->tick(t0_ + 30s);
  EXPECT_EQ(replicas_.adds, 0) << "not before replace_after";
  watch_->tick(t0_ + 61s);
  ASSERT_EQ(replicas_.adds, 1);
  EXPECT_EQ(pools_of_replicas(), "p1:RW,p2:ERR,p3:RW,p4:WO");
  watch_->tick(t0_ + 63s);
  watch_->tick(t0_ + 65s);
  EXPECT_EQ(replicas_.adds, 1) << "one replacement, however long it rebuilds";
  EXPECT_EQ(replicas_.removes, 0) << "the failed one stays until the new one is RW";
  replicas_.find("r11")->mode = "RW";
  watch_->tick(t0_ + 67s);
  EXPECT_EQ(pools_of_replicas(), "p1:RW,p3:RW,p4:RW");
  // What happened is the volume's events, for inspect: failed, replaced, removed.
  auto events = events_.of("db");
  ASSERT_EQ(events.size(), 3u);
  EXPECT_NE(events[0].note.find("replica r2 left the I/O path: its pool p2 is faulted"),
            std::string::npos);
  EXPECT_NE(events[1].note.find("replica r11 added in place of replica r2"), std::string::npos);
  EXPECT_NE(events[2].note.find("replica r2 (its pool p2 is faulted) removed"), std::string::npos);
  EXPECT_FALSE(events[2].time.empty());
}

TEST_F(PoolWatchTest, TheLastRWReplicaIsNeitherFailedNorReplaced) {
  replicas_.list = {{"r1", "file:///p1/db@r1", "p1", "RW"}};
  states_["p1"] = "missing";
  for (auto t : {0s, 2s, 61s, 120s}) watch_->tick(t0_ + t);
  EXPECT_EQ(replicas_.fails, 0);
  EXPECT_EQ(replicas_.adds, 0);
  EXPECT_EQ(replicas_.removes, 0);
  EXPECT_EQ(pools_of_replicas(), "p1:RW");
}

TEST_F(PoolWatchTest, AnOfflineVolumeAndAPoolInAnUnknownStateAreLeftAlone) {
  states_["p2"] = "unknown";
  for (auto t : {0s, 2s, 61s}) watch_->tick(t0_ + t);
  EXPECT_EQ(replicas_.fails + replicas_.adds + replicas_.removes, 0);
  states_["p2"] = "faulted";
  replicas_.health = "offline";
  for (auto t : {62s, 64s, 130s}) watch_->tick(t0_ + t);
  EXPECT_EQ(replicas_.fails + replicas_.adds + replicas_.removes, 0);
}

TEST_F(PoolWatchTest, APoolThatComesBackGetsItsFailedReplicaRebuilt) {
  states_["p2"] = "missing";
  watch_->tick(t0_);
  watch_->tick(t0_ + 2s);
  ASSERT_EQ(replicas_.find("r2")->mode, "ERR");
  states_["p2"] = "online";
  watch_->tick(t0_ + 4s);
  EXPECT_EQ(replicas_.rebuilds, 1);
  EXPECT_EQ(pools_of_replicas(), "p1:RW,p2:RW,p3:RW");
  EXPECT_EQ(replicas_.adds, 0);
}

TEST_F(PoolWatchTest, NoRoomLeavesTheVolumeDegradedAndANewSettingKeepsWhatWasSeen) {
  states_["p2"] = "faulted";
  replicas_.add_error = "no pool has room";
  watch_->tick(t0_);
  watch_->tick(t0_ + 2s);
  watch_->set_options({true, 10s, 2s});  // a reload: the fault is still 2 s old, not 0
  watch_->tick(t0_ + 11s);
  EXPECT_EQ(replicas_.adds, 0);
  EXPECT_EQ(replicas_.find("r2")->mode, "ERR") << "degraded, and says why";
  auto events = events_.of("db");
  ASSERT_FALSE(events.empty());
  EXPECT_NE(events.back().note.find("stays degraded: replica r2 (its pool p2 is faulted) cannot be "
                                    "replaced: no pool has room"),
            std::string::npos)
      << events.back().note;
  watch_->tick(t0_ + 12s);
  EXPECT_EQ(events_.of("db").size(), events.size()) << "the same note is not repeated";
  replicas_.add_error.clear();
  watch_->tick(t0_ + 13s);
  EXPECT_EQ(replicas_.adds, 1);
}

TEST_F(PoolWatchTest, AReplicaThatFailedAReadMarksItsPoolAndOnlyItsPool) {
  replicas_.find("r3")->mode = "ERR";
  replicas_.find("r3")->error = "read: pread at 4096: Input/output error";
  replicas_.find("r1")->mode = "ERR";
  replicas_.find("r1")->error = "journal: cannot write a bitmap: No space left on device";
  watch_->tick(t0_);
  ASSERT_EQ(read_errors_.size(), 1u);
  EXPECT_NE(read_errors_["p3"].find("replica r3 of volume db: pread at 4096"), std::string::npos);
  EXPECT_EQ(replicas_.fails + replicas_.adds + replicas_.removes, 0) << "its pool is online";
  replicas_.find("r3")->mode = "RW";
  for (int i = 1; i <= 15; ++i) watch_->tick(t0_ + i * 2s);  // every 15th look while all is well
  EXPECT_TRUE(read_errors_.empty());
}

}  // namespace
}  // namespace maya::daemon
