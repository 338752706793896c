// The iscsi:// child against a real `maya target serve` with CHAP: data, extents, the journal
// on the LUN, wrong credentials, a target that dies or hangs, and one that comes back.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "lib/common/log.h"
#include "lib/replica/child_factory.h"
#include "lib/replica/iscsi_journal.h"
#include "lib/replica/iscsi_lun.h"
#include "lib/replica/remote_layout.h"
#include "tests/replica/replica_fakes.h"
#include "tests/replica/target_process.h"

namespace maya::replica {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using fakes::pattern;
using fakes::read_back;

constexpr std::uint64_t kSize = 16ull << 20;
constexpr const char* kIqn = "iqn.2026-11.io.maya:iscsi-child-test";
constexpr const char* kUser = "volume-target";
constexpr const char* kSecret = "s3cret-chap-01";

class IscsiChildTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log::set_level(log::Level::error);
    dir_ = fs::temp_directory_path() /
           ("maya-iscsi-child-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    backing_ = dir_ / "lun.img";
    ASSERT_EQ(start(), "");
  }
  void TearDown() override {
    target_.kill(SIGKILL);
    fs::remove_all(dir_);
  }
  std::string start(int port = 0) {
    return target_.start(backing_.string(), kRemoteJournalBytes + kSize, kIqn, kUser, kSecret,
                         port);
  }
  std::string uri(const std::string& credentials = std::string(kUser) + ":" + kSecret) const {
    return "iscsi://" + credentials + "@127.0.0.1:" + std::to_string(target_.port()) + "/" + kIqn +
           "/0";
  }
  Result<Child> open(std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
    ChildOptions o;
    o.size_bytes = kSize;
    o.io_timeout = timeout;
    return open_child("r2", uri(), o);
  }
  // Overwrites bytes of the LUN's backing file behind the target's back.
  void damage(std::uint64_t offset, std::size_t n) {
    const int fd = ::open(backing_.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    const std::vector<char> junk(n, '\x5a');
    ASSERT_EQ(::pwrite(fd, junk.data(), n, static_cast<off_t>(offset)), static_cast<ssize_t>(n));
    ::close(fd);
  }

  fs::path dir_, backing_;
  iscsi_test::TargetProcess target_;
};

TEST(IscsiUrl, AcceptsBothCredentialFormsIpv6AndTheDefaultPort) {
  auto a = parse_iscsi_url("r2", "iscsi://u%p@w@10.0.0.2/iqn.2026-11.io.maya:db/3");
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->user, "u");
  EXPECT_EQ(a->secret, "p@w");
  EXPECT_EQ(a->port, 3260);
  EXPECT_EQ(a->lun, 3);
  EXPECT_EQ(a->iqn, "iqn.2026-11.io.maya:db");
  EXPECT_EQ(a->redacted(), "iscsi://10.0.0.2:3260/iqn.2026-11.io.maya:db/3");
  auto b = parse_iscsi_url("r2", "iscsi://user:sec:ret@[fd00::2]:3261/iqn.x:y/0");
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(b->user, "user");
  EXPECT_EQ(b->secret, "sec:ret");
  EXPECT_EQ(b->host, "fd00::2");
  EXPECT_EQ(b->portal(), "[fd00::2]:3261");
  auto c = parse_iscsi_url("r2", "iscsi://host:3262/iqn.x:y/1");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(c->user.empty());
  EXPECT_EQ(c->port, 3262);
}

TEST(IscsiUrl, MalformedUrisAreErrorsThatKeepTheSecret) {
  for (const char* bad :
       {"iscsi://", "iscsi://u:topsecret99@host", "iscsi://u:topsecret99@host/iqn.x",
        "iscsi://u:topsecret99@host:99999/iqn.x/0", "iscsi://u:topsecret99@[::1/iqn.x/0",
        "iscsi://u:topsecret99@host/iqn.x/lun", "iscsi://topsecret99@host/iqn.x/0",
        "iscsi://u:topsecret99@:3260/iqn.x/0"}) {
    auto child = open_child("r9", bad, {.size_bytes = kSize});
    ASSERT_FALSE(child) << bad;
    EXPECT_NE(child.error().message.find("replica r9"), std::string::npos) << child.error().message;
    EXPECT_EQ(child.error().message.find("topsecret99"), std::string::npos)
        << child.error().message;
  }
}

