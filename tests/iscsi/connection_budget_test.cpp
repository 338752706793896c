// What a portal does when descriptors or discovery sessions run short: with a low soft
// RLIMIT_NOFILE (a forked child), idle connections never starve a real login or the data path of
// descriptors; one source address cannot fill the queue of logins in progress; discovery sessions
// have their own cap, so idle ones never keep a normal login out, and are closed when idle.
// Loopback addresses only; every wait is bounded.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <numeric>
#include <thread>

#include "lib/common/log.h"
#include "lib/iscsi_target/target.h"
#include "tests/iscsi/mini_initiator.h"
#include "tests/iscsi/target_harness.h"
#include "tests/iscsi/test_disk.h"

namespace maya::iscsi::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr const char* kIqn = "iqn.2026-11.io.maya:budget";
constexpr std::uint16_t kOutOfResources = 0x0302;

// The target runs in a child whose soft limit is 256 descriptors; 600 idle connections (more
// than it could ever hold) arrive first, then a real login, then the child must still be able to
// open files (the data path: journals, replica files). `squeeze`: the child's other descriptors
// leave only 16 free, so accept itself fails with EMFILE (then it releases them for the check).
void idle_connections_in_a_child_with_few_descriptors(bool squeeze) {
  constexpr rlim_t kChildLimit = 256;
  constexpr int kIdle = 600;
  if (!raise_own_nofile(kIdle + 256)) GTEST_SKIP() << "cannot raise RLIMIT_NOFILE here";
  int to_child[2], from_child[2];
  ASSERT_EQ(::pipe2(to_child, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(from_child, O_CLOEXEC), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    log::set_level(log::Level::error);
    rlimit low{kChildLimit, kChildLimit};
    if (::setrlimit(RLIMIT_NOFILE, &low) != 0) ::_exit(3);
    TestDisk disk;
    iscsi_target::TargetOptions o;
    o.listen = "127.0.0.1:0";
    o.iqn = kIqn;
    auto t = iscsi_target::Target::create_with_disk(o, disk);
    if (!t) ::_exit(4);
    (*t)->start();
    const std::uint16_t port = (*t)->port();
    std::vector<int> hoard;
    if (squeeze) {
      for (int i = 0; i < 512; ++i) {
        const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) break;
        hoard.push_back(fd);
      }
      for (int i = 0; i < 16 && !hoard.empty(); ++i) {
        ::close(hoard.back());
        hoard.pop_back();
      }
    }
    if (::write(from_child[1], &port, sizeof port) != sizeof port) ::_exit(5);
    char cmd = 0;
    while (::read(to_child[0], &cmd, 1) == 1 && cmd == 'o') {
      for (int fd : hoard) ::close(fd);
      hoard.clear();
      // Open 32 files at once, as a rebuild or a journal save would.
      std::vector<int> fds;
      for (int i = 0; i < 32; ++i) {
        const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) break;
        fds.push_back(fd);
      }
      const std::uint8_t opened = static_cast<std::uint8_t>(fds.size());
      for (int fd : fds) ::close(fd);
      if (::write(from_child[1], &opened, 1) != 1) ::_exit(6);
    }
    (*t)->stop();
    ::_exit(0);
  }
  ::close(to_child[0]);
  ::close(from_child[1]);
  std::uint16_t port = 0;
  ASSERT_EQ(::read(from_child[0], &port, sizeof port), static_cast<ssize_t>(sizeof port));

  std::vector<MiniInitiator> idle;
  idle.reserve(kIdle);
  for (int i = 0; i < kIdle; ++i) {
    auto c = MiniInitiator::connect(port);
    ASSERT_TRUE(c) << "connection " << i;
    idle.push_back(std::move(*c));
  }
  // The target makes room by closing the oldest idle connections.
  EXPECT_TRUE(idle.front().closed_by_peer(10000));
  const auto start = Clock::now();
  const bool served = login_inquiry_write(port, kIqn);
  const auto ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  EXPECT_TRUE(served);
  ASSERT_EQ(::write(to_child[1], "o", 1), 1);
  std::uint8_t opened = 0;
  ASSERT_EQ(::read(from_child[0], &opened, 1), 1);
  EXPECT_EQ(opened, 32) << "the target could not open files";
  std::printf(
      "[ figures  ] soft NOFILE %d%s, %d idle connections: login + INQUIRY + 4 KiB "
      "write %.1f ms; %d of 32 files opened\n",
      static_cast<int>(kChildLimit), squeeze ? " (16 free)" : "", kIdle, ms, opened);
  idle.clear();
  ASSERT_EQ(::write(to_child[1], "s", 1), 1);
  int wstatus = 0;
  ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) << "wait status " << wstatus;
  ::close(to_child[1]);
  ::close(from_child[0]);
}

TEST(ConnectionLimits, IdleConnectionsNeverExhaustDescriptors) {
  idle_connections_in_a_child_with_few_descriptors(false);
}

