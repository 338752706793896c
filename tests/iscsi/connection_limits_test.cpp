// What a portal does with many connections: 1,000 idle unauthenticated connections cost little
// (measured RSS and threads) and a real login is still served among them within 2 s; the caps
// on logged-in connections (in all, per source address) refuse with "out of resources" and
// admit again once one leaves; a login that trickles in is dropped at the login deadline; the
// oldest connection still logging in makes room for a new one; a thread that cannot be made refuses
// the login rather than aborting (a child process in a pids cgroup). Loopback addresses only; every
// wait is bounded.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <thread>

#include "lib/common/log.h"
#include "lib/iscsi_target/target.h"
#include "tests/iscsi/mini_initiator.h"
#include "tests/iscsi/target_harness.h"
#include "tests/iscsi/test_disk.h"

namespace maya::iscsi::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr const char* kIqn = "iqn.2026-11.io.maya:limits";
constexpr std::uint16_t kOutOfResources = 0x0302;

// A field of /proc/self/status ("VmRSS" in KiB, "Threads").
long status_field(const std::string& name) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + ":", 0) == 0) return std::stol(line.substr(name.size() + 1));
  }
  return -1;
}

std::optional<MiniInitiator> login(std::uint16_t port, std::uint16_t* status,
                                   const char* source = nullptr,
                                   const std::string& initiator = "iqn.2026-11.io.maya:i1") {
  auto c = MiniInitiator::connect(port, "127.0.0.1", source);
  if (!c) return std::nullopt;
  auto st = c->login(kIqn, initiator);
  if (!st) return std::nullopt;
  *status = *st;
  return c;
}

TEST(ConnectionLimits, ThousandIdleConnectionsCostLittle) {
  // 1,000 client sockets and 1,000 accepted ones live in this process: raise the soft
  // RLIMIT_NOFILE (to at most the hard limit).
  constexpr int kIdle = 1000;
  if (!raise_own_nofile(2 * kIdle + 256))
    GTEST_SKIP() << "SKIP: the RLIMIT_NOFILE hard limit is below " << 2 * kIdle + 256;
  log::set_level(log::Level::error);
  TestDisk disk;
  iscsi_target::TargetOptions o;
  auto target = start_target(disk, o, kIqn);
  ASSERT_TRUE(target);
  ASSERT_TRUE(login_inquiry_write(target->port(), kIqn));  // warm up: buffers and threads seen once
  ASSERT_TRUE(wait_for([&] { return target->connection_count() == 0; }));

  const long rss_before = status_field("VmRSS");
  const long threads_before = status_field("Threads");
  const auto connecting = Clock::now();
  std::vector<MiniInitiator> idle;
  idle.reserve(kIdle);
  // From four loopback source addresses: one address may hold only 256 logins in progress.
  const char* sources[] = {"127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"};
  for (int i = 0; i < kIdle; ++i) {
    auto c = MiniInitiator::connect(target->port(), "127.0.0.1", sources[i % 4]);
    if (!c && i < 4) GTEST_SKIP() << "cannot connect from " << sources[i];
    ASSERT_TRUE(c) << "connection " << i;
    idle.push_back(std::move(*c));
  }
  ASSERT_TRUE(wait_for([&] { return target->connection_count() >= std::size_t{kIdle}; }))
      << target->connection_count() << " connections accepted";
  const auto connect_ms =
      std::chrono::duration<double, std::milli>(Clock::now() - connecting).count();
  const long rss_idle = status_field("VmRSS");
  const long threads_idle = status_field("Threads");

  const auto start = Clock::now();
  const bool served = login_inquiry_write(target->port(), kIqn);
  const auto latency = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  const long rss_after = status_field("VmRSS");
  EXPECT_TRUE(served);
  // The goal is 100 ms; 2 s tolerates a loaded CI machine, while a login that waited behind the
  // idle connections (or for one of them to time out) would still exceed it. Printed below.
  EXPECT_LT(latency, 2000.0);
  std::printf(
      "[ figures  ] %d idle connections: RSS %.1f -> %.1f MiB (+%.1f MiB), threads %ld -> %ld; "
      "login + INQUIRY + 4 KiB write among them: %.1f ms; RSS after it %.1f MiB; connecting took "
      "%.0f ms\n",
      kIdle, rss_before / 1024.0, rss_idle / 1024.0, (rss_idle - rss_before) / 1024.0,
      threads_before, threads_idle, latency, rss_after / 1024.0, connect_ms);
  EXPECT_LT(rss_idle - rss_before, 64 * 1024);  // KiB
  EXPECT_LE(threads_idle, threads_before + 2);  // no thread per idle connection
  EXPECT_TRUE(wait_for([&] { return target->logged_in_count() == 0; }));  // the probe left
  idle.clear();
  EXPECT_TRUE(wait_for([&] { return target->connection_count() == 0; }));
  target->stop();
}

