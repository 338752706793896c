// TargetSupervisor with fake targets (a python script that speaks the pidfile and the control
// socket): a target that holds its pidfile but never answers must not hold up the others.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <thread>

#include "drivers/storage/jiva/target_supervisor.h"
#include "lib/common/files.h"
#include "lib/jiva/manifest.h"
#include "lib/jiva/port_claims.h"

namespace maya::drivers::jiva {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Takes the pidfile lock, listens on the control socket; answers GET /v1/status unless the
// volume's name starts with "stuck" (then it accepts nothing and never answers, as a stopped
// or hung target does).
constexpr const char* kFakeTarget = R"(#!/usr/bin/env python3
import fcntl, os, socket, sys, time
a = sys.argv[1:]
v, run = a[a.index('--volume') + 1], a[a.index('--run') + 1]
d = os.path.join(run, 'targets')
fd = os.open(os.path.join(d, v + '.pid'), os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
os.ftruncate(fd, 0)
os.write(fd, (str(os.getpid()) + '\n').encode())
path = os.path.join(d, v + '.sock')
if os.path.exists(path):
    os.unlink(path)
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(64)
if v.startswith('stuck'):
    while True:
        time.sleep(60)
body = b'{"portal":"127.0.0.1:3299"}'
while True:
    c, _ = s.accept()
    c.recv(65536)
    c.sendall(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ' +
              str(len(body)).encode() + b'\r\nConnection: close\r\n\r\n' + body)
    c.close()
)";

class TempRoot {
 public:
  TempRoot() {
    std::string t = (fs::temp_directory_path() / "maya-sup.XXXXXX").string();
    if (::mkdtemp(t.data()) != nullptr) path_ = t;
  }
  ~TempRoot() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

TEST(JivaSupervisor, AStuckStartingTargetHoldsUpNoOtherVolumeAndIsKilledAtItsDeadline) {
  if (::access("/usr/bin/env", X_OK) != 0 || std::system("python3 -c '' 2>/dev/null") != 0)
    GTEST_SKIP() << "python3 is not installed";
  TempRoot root;
  const fs::path script = root.path() / "fake-target";
  ASSERT_TRUE(write_file_atomic(script, kFakeTarget, 0755));
  const std::vector<std::string> stuck = {"stuck1", "stuck2", "stuck3", "stuck4", "stuck5"};
  for (const auto& v : {"stuck1", "stuck2", "stuck3", "stuck4", "stuck5", "ok"}) {
    ASSERT_TRUE(make_dirs(root.path() / "store" / v));
    ASSERT_TRUE(write_file_atomic(root.path() / "store" / v / "jiva.json", "{}"));
  }
  ASSERT_TRUE(make_dirs(root.path() / "run" / "targets"));

  TargetSupervisor sup(
      {{script.string()}, root.path() / "store", root.path() / "run", "127.0.0.1", {}, nullptr});
  // The fake targets run detached: stop them however the test ends.
  struct StopAll {
    TargetSupervisor& sup;
    ~StopAll() { sup.stop_all(); }
  } stop_all{sup};
  auto ok_pid = sup.ensure("ok");
  ASSERT_TRUE(ok_pid) << ok_pid.error().message;
  // It answered: its port is remembered in target.served.
  EXPECT_EQ(maya::jiva::read_served_port(root.path() / "store" / "ok"), std::uint16_t{3299});

  // Five targets that take their pidfile and never answer: each ensure() waits for them.
  std::vector<std::future<Result<pid_t>>> waiting;
  for (const auto& v : stuck)
    waiting.push_back(std::async(std::launch::async, [&sup, v] { return sup.ensure(v); }));
  for (const auto& v : stuck) {
    for (int i = 0; i < 500 && !(sup.status(v).pid != 0 && sup.status(v).state == "starting"); ++i)
      std::this_thread::sleep_for(10ms);
    ASSERT_EQ(sup.status(v).state, "starting") << v;
  }

  // While they start, ok's target dies: it is started again, and status() answers throughout
  // (the watcher asks the stuck ones without holding the supervisor's lock).
  ::kill(*ok_pid, SIGKILL);
  const auto killed = Clock::now();
  auto slowest = Clock::duration::zero();
  bool restarted = false;
  while (Clock::now() - killed < 5s) {
    const auto asked = Clock::now();
    TargetStatus s = sup.status("ok");
    slowest = std::max(slowest, Clock::now() - asked);
    if (s.state == "running" && s.pid != 0 && s.pid != *ok_pid && s.port == 3299) {
      restarted = true;
      break;
    }
    std::this_thread::sleep_for(5ms);
  }
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed);
  std::cout << "ok restarted after " << took.count() << " ms; slowest status() took "
            << std::chrono::duration_cast<std::chrono::milliseconds>(slowest).count() << " ms\n";
  EXPECT_TRUE(restarted) << "ok was not running again within 5 s: " << sup.status("ok").state;
  // With the lock held through the probes, five stuck targets held it 1 s at a time.
  EXPECT_LT(slowest, 500ms);
  EXPECT_EQ(sup.status("ok").restarts, 1u);

  // "starting" has a deadline: each stuck target is killed and counted as a failed start.
  for (auto& w : waiting) {
    auto r = w.get();
    EXPECT_FALSE(r);
  }
  for (const auto& v : stuck) {
    bool seen = false;
    for (int i = 0; i < 1000 && !seen; ++i) {
      seen = sup.status(v).last_event.find("failed start 1 of 5") != std::string::npos;
      if (!seen) std::this_thread::sleep_for(10ms);
    }
    EXPECT_TRUE(seen) << v << ": " << sup.status(v).last_event;
  }
  for (const auto& v : stuck) EXPECT_TRUE(sup.stop(v)) << v;
  EXPECT_TRUE(sup.stop("ok"));
}

}  // namespace
}  // namespace maya::drivers::jiva