TEST(IscsiSense, SpaceAllocationFailedIsOutOfSpaceAndAConflictIsFenced) {
  const auto full = describe_scsi_failure(0x02, 0x07, 0x2707);  // DATA PROTECT, 27h/07h
  EXPECT_TRUE(out_of_space(errno_code(full.err))) << full.why;
  EXPECT_NE(full.why.find("no space"), std::string::npos) << full.why;
  const auto fenced = describe_scsi_failure(0x18, 0, 0);
  EXPECT_NE(fenced.why.find("fenced"), std::string::npos) << fenced.why;
  EXPECT_FALSE(out_of_space(errno_code(fenced.err)));
  const auto medium = describe_scsi_failure(0x02, 0x03, 0x1100);  // MEDIUM ERROR, read error
  EXPECT_EQ(medium.err, EIO);
  EXPECT_NE(medium.why.find("(03/11/00)"), std::string::npos) << medium.why;
  EXPECT_EQ(describe_scsi_failure(0x02, 0x05, 0x2000).err, ENOTSUP);
}

TEST_F(IscsiChildTest, WritesReadBackWithAndWithoutFua) {
  auto child = open();
  ASSERT_TRUE(child) << child.error().message;
  auto& data = *child->data;
  EXPECT_EQ(data.size_bytes(), kSize);
  const auto a = pattern(64 << 10, 1), b = pattern(3 << 20, 2);  // b spans several commands
  ASSERT_TRUE(data.write(4096, a, false));
  ASSERT_TRUE(data.write(kSize - b.size(), b, true));
  ASSERT_TRUE(data.flush());
  EXPECT_EQ(read_back(data, 4096, a.size()), a);
  EXPECT_EQ(read_back(data, kSize - b.size(), b.size()), b);
  // The data lands after the journal area of the LUN.
  const int fd = ::open(backing_.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  std::vector<std::byte> raw(a.size());
  ASSERT_EQ(::pread(fd, raw.data(), raw.size(), kRemoteJournalBytes + 4096),
            static_cast<ssize_t>(raw.size()));
  ::close(fd);
  EXPECT_EQ(raw, a);
  // Out of range: an error, not a write into the next volume's bytes.
  EXPECT_FALSE(data.write(kSize, a, false));
}

TEST_F(IscsiChildTest, ConcurrentWritersShareTheSessions) {
  auto child = open();
  ASSERT_TRUE(child) << child.error().message;
  auto& data = *child->data;
  auto& journal = *child->journal;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (unsigned t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (unsigned i = 0; i < 16; ++i) {
        const auto bytes = pattern(64 << 10, t * 100 + i);
        const std::uint64_t at = (std::uint64_t{t} * 16 + i) * (64 << 10);
        if (!data.write(at, bytes, i % 2 == 0)) ++failures;
        if (!journal.save_word(BitmapKind::dirty, t, std::uint64_t{1} << i)) ++failures;
        if (read_back(data, at, bytes.size()) != bytes) ++failures;
      }
      if (!journal.sync()) ++failures;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  auto dirty = journal.load_bitmap(BitmapKind::dirty, 16 * 64);
  ASSERT_TRUE(dirty);
  for (unsigned t = 0; t < 8; ++t) EXPECT_TRUE(dirty->test(t * 64 + 15)) << t;
}

TEST_F(IscsiChildTest, ExtentsShowHolesAndDataAndDiscardMakesHoles) {
  auto child = open();
  ASSERT_TRUE(child) << child.error().message;
  auto& data = *child->data;
  ASSERT_TRUE(data.write(2 << 20, pattern(1 << 20, 3), false));
  auto hole = data.extent_at(0);
  ASSERT_TRUE(hole) << hole.error().message;
  EXPECT_FALSE(hole->mapped);
  EXPECT_EQ(hole->offset, 0u);
  EXPECT_EQ(hole->length, 2u << 20);
  auto mapped = data.extent_at(2 << 20);
  ASSERT_TRUE(mapped) << mapped.error().message;
  EXPECT_TRUE(mapped->mapped);
  EXPECT_EQ(mapped->length, 1u << 20);
  auto tail = data.extent_at(3 << 20);
  ASSERT_TRUE(tail) << tail.error().message;
  EXPECT_FALSE(tail->mapped);
  EXPECT_EQ(tail->offset + tail->length, kSize) << "clamped to the volume, not the LUN";
  ASSERT_TRUE(data.discard(2 << 20, 1 << 20));
  EXPECT_EQ(read_back(data, 2 << 20, 4096), std::vector<std::byte>(4096));
  auto gone = data.extent_at(2 << 20);
  ASSERT_TRUE(gone);
  EXPECT_FALSE(gone->mapped);
  EXPECT_FALSE(data.extent_at(kSize));
}

TEST_F(IscsiChildTest, MetaRoundTripsSurvivesReopenAndATornSlotFallsBack) {
  {
    auto child = open();
    ASSERT_TRUE(child) << child.error().message;
    auto fresh = child->journal->load_meta();
    ASSERT_TRUE(fresh) << fresh.error().message;
    EXPECT_EQ(fresh->generation, 0u) << "a LUN of zeros is a new replica";
    ReplicaMeta m{.id = "r2", .size_bytes = kSize, .generation = 1, .members = {"r1", "r2"}};
    ASSERT_TRUE(child->journal->save_meta(m));  // slot 0
    m.generation = 2;
    m.revision = 77;
    m.clean = true;
    ASSERT_TRUE(child->journal->save_meta(m));  // slot 1
    auto back = child->journal->load_meta();
    ASSERT_TRUE(back);
    EXPECT_EQ(back->generation, 2u);
    EXPECT_EQ(back->revision, 77u);
  }
  {
    auto child = open();
    ASSERT_TRUE(child) << child.error().message;
    auto back = child->journal->load_meta();
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->id, "r2");
    EXPECT_EQ(back->generation, 2u);
    EXPECT_TRUE(back->clean);
    EXPECT_EQ(back->members, (std::vector<std::string>{"r1", "r2"}));
  }
  damage(IscsiJournal::kSlotBytes + 40, 16);  // inside the JSON of the newest slot
  {
    auto child = open();
    ASSERT_TRUE(child) << child.error().message;
    auto back = child->journal->load_meta();
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->generation, 1u) << "the older slot wins over a torn one";
    // The next save overwrites the torn slot, not the good one.
    ReplicaMeta m{.id = "r2", .size_bytes = kSize, .generation = 3};
    ASSERT_TRUE(child->journal->save_meta(m));
  }
  damage(0, 16);  // slot 0 now holds generation 1 only: its loss leaves generation 3
  auto child = open();
  ASSERT_TRUE(child);
  auto back = child->journal->load_meta();
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->generation, 3u);
  damage(IscsiJournal::kSlotBytes, 16);
  EXPECT_FALSE(child->journal->load_meta()) << "both slots damaged";
}