TEST(ConnectionLimits, OutOfDescriptorsDropsTheOldestLogin) {
  idle_connections_in_a_child_with_few_descriptors(true);
}

TEST(ConnectionLimits, OneAddressCannotFillTheLoginQueue) {
  log::set_level(log::Level::error);
  TestDisk disk;
  iscsi_target::TargetOptions o;
  o.max_pending_logins_per_address = 4;
  auto target = start_target(disk, o, kIqn);
  ASSERT_TRUE(target);
  auto other = MiniInitiator::connect(target->port(), "127.0.0.1", "127.0.0.1");
  ASSERT_TRUE(other);
  std::vector<MiniInitiator> flood;
  for (int i = 0; i < 4; ++i) {
    auto c = MiniInitiator::connect(target->port(), "127.0.0.1", "127.0.0.2");
    if (!c && i == 0) GTEST_SKIP() << "cannot connect from 127.0.0.2";
    ASSERT_TRUE(c);
    flood.push_back(std::move(*c));
    ASSERT_TRUE(wait_for([&] { return target->connection_count() == flood.size() + 1; }));
  }
  // A fifth from 127.0.0.2 takes the place of that address's oldest, not of 127.0.0.1's.
  auto fifth = MiniInitiator::connect(target->port(), "127.0.0.1", "127.0.0.2");
  ASSERT_TRUE(fifth);
  EXPECT_TRUE(flood.front().closed_by_peer(5000));
  EXPECT_FALSE(other->closed_by_peer(100));
  EXPECT_FALSE(flood.back().closed_by_peer(100));
  EXPECT_TRUE(login_inquiry_write(target->port(), kIqn, "127.0.0.2"));
  EXPECT_FALSE(other->closed_by_peer(100));
  target->stop();
}

// Discovery logins from `source` until one is refused (at most `most`); returns them.
std::vector<MiniInitiator> fill_with_discovery(std::uint16_t port, const char* source, int most) {
  std::vector<MiniInitiator> kept;
  for (int i = 0; i < most; ++i) {
    auto c = MiniInitiator::connect(port, "127.0.0.1", source);
    if (!c) break;
    auto st = c->login("", "iqn.2026-11.io.maya:d" + std::to_string(i), true);
    if (!st || *st != 0) break;
    kept.push_back(std::move(*c));
  }
  return kept;
}

TEST(ConnectionLimits, IdleDiscoverySessionsNeverKeepANormalLoginOut) {
  log::set_level(log::Level::error);
  TestDisk disk;
  iscsi_target::TargetOptions o;
  o.limits = {8, 8};  // discovery sessions keep their default caps: 16, and 4 per address
  auto target = start_target(disk, o, kIqn);
  ASSERT_TRUE(target);
  std::vector<MiniInitiator> discovery;
  for (const char* source : {"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"}) {
    auto some = fill_with_discovery(target->port(), source, 10);
    if (some.empty() && discovery.empty()) GTEST_SKIP() << "cannot connect from " << source;
    for (auto& c : some) discovery.push_back(std::move(c));
  }
  std::printf("[ figures  ] %zu idle discovery sessions admitted from 5 addresses\n",
              discovery.size());
  EXPECT_LE(discovery.size(), 16u);
  EXPECT_EQ(target->logged_in_count(), discovery.size());
  // The normal sessions' cap is untouched: a real initiator logs in and is served.
  EXPECT_TRUE(login_inquiry_write(target->port(), kIqn));
  target->stop();
}

TEST(ConnectionLimits, IdleDiscoverySessionIsClosed) {
  log::set_level(log::Level::error);
  TestDisk disk;
  iscsi_target::TargetOptions o;
  o.discovery_idle_timeout = milliseconds(500);
  auto target = start_target(disk, o, kIqn);
  ASSERT_TRUE(target);
  auto normal = MiniInitiator::connect(target->port());
  ASSERT_TRUE(normal);
  ASSERT_EQ(normal->login(kIqn, "iqn.2026-11.io.maya:n1"), std::optional<std::uint16_t>(0));
  auto d = MiniInitiator::connect(target->port());
  ASSERT_TRUE(d);
  ASSERT_EQ(d->login("", "iqn.2026-11.io.maya:d1", true), std::optional<std::uint16_t>(0));
  // A request within the timeout is answered; then silence closes the session.
  auto listed = d->text(std::string("SendTargets=All") + '\0');
  ASSERT_TRUE(listed);
  const auto start = Clock::now();
  EXPECT_TRUE(d->closed_by_peer(10000));
  const auto ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  std::printf("[ figures  ] an idle discovery session was closed after %.0f ms (timeout 500)\n",
              ms);
  EXPECT_TRUE(wait_for([&] { return target->discovery_count() == 0; }));
  // A normal session idle as long is not closed.
  EXPECT_FALSE(normal->closed_by_peer(100));
  EXPECT_EQ(target->logged_in_count(), 1u);
  target->stop();
}

}  // namespace
}  // namespace maya::iscsi::testing