TEST(ConnectionLimits, CapRefusesAndAdmitsAgainAfterOneLeaves) {
  log::set_level(log::Level::error);
  TestDisk disk;
  iscsi_target::TargetOptions o;
  o.limits = {2, 16};
  auto target = start_target(disk, o, kIqn);
  ASSERT_TRUE(target);
  std::uint16_t st = 0xffff;
  auto a = login(target->port(), &st, nullptr, "iqn.2026-11.io.maya:a");
  ASSERT_TRUE(a);
  ASSERT_EQ(st, 0);
  auto b = login(target->port(), &st, nullptr, "iqn.2026-11.io.maya:b");
  ASSERT_TRUE(b);
  ASSERT_EQ(st, 0);
  auto c = login(target->port(), &st, nullptr, "iqn.2026-11.io.maya:c");
  ASSERT_TRUE(c);
  EXPECT_EQ(st, kOutOfResources);
  EXPECT_TRUE(c->closed_by_peer(5000));
  EXPECT_EQ(target->logged_in_count(), 2u);
  EXPECT_EQ(disk.live_nexuses(), 2u);  // the refused one never made a nexus

  ASSERT_TRUE(a->logout());
  a.reset();
  ASSERT_TRUE(wait_for([&] { return target->logged_in_count() == 1; }));
  auto d = login(target->port(), &st, nullptr, "iqn.2026-11.io.maya:d");
  ASSERT_TRUE(d);
  EXPECT_EQ(st, 0);
  const std::uint8_t tur[6] = {0};
  auto r = d->command(tur, 0, false, false);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 0);
  target->stop();
}

TEST(ConnectionLimits, PerAddressCapCountsEachSourceAddress) {
  log::set_level(log::Level::error);
  TestDisk disk;
  iscsi_target::TargetOptions o;
  o.limits = {8, 2};
  auto target = start_target(disk, o, kIqn);
  ASSERT_TRUE(target);
  std::uint16_t st = 0xffff;
  std::vector<MiniInitiator> kept;
  for (const char* name : {"iqn.2026-11.io.maya:x1", "iqn.2026-11.io.maya:x2"}) {
    auto c = login(target->port(), &st, "127.0.0.1", name);
    ASSERT_TRUE(c);
    ASSERT_EQ(st, 0);
    kept.push_back(std::move(*c));
  }
  auto over = login(target->port(), &st, "127.0.0.1", "iqn.2026-11.io.maya:x3");
  ASSERT_TRUE(over);
  EXPECT_EQ(st, kOutOfResources);
  // Another loopback source address has its own count.
  auto other = login(target->port(), &st, "127.0.0.2", "iqn.2026-11.io.maya:y1");
  if (!other) GTEST_SKIP() << "cannot connect from 127.0.0.2";
  EXPECT_EQ(st, 0);
  EXPECT_EQ(target->logged_in_count(), 3u);
  target->stop();
}

