// The daemon's life cycle as a user drives it: init, load, status, reload, broken reload, unload.
#include <signal.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <thread>

#include "lib/common/files.h"
#include "lib/process/pidfile.h"
#include "tests/integration/maya_cli.h"

namespace maya::testing {
namespace {

namespace fs = std::filesystem;

class Daemon : public ::testing::Test {
 protected:
  void SetUp() override {
    RunResult init = root_.init();
    ASSERT_EQ(init.status, 0) << init.err;
  }
  void set_config(const std::string& from, const std::string& to) {
    std::string text = *read_file(root_.config());
    auto at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
    std::ofstream(root_.config(), std::ios::trunc) << text;
  }
  fs::path run_dir() const { return root_.path() / "run/maya"; }
  std::string log() const { return read_file(root_.path() / "var/lib/maya/maya.log").value_or(""); }
  // A zombie counts as gone: PID 1 of some sandboxes reaps orphans only every few seconds.
  static bool alive(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string pid_field, comm, state;
    return stat >> pid_field >> comm >> state && state != "Z";
  }
  bool wait_gone(pid_t pid) {
    for (int i = 0; i < 500; ++i) {
      if (!alive(pid) && !PidFile::holder(run_dir() / "maya.pid")) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  TempRoot root_;
};

TEST_F(Daemon, FullLifeCycle) {
  // Not running yet: status says so with exit 3.
  RunResult idle = root_.maya({"status"});
  EXPECT_EQ(idle.status, 3);
  EXPECT_NE(idle.out.find("not running"), std::string::npos);

  RunResult load = root_.maya({"load"});
  ASSERT_EQ(load.status, 0) << load.err;
  EXPECT_NE(load.out.find("maya daemon started (pid "), std::string::npos) << load.out;
  EXPECT_NE(load.out.find((run_dir() / "maya.sock").string()), std::string::npos) << load.out;

  nlohmann::json status = root_.status();
  ASSERT_TRUE(status.is_object());
  pid_t pid = status["pid"].get<pid_t>();
  EXPECT_GT(pid, 0);
  EXPECT_TRUE(alive(pid));
  // It shows as `maya` in ps, pgrep and ss (a process started through /proc/self/exe is `exe`).
  std::string comm;
  std::ifstream(("/proc/" + std::to_string(pid) + "/comm").c_str()) >> comm;
  EXPECT_EQ(comm, "maya");
  EXPECT_EQ(status["config"], root_.config().string());
  EXPECT_EQ(status["roles"], nlohmann::json({"storage", "orchestration"}));
  EXPECT_EQ(status["sockets"]["control"], (run_dir() / "maya.sock").string());
  EXPECT_EQ(status["volumes"], 0);
  EXPECT_GE(status["uptime_seconds"].get<int>(), 0);
  struct stat st {};
  ASSERT_EQ(::stat((run_dir() / "maya.sock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "the control socket must be private";
  EXPECT_NE(log().find("daemon started"), std::string::npos) << "a detached daemon logs to a file";

  RunResult table = root_.maya({"status"});
  ASSERT_EQ(table.status, 0);
  EXPECT_NE(table.out.find("running (pid " + std::to_string(pid)), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("storage, orchestration"), std::string::npos) << table.out;

  // Load again: the same daemon reloads.
  RunResult reload = root_.maya({"load"});
  ASSERT_EQ(reload.status, 0) << reload.err;
  EXPECT_NE(reload.out.find("(pid " + std::to_string(pid) + ") reloaded"), std::string::npos)
      << reload.out;

  // A real change is applied by the reload.
  set_config("level = \"info\"", "level = \"debug\"");
  set_config("orchestration = true", "orchestration = false");
  ASSERT_EQ(root_.maya({"load"}).status, 0);
  status = root_.status();
  EXPECT_EQ(status["pid"], pid);
  EXPECT_EQ(status["log_level"], "debug");
  EXPECT_EQ(status["roles"], nlohmann::json({"storage"}));

  // The realm is joined at start: a reload that changes it says so and keeps the running one.
  set_config("zone = \"\"", "zone = \"maya-1b\"");
  RunResult rezoned = root_.maya({"load"});
  ASSERT_EQ(rezoned.status, 0) << rezoned.err;
  EXPECT_NE(rezoned.err.find("warning: [host] zone changed; it takes effect after `maya unload`"),
            std::string::npos)
      << rezoned.err;

  // A broken config is reported with its location and changes nothing.
  std::string good = *read_file(root_.config());
  set_config("replicas = 1", "replicas = \"three\"");
  RunResult broken = root_.maya({"load"});
  EXPECT_EQ(broken.status, 1);
  EXPECT_TRUE(std::regex_search(broken.err, std::regex(root_.config().string() + R"(:\d+:\d+: )")))
      << broken.err;
  EXPECT_NE(broken.err.find("replicas"), std::string::npos) << broken.err;
  EXPECT_TRUE(alive(pid)) << "the daemon must survive a broken reload";

  // SIGHUP with the broken file: the daemon logs the error and keeps its config.
  ASSERT_EQ(::kill(pid, SIGHUP), 0);
  for (int i = 0; i < 250 && log().find("reload refused") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_NE(log().find("reload refused"), std::string::npos) << log();
  std::ofstream(root_.config(), std::ios::trunc) << good;
  status = root_.status();
  ASSERT_TRUE(status.is_object());
  EXPECT_EQ(status["pid"], pid);
  EXPECT_EQ(status["log_level"], "debug");

  RunResult unload = root_.maya({"unload"});
  ASSERT_EQ(unload.status, 0) << unload.err;
  EXPECT_NE(unload.out.find("stopped"), std::string::npos);
  EXPECT_TRUE(wait_gone(pid));
  EXPECT_FALSE(fs::exists(run_dir() / "maya.sock"));
  EXPECT_FALSE(fs::exists(run_dir() / "maya.pid"));
  EXPECT_EQ(root_.maya({"status"}).status, 3);
  EXPECT_EQ(root_.maya({"unload"}).status, 0) << "unloading twice is harmless";
}

TEST_F(Daemon, SecondDaemonForTheSameConfigIsRefused) {
  ASSERT_EQ(root_.maya({"load"}).status, 0);
  pid_t pid = root_.status()["pid"].get<pid_t>();
  RunResult second = root_.maya({"load", "--foreground"});
  EXPECT_EQ(second.status, 1);
  EXPECT_NE(second.err.find("already runs"), std::string::npos) << second.err;
  EXPECT_NE(second.err.find(std::to_string(pid)), std::string::npos) << second.err;
  EXPECT_EQ(root_.status()["pid"], pid);
  // The pidfile lock itself refuses a second holder, whatever the CLI does.
  auto lock = PidFile::acquire(run_dir() / "maya.pid");
  ASSERT_FALSE(lock.has_value());
  EXPECT_NE(lock.error().message.find("already runs"), std::string::npos);
}

TEST_F(Daemon, SigtermIsACleanShutdown) {
  ASSERT_EQ(root_.maya({"load"}).status, 0);
  pid_t pid = root_.status()["pid"].get<pid_t>();
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  ASSERT_TRUE(wait_gone(pid));
  EXPECT_FALSE(fs::exists(run_dir() / "maya.sock"));
  EXPECT_FALSE(fs::exists(run_dir() / "maya.pid"));
  EXPECT_NE(log().find("shutting down (SIGTERM)"), std::string::npos) << log();
}

TEST_F(Daemon, RestartsAfterKill9OverStaleFiles) {
  ASSERT_EQ(root_.maya({"load"}).status, 0);
  pid_t pid = root_.status()["pid"].get<pid_t>();
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_TRUE(wait_gone(pid));
  EXPECT_TRUE(fs::exists(run_dir() / "maya.sock")) << "kill -9 leaves the socket behind";
  EXPECT_EQ(root_.maya({"status"}).status, 3);
  RunResult again = root_.maya({"load"});
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_NE(root_.status()["pid"], pid);
}

TEST_F(Daemon, ForegroundStartFailureIsReported) {
  // A regular file where the control socket goes: the daemon must refuse, not delete it.
  fs::create_directories(run_dir());
  std::ofstream(run_dir() / "maya.sock") << "not a socket";
  RunResult load = root_.maya({"load"});
  EXPECT_EQ(load.status, 1);
  EXPECT_NE(load.err.find("is not a socket"), std::string::npos) << load.err;
  EXPECT_EQ(*read_file(run_dir() / "maya.sock"), "not a socket");
  EXPECT_FALSE(PidFile::holder(run_dir() / "maya.pid"));
}

}  // namespace
}  // namespace maya::testing