TEST_F(IscsiChildTest, BitmapWordsSurviveReopen) {
  {
    auto child = open();
    ASSERT_TRUE(child) << child.error().message;
    ASSERT_TRUE(child->journal->save_word(BitmapKind::dirty, 0, 0x8000000000000005ull));
    ASSERT_TRUE(child->journal->save_word(BitmapKind::degraded, 0, 0x2));
    ASSERT_TRUE(child->journal->sync());
    ASSERT_TRUE(child->journal->sync()) << "nothing to sync: still fine";
  }
  auto child = open();
  ASSERT_TRUE(child) << child.error().message;
  auto dirty = child->journal->load_bitmap(BitmapKind::dirty, 16);
  ASSERT_TRUE(dirty) << dirty.error().message;
  EXPECT_TRUE(dirty->test(0));
  EXPECT_TRUE(dirty->test(2));
  EXPECT_FALSE(dirty->test(1));
  EXPECT_EQ(dirty->count(), 2u) << "bits past the volume's 16 regions are ignored";
  auto degraded = child->journal->load_bitmap(BitmapKind::degraded, 16);
  ASSERT_TRUE(degraded);
  EXPECT_EQ(degraded->count(), 1u);
  EXPECT_TRUE(degraded->test(1));
  RegionBitmap cleared(16);
  cleared.set(7);
  ASSERT_TRUE(child->journal->save_bitmap(BitmapKind::dirty, cleared));
  ASSERT_TRUE(child->journal->sync());
  auto again = child->journal->load_bitmap(BitmapKind::dirty, 16);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->count(), 1u);
  EXPECT_TRUE(again->test(7));
}

TEST_F(IscsiChildTest, AVolumeLargerThanTheLunIsRefused) {
  ChildOptions o;
  o.size_bytes = kSize * 2;
  auto child = open_child("r2", uri(), o);
  ASSERT_FALSE(child);
  EXPECT_NE(child.error().message.find("replica r2 (iscsi://127.0.0.1:"), std::string::npos)
      << child.error().message;
  EXPECT_NE(child.error().message.find("journal area"), std::string::npos);
}