TEST(ConnectionLimits, TrickledLoginIsDroppedAtTheDeadline) {
  log::set_level(log::Level::error);
  TestDisk disk;
  iscsi_target::TargetOptions o;
  o.login_timeout = milliseconds(1000);
  auto target = start_target(disk, o, kIqn);
  ASSERT_TRUE(target);
  auto c = MiniInitiator::connect(target->port());
  ASSERT_TRUE(c);
  // A login header, one byte every 100 ms: it would take 4.8 s to arrive.
  Header bhs{};
  bhs[0] = 0x43;
  bhs[1] = 0x87;
  bool closed = false;
  int sent = 0;
  const auto start = Clock::now();
  for (std::size_t i = 0; i < bhs.size() && !closed; ++i) {
    if (!c->send_raw(std::span(bhs).subspan(i, 1))) {
      closed = true;
      break;
    }
    ++sent;
    closed = c->closed_by_peer(100);
  }
  if (!closed) closed = c->closed_by_peer(10000);
  const auto after = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  std::printf(
      "[ figures  ] a trickled login was closed after %.0f ms (deadline 1000 ms), %d bytes\n",
      after, sent);
  EXPECT_TRUE(closed);
  EXPECT_GT(sent, 1);
  EXPECT_TRUE(login_inquiry_write(target->port(), kIqn));  // others are still served
  target->stop();
}

TEST(ConnectionLimits, OversizedLoginPduIsDropped) {
  log::set_level(log::Level::error);
  TestDisk disk;
  auto target = start_target(disk, {}, kIqn);
  ASSERT_TRUE(target);
  auto c = MiniInitiator::connect(target->port());
  ASSERT_TRUE(c);
  // A login that announces 60,000 bytes of text (within the full-feature limit, far beyond a
  // login's), then sends 20 KiB of it: the target stops buffering and closes.
  Header bhs{};
  bhs[0] = 0x43;
  bhs[1] = 0x87;
  bhs[5] = 0x00;
  bhs[6] = 0xea;
  bhs[7] = 0x60;
  c->send_raw(bhs);
  std::vector<std::uint8_t> text(20 * 1024, 'x');
  c->send_raw(text);
  EXPECT_TRUE(c->closed_by_peer(5000));
  EXPECT_TRUE(login_inquiry_write(target->port(), kIqn));
  target->stop();
}

TEST(ConnectionLimits, OldestLoginInProgressMakesRoom) {
  log::set_level(log::Level::error);
  TestDisk disk;
  iscsi_target::TargetOptions o;
  o.max_pending_logins = 4;
  auto target = start_target(disk, o, kIqn);
  ASSERT_TRUE(target);
  std::vector<MiniInitiator> idle;
  for (int i = 0; i < 4; ++i) {
    auto c = MiniInitiator::connect(target->port());
    ASSERT_TRUE(c);
    idle.push_back(std::move(*c));
    ASSERT_TRUE(wait_for([&] { return target->connection_count() == idle.size(); }));
  }
  // A fifth connection that logs in: the oldest idle one goes, the login succeeds.
  EXPECT_TRUE(login_inquiry_write(target->port(), kIqn));
  EXPECT_TRUE(idle.front().closed_by_peer(5000));
  EXPECT_FALSE(idle.back().closed_by_peer(100));
  target->stop();
}

// A pids cgroup (v2 at /sys/fs/cgroup, or v1 at /sys/fs/cgroup/pids) limiting a child process.
class PidsCgroup {
 public:
  static std::optional<PidsCgroup> make() {
    const std::string name = "maya-limits-test-" + std::to_string(::getpid());
    std::ifstream controllers("/sys/fs/cgroup/cgroup.controllers");
    std::string list;
    std::getline(controllers, list);
    if (list.find("pids") != std::string::npos) {
      std::ofstream("/sys/fs/cgroup/cgroup.subtree_control") << "+pids";
      fs::path dir = fs::path("/sys/fs/cgroup") / name;
      if (::mkdir(dir.c_str(), 0755) == 0 && fs::exists(dir / "pids.max")) return PidsCgroup(dir);
      ::rmdir(dir.c_str());
    }
    fs::path dir = fs::path("/sys/fs/cgroup/pids") / name;
    if (fs::exists("/sys/fs/cgroup/pids/cgroup.procs") && ::mkdir(dir.c_str(), 0755) == 0) {
      if (fs::exists(dir / "pids.max")) return PidsCgroup(dir);
      ::rmdir(dir.c_str());
    }
    return std::nullopt;
  }
  PidsCgroup(PidsCgroup&& o) noexcept : dir_(std::exchange(o.dir_, {})) {}
  ~PidsCgroup() {
    if (!dir_.empty()) ::rmdir(dir_.c_str());
  }
  bool write(const char* file, const std::string& value) const {
    std::ofstream out(dir_ / file);
    out << value;
    out.flush();
    return static_cast<bool>(out);
  }
  long read(const char* file) const {
    std::ifstream in(dir_ / file);
    long v = -1;
    in >> v;
    return v;
  }