TEST_F(IscsiChildTest, GrowsWithinTheLunOnly) {
  ChildOptions o;
  o.size_bytes = kSize / 2;
  auto child = open_child("r2", uri(), o);
  ASSERT_TRUE(child) << child.error().message;
  auto& data = *child->data;
  EXPECT_FALSE(data.write(kSize / 2, pattern(4096, 9), false)) << "past the end, before grow";
  ASSERT_TRUE(data.grow(kSize));
  EXPECT_EQ(data.size_bytes(), kSize);
  EXPECT_TRUE(data.write(kSize / 2, pattern(4096, 9), false));
  auto too_far = data.grow(kSize + (1 << 20));
  ASSERT_FALSE(too_far);
  EXPECT_NE(too_far.error().message.find("the LUN holds"), std::string::npos)
      << too_far.error().message;
  EXPECT_EQ(data.size_bytes(), kSize);
}

TEST_F(IscsiChildTest, AWrongChapSecretFailsWithoutShowingIt) {
  for (const std::string& cred :
       {std::string(kUser) + ":wrong-secret-42", std::string(kUser) + "%wrong-secret-42"}) {
    ChildOptions o;
    o.size_bytes = kSize;
    auto child = open_child("r2", uri(cred), o);
    ASSERT_FALSE(child) << cred;
    const std::string& m = child.error().message;
    EXPECT_NE(m.find("replica r2 (iscsi://127.0.0.1:"), std::string::npos) << m;
    EXPECT_NE(m.find("log in"), std::string::npos) << m;
    EXPECT_EQ(m.find("wrong-secret-42"), std::string::npos) << m;
    EXPECT_EQ(m.find(kSecret), std::string::npos) << m;
  }
  auto good = open();
  EXPECT_TRUE(good) << "the right secret: " << good.error().message;
}

TEST_F(IscsiChildTest, AKilledTargetFailsTheNextWriteAndARestartedOneOpensAgain) {
  auto child = open(std::chrono::milliseconds(1000));
  ASSERT_TRUE(child) << child.error().message;
  const auto a = pattern(8192, 4);
  ASSERT_TRUE(child->data->write(0, a, true));
  const int port = target_.port();
  target_.kill(SIGKILL);
  const auto t0 = Clock::now();
  auto write = child->data->write(8192, a, false);
  ASSERT_FALSE(write);
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(20));
  EXPECT_NE(write.error().message.find("replica r2 (iscsi://127.0.0.1:"), std::string::npos)
      << write.error().message;
  EXPECT_NE(write.error().message.find("write at 8192: "), std::string::npos)
      << "the volume's offset, not the LUN's: " << write.error().message;
  EXPECT_EQ(write.error().message.find(kSecret), std::string::npos);
  // Every later command fails too, each within its bound (it tries to connect again).
  const auto t1 = Clock::now();
  std::vector<std::byte> buffer(512);
  EXPECT_FALSE(child->data->read(0, buffer));
  EXPECT_FALSE(child->journal->save_word(BitmapKind::dirty, 0, 1));
  EXPECT_LT(Clock::now() - t1, std::chrono::seconds(20));

  std::string started;
  for (int i = 0; i < 50; ++i) {  // the port may linger a moment
    started = start(port);
    if (started.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_EQ(started, "");
  auto again = open(std::chrono::milliseconds(1000));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(read_back(*again->data, 0, a.size()), a);
  // The old child reconnects by itself too.
  ASSERT_TRUE(child->data->write(8192, a, false)) << "after the restart";
}

TEST_F(IscsiChildTest, AHungTargetTimesOutInsteadOfHanging) {
  auto child = open(std::chrono::milliseconds(1000));
  ASSERT_TRUE(child) << child.error().message;
  ASSERT_TRUE(child->data->write(0, pattern(4096, 5), false));
  target_.kill(SIGSTOP);  // the connection stays up, nothing answers
  const auto t0 = Clock::now();
  auto write = child->data->write(0, pattern(4096, 6), false);
  const auto took = Clock::now() - t0;
  ASSERT_FALSE(write);
  EXPECT_LT(took, std::chrono::seconds(20));
  EXPECT_GE(took, std::chrono::milliseconds(900)) << "it waited for the timeout";
  EXPECT_NE(write.error().message.find("write at 0: timed out after 1 s"), std::string::npos)
      << write.error().message;
  EXPECT_EQ(write.error().code, std::errc::timed_out);
  // A new login to the stopped target is bounded as well.
  const auto t1 = Clock::now();
  auto opened = open(std::chrono::milliseconds(1000));
  ASSERT_FALSE(opened);
  EXPECT_LT(Clock::now() - t1, std::chrono::seconds(20));
  EXPECT_NE(opened.error().message.find("timed out after 1 s"), std::string::npos)
      << opened.error().message;
  target_.kill(SIGCONT);
  ASSERT_TRUE(child->data->write(0, pattern(4096, 7), false)) << "once it answers again";
}

// Fencing (persistent reservations): a new owner that claims the replica takes it over; the old
// owner's writes are refused from then on, and it cannot take the replica back without a claim.
TEST_F(IscsiChildTest, ANewOwnerFencesTheOldOneOff) {
  ChildOptions first;
  first.size_bytes = kSize;
  first.owner_key = 0x1111;
  first.claim = true;
  auto old_owner = open_child("r2", uri(), first);
  ASSERT_TRUE(old_owner) << old_owner.error().message;
  const auto a = pattern(64 << 10, 3);
  ASSERT_TRUE(old_owner->data->write(0, a, false));
  // Reopening as the same owner, without a claim, joins its own reservation.
  ChildOptions again = first;
  again.claim = false;
  auto rejoined = open_child("r2", uri(), again);
  ASSERT_TRUE(rejoined) << rejoined.error().message;

  ChildOptions second = first;
  second.owner_key = 0x2222;
  second.claim = false;
  auto refused = open_child("r2", uri(), second);
  ASSERT_FALSE(refused);  // without a claim another owner's replica is not taken
  EXPECT_NE(refused.error().message.find("fenced"), std::string::npos) << refused.error().message;
  second.claim = true;
  auto new_owner = open_child("r2", uri(), second);
  ASSERT_TRUE(new_owner) << new_owner.error().message;
  ASSERT_TRUE(new_owner->data->write(0, pattern(64 << 10, 4), false));

  // Every session of the old owner is fenced off, its open ones and new ones.
  auto late = old_owner->data->write(0, a, false);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, std::make_error_code(std::errc::permission_denied))
      << late.error().message;
  auto back = open_child("r2", uri(), again);
  ASSERT_FALSE(back);
  EXPECT_NE(back.error().message.find("fenced"), std::string::npos) << back.error().message;
  EXPECT_EQ(read_back(*new_owner->data, 0, 64 << 10), pattern(64 << 10, 4));
}

// A replica another volume owner holds is refused without a claim; given up by its owner
// (release_child: the volume deleted, or the replica removed from it), it is free again.
TEST_F(IscsiChildTest, AReleasedReplicaIsFreeForAnotherOwner) {
  ChildOptions first;
  first.size_bytes = kSize;
  first.owner_key = 0x3333;
  {
    auto owner = open_child("r2", uri(), first);
    ASSERT_TRUE(owner) << owner.error().message;
  }
  ChildOptions second = first;
  second.owner_key = 0x4444;
  auto refused = open_child("r2", uri(), second);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("fenced"), std::string::npos) << refused.error().message;
  ASSERT_TRUE(release_child("r2", uri(), first));
  auto next = open_child("r2", uri(), second);
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_TRUE(next->data->write(0, pattern(4096, 9), false));
}

TEST_F(IscsiChildTest, AReplicatorMirrorsToAMemoryChildAndAnIscsiChild) {
  auto remote = open();
  ASSERT_TRUE(remote) << remote.error().message;
  block::MemoryBackendOptions mo;
  mo.size = kSize;
  auto local = std::make_unique<block::MemoryBackend>(mo);
  auto* local_raw = local.get();
  std::vector<Replicator::Member> members;
  members.push_back({"r1", std::move(local), std::make_unique<MemoryJournal>(), ""});
  members.push_back({"r2", std::move(remote->data), std::move(remote->journal), ""});
  Replicator::Options o;
  o.size_bytes = kSize;
  o.clean_interval = std::chrono::milliseconds(50);
  auto r = Replicator::open(std::move(members), o);
  ASSERT_TRUE(r) << r.error().message;
  const auto a = pattern(256 << 10, 8);
  ASSERT_TRUE((*r)->write(1 << 20, a, true));
  ASSERT_TRUE((*r)->flush());
  EXPECT_EQ(read_back(*local_raw, 1 << 20, a.size()), a);
  (*r)->close();
  r->reset();
  auto check = open();
  ASSERT_TRUE(check) << check.error().message;
  EXPECT_EQ(read_back(*check->data, 1 << 20, a.size()), a);
  auto meta = check->journal->load_meta();
  ASSERT_TRUE(meta) << meta.error().message;
  EXPECT_GE(meta->generation, 1u) << "the replicator wrote the remote journal";
  EXPECT_EQ(meta->id, "r2");
}

}  // namespace
}  // namespace maya::replica