 private:
  explicit PidsCgroup(fs::path dir) : dir_(std::move(dir)) {}
  fs::path dir_;
};

TEST(ConnectionLimits, ThreadCreationFailureRefusesTheLogin) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to make a pids cgroup";
  auto cgroup = PidsCgroup::make();
  if (!cgroup) GTEST_SKIP() << "no pids cgroup controller (v2 /sys/fs/cgroup or v1 pids)";
  int to_child[2], from_child[2];
  ASSERT_EQ(::pipe2(to_child, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(from_child, O_CLOEXEC), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // The child: wait to be moved into the cgroup, serve, report the port, wait, stop.
    char go = 0;
    if (::read(to_child[0], &go, 1) != 1) ::_exit(3);
    TestDisk disk;
    iscsi_target::TargetOptions o;
    o.listen = "127.0.0.1:0";
    o.iqn = kIqn;
    auto t = iscsi_target::Target::create_with_disk(o, disk);
    if (!t) ::_exit(4);
    (*t)->start();
    const std::uint16_t port = (*t)->port();
    if (::write(from_child[1], &port, sizeof port) != sizeof port) ::_exit(5);
    if (::read(to_child[0], &go, 1) != 1) ::_exit(6);
    (*t)->stop();
    ::_exit(0);
  }
  ::close(to_child[0]);
  ::close(from_child[1]);
  ASSERT_TRUE(cgroup->write("cgroup.procs", std::to_string(pid)));
  ASSERT_EQ(::write(to_child[1], "g", 1), 1);
  std::uint16_t port = 0;
  ASSERT_EQ(::read(from_child[0], &port, sizeof port), static_cast<ssize_t>(sizeof port));
  // Room for one logged-in connection's two threads, and not for a second one's.
  const long now = cgroup->read("pids.current");
  ASSERT_GT(now, 0);
  ASSERT_TRUE(cgroup->write("pids.max", std::to_string(now + 2)));

  std::uint16_t st = 0xffff;
  auto first = login(port, &st, nullptr, "iqn.2026-11.io.maya:t1");
  ASSERT_TRUE(first);
  EXPECT_EQ(st, 0);
  // No room at all (the writer thread fails), then room for one thread (the reader fails).
  const long busy = cgroup->read("pids.current");
  for (long room : {0L, 1L}) {
    ASSERT_TRUE(cgroup->write("pids.max", std::to_string(busy + room)));
    auto refused = login(port, &st, nullptr, "iqn.2026-11.io.maya:t2");
    ASSERT_TRUE(refused);
    EXPECT_EQ(st, kOutOfResources) << "room for " << room << " thread(s)";
    EXPECT_TRUE(refused->closed_by_peer(5000));
  }
  ASSERT_TRUE(cgroup->write("pids.max", std::to_string(now + 2)));
  int wstatus = 0;
  EXPECT_EQ(::waitpid(pid, &wstatus, WNOHANG), 0) << "the target process died";
  // The first connection still works; once it leaves, a new login gets its threads.
  const std::uint8_t tur[6] = {0};
  auto r = first->command(tur, 0, false, false);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 0);
  ASSERT_TRUE(first->logout());
  first.reset();
  bool admitted = wait_for([&] {
    auto again = login(port, &st, nullptr, "iqn.2026-11.io.maya:t3");
    return again && st == 0;
  });
  EXPECT_TRUE(admitted);

  ASSERT_EQ(::write(to_child[1], "s", 1), 1);
  ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) << "wait status " << wstatus;
  ::close(to_child[1]);
  ::close(from_child[0]);
}

}  // namespace
}  // namespace maya::iscsi::testing
