// Docker never meets a closed plugin socket while maya is installed: a restart or upgrade
// (`maya load --restart`) hands the listening sockets to the new image, a daemon adopts the
// sockets systemd passes (LISTEN_FDS), `maya unload` warns about the volumes Docker holds,
// and with the daemon down every command says so with exit status 3.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>

#include "lib/common/files.h"
#include "lib/http/client.h"
#include "tests/integration/maya_cli.h"

namespace maya::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

// One Plugin.Activate on a fresh connection, as Docker makes them. The answer may take a while
// (it waits in the backlog during a handover), so the read bound is generous.
struct Attempt {
  int connect_errno = 0;  // 0: connected
  bool answered = false;
};

Attempt activate_once(const fs::path& socket_path) {
  Attempt a;
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    a.connect_errno = errno;
    ::close(fd);
    return a;
  }
  const std::string request =
      "POST /Plugin.Activate HTTP/1.1\r\nHost: maya\r\nContent-Length: 0\r\n"
      "Connection: close\r\n\r\n";
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
      static_cast<ssize_t>(request.size())) {
    std::string answer;
    auto deadline = Clock::now() + std::chrono::seconds(30);
    while (Clock::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 1000) <= 0) continue;
      char buf[4096];
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) break;
      answer.append(buf, static_cast<std::size_t>(n));
    }
    a.answered = answer.find("\"Implements\"") != std::string::npos;
  }
  ::close(fd);
  return a;
}

class Handover : public ::testing::Test {
 protected:
  void SetUp() override {
    RunResult init = root_.init();
    ASSERT_EQ(init.status, 0) << init.err;
  }
  fs::path plugin_socket() const { return root_.path() / "run/docker/plugins/maya.sock"; }
  std::string log() const { return read_file(root_.path() / "var/lib/maya/maya.log").value_or(""); }
  json wait_status(int seconds = 30) const {
    auto deadline = Clock::now() + std::chrono::seconds(seconds);
    json s = root_.status();
    while (!s.is_object() && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      s = root_.status();
    }
    return s;
  }

  TempRoot root_;
};

TEST_F(Handover, RestartAndUpgradeNeverRefuseAPluginClient) {
  ASSERT_EQ(root_.maya({"load"}).status, 0);
  json before = root_.status();
  ASSERT_TRUE(before.is_object());

  // An upgrade installs another binary: a copy of maya at a path of its own.
  fs::path upgraded = root_.path() / "maya-upgraded";
  fs::copy_file(MAYA_BINARY, upgraded);
  fs::permissions(upgraded, fs::perms::owner_all);

  std::atomic<bool> stop{false};
  std::atomic<int> attempts{0}, answered{0}, refused{0}, other{0};
  std::atomic<long> slowest_ms{0};  // the longest a request waited (in a backlog, mostly)
  std::thread client([&] {
    // Bounded in count and time; it runs until the restarts are over.
    auto deadline = Clock::now() + std::chrono::seconds(120);
    for (int i = 0; i < 200000 && !stop && Clock::now() < deadline; ++i) {
      auto t0 = Clock::now();
      Attempt a = activate_once(plugin_socket());
      long ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
      if (ms > slowest_ms) slowest_ms = ms;
      ++attempts;
      if (a.connect_errno == ECONNREFUSED || a.connect_errno == ENOENT)
        ++refused;
      else if (a.connect_errno != 0 || !a.answered)
        ++other;
      else
        ++answered;
    }
  });
  // Waits (bounded) until the client has `n` answers.
  auto wait_answers = [&](int n) {
    auto until = Clock::now() + std::chrono::seconds(60);
    while (answered < n && Clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  };
  wait_answers(5);

  std::vector<std::string> instances = {before["instance"].get<std::string>()};
  for (const std::string& exe : {upgraded.string(), std::string(MAYA_BINARY), upgraded.string()}) {
    RunResult restart = run_exe(exe, {"--config", root_.config().string(), "load", "--restart"});
    ASSERT_EQ(restart.status, 0) << restart.err;
    EXPECT_NE(restart.out.find("its sockets stayed open"), std::string::npos) << restart.out;
    json now = root_.status();
    ASSERT_TRUE(now.is_object());
    EXPECT_EQ(now["binary"], exe) << "the daemon runs the binary that asked for the restart";
    for (const auto& seen : instances) EXPECT_NE(now["instance"], seen) << "a new image serves";
    instances.push_back(now["instance"].get<std::string>());
    // The same process: systemd's MAINPID, the volume targets' parent and the pidfile stay.
    EXPECT_EQ(now["pid"], before["pid"]);
    EXPECT_EQ(now["plugin_socket_held_by"], "maya");
    wait_answers(answered + 5);
  }
  stop = true;
  client.join();

  std::printf(
      "plugin requests during 3 handovers: %d, answered %d, refused %d, other %d, slowest %ld "
      "ms\n",
      attempts.load(), answered.load(), refused.load(), other.load(), slowest_ms.load());
  EXPECT_EQ(refused, 0) << "a client met a closed or missing plugin socket";
  EXPECT_EQ(other, 0) << "a client got no answer";
  EXPECT_GE(answered, 20);
  EXPECT_NE(log().find("serving the inherited plugin socket"), std::string::npos) << log();

  // The new image serves the control API and the plugin protocol.
  RunResult created =
      root_.maya({"volume", "create", "after", "--size", "16MiB", "--driver", "local"});
  EXPECT_EQ(created.status, 0) << created.err;
  auto listed = http::request(plugin_socket(), {"POST", "/VolumeDriver.List", "{}"});
  ASSERT_TRUE(listed.has_value()) << listed.error().message;
  EXPECT_NE(listed->body.find("\"after\""), std::string::npos) << listed->body;

  // A clean unload after handovers still removes the sockets maya made.
  RunResult unload = root_.maya({"unload"});
  ASSERT_EQ(unload.status, 0) << unload.err;
  EXPECT_FALSE(fs::exists(plugin_socket()));
  EXPECT_FALSE(fs::exists(root_.path() / "run/maya/maya.sock"));
}

TEST_F(Handover, RestartWithoutADaemonStartsOne) {
  RunResult load = root_.maya({"load", "--restart"});
  ASSERT_EQ(load.status, 0) << load.err;
  EXPECT_TRUE(root_.status().is_object());
}

// What systemd does for maya-plugin.socket: bind and listen, then start the service with the socket
// as fd 3 and LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES set.
TEST_F(Handover, AdoptsThePluginSocketPassedWithListenFds) {
  fs::create_directories(plugin_socket().parent_path());
  int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, plugin_socket().c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::chmod(plugin_socket().c_str(), 0660), 0);
  ASSERT_EQ(::listen(listener, 128), 0);
  struct stat bound {};
  ASSERT_EQ(::stat(plugin_socket().c_str(), &bound), 0);
  const ino_t inode = bound.st_ino;

  fs::path fg_log = root_.path() / "foreground.log";
  pid_t child = ::fork();
  if (child == 0) {
    ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
    ::setenv("LISTEN_FDS", "1", 1);
    ::setenv("LISTEN_FDNAMES", "plugin", 1);
    if (listener == 3)
      ::fcntl(3, F_SETFD, 0);
    else
      ::dup2(listener, 3);  // dup2 clears CLOEXEC on fd 3
    int out = ::open(fg_log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, STDERR_FILENO);
    ::execl(MAYA_BINARY, MAYA_BINARY, "--config", root_.config().c_str(), "load", "--foreground",
            static_cast<char*>(nullptr));
    _exit(127);
  }
  ASSERT_GT(child, 0);
  json status = wait_status();
  ASSERT_TRUE(status.is_object()) << read_file(fg_log).value_or("");
  EXPECT_EQ(status["pid"], child);
  EXPECT_EQ(status["plugin_socket_held_by"], "service manager");
  Attempt a = activate_once(plugin_socket());
  EXPECT_EQ(a.connect_errno, 0);
  EXPECT_TRUE(a.answered);
  std::string text = read_file(fg_log).value_or("");
  EXPECT_NE(text.find("serving the inherited plugin socket " + plugin_socket().string() +
                      " (held by the service manager)"),
            std::string::npos)
      << text;
  struct stat st {};
  ASSERT_EQ(::stat(plugin_socket().c_str(), &st), 0);
  EXPECT_EQ(st.st_ino, inode) << "the daemon served the passed socket, it did not bind anew";
  EXPECT_EQ(st.st_mode & 0777, 0660u);

  // The daemon stops; the socket is the service manager's: it stays, and still accepts.
  ASSERT_EQ(root_.maya({"unload"}).status, 0);
  int wstatus = 0;
  ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
  EXPECT_TRUE(fs::exists(plugin_socket())) << "systemd's socket must not be removed";
  int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_EQ(::connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0)
      << std::strerror(errno);
  ::close(probe);
  ::close(listener);
  ::unlink(plugin_socket().c_str());
}

// systemd's own tool for socket activation, where Debian's systemd package installed it: the
// first connection starts the daemon, which serves it on the passed socket.
TEST_F(Handover, SocketActivationWithSystemdSocketActivate) {
  const char* tool = "/usr/bin/systemd-socket-activate";
  if (::access(tool, X_OK) != 0) GTEST_SKIP() << "SKIP: " << tool << " is not installed";
  fs::create_directories(plugin_socket().parent_path());
  fs::path fg_log = root_.path() / "activated.log";
  pid_t child = ::fork();
  if (child == 0) {
    int out = ::open(fg_log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, STDERR_FILENO);
    std::string listen = "--listen=" + plugin_socket().string();
    ::execl(tool, tool, listen.c_str(), "--fdname=plugin", MAYA_BINARY, "--config",
            root_.config().c_str(), "load", "--foreground", static_cast<char*>(nullptr));
    _exit(127);
  }
  ASSERT_GT(child, 0);
  // However the test ends, the tool (which waits for a connection forever) goes.
  std::unique_ptr<pid_t, void (*)(pid_t*)> reap(&child, [](pid_t* pid) {
    if (::waitpid(*pid, nullptr, WNOHANG) == 0) {
      ::kill(*pid, SIGKILL);
      ::waitpid(*pid, nullptr, 0);
    }
  });
  for (int i = 0; i < 600 && !fs::exists(plugin_socket()); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(fs::exists(plugin_socket()));
  EXPECT_FALSE(root_.status().is_object()) << "nothing runs before the first connection";
  Attempt a = activate_once(plugin_socket());  // starts maya, which answers it
  EXPECT_EQ(a.connect_errno, 0);
  EXPECT_TRUE(a.answered) << read_file(fg_log).value_or("");
  json status = wait_status();
  ASSERT_TRUE(status.is_object());
  EXPECT_EQ(status["pid"], child) << "the tool execs the service in its own process";
  EXPECT_NE(read_file(fg_log).value_or("").find("serving the inherited plugin socket"),
            std::string::npos);
  ASSERT_EQ(root_.maya({"unload"}).status, 0);
  ::unlink(plugin_socket().c_str());
}

TEST_F(Handover, EveryDaemonCommandSaysTheDaemonIsDownWithExit3) {
  const std::vector<std::vector<std::string>> commands = {
      {"volume", "list"},
      {"volume", "inspect", "v"},
      {"volume", "create", "v", "--size", "16MiB"},
      {"volume", "delete", "v"},
      {"-o", "json", "volume", "list"},
  };
  for (const auto& args : commands) {
    RunResult r = root_.maya(args);
    EXPECT_EQ(r.status, 3) << args[1] << ": " << r.err;
    EXPECT_NE(r.err.find("maya daemon is not running (start it with: maya --config " +
                         root_.config().string() + " load)"),
              std::string::npos)
        << r.err;
  }
}

TEST_F(Handover, UnloadNamesTheVolumesDockerHolds) {
  if (::geteuid() != 0) GTEST_SKIP() << "SKIP: mounting a volume needs root (loop devices)";
  if (::access("/dev/loop-control", R_OK | W_OK) != 0)
    GTEST_SKIP() << "SKIP: /dev/loop-control is not available";
  ASSERT_EQ(root_.maya({"load"}).status, 0);
  auto call = [&](const std::string& what, const json& body) {
    auto r = http::request(plugin_socket(), {"POST", "/VolumeDriver." + what, body.dump()});
    return r ? json::parse(r->body, nullptr, false) : json{{"Err", r.error().message}};
  };
  for (const char* name : {"held", "idle"}) {
    json created =
        call("Create", {{"Name", name}, {"Opts", {{"size", "64MiB"}, {"driver", "local"}}}});
    ASSERT_EQ(created.value("Err", ""), "") << created;
  }
  json mounted = call("Mount", {{"Name", "held"}, {"ID", "container1"}});
  ASSERT_EQ(mounted.value("Err", ""), "") << mounted;

  RunResult unload = root_.maya({"unload"});
  EXPECT_EQ(unload.status, 0) << unload.err;
  EXPECT_NE(unload.err.find("warning: Docker holds maya volumes: held."), std::string::npos)
      << unload.err;
  EXPECT_EQ(unload.err.find("idle"), std::string::npos) << unload.err;
  EXPECT_NE(unload.err.find("retries for about 15 s"), std::string::npos) << unload.err;
  EXPECT_NE(unload.err.find("empty local volume"), std::string::npos) << unload.err;
  EXPECT_NE(unload.err.find("maya load --restart"), std::string::npos) << unload.err;

  // Clean up through the plugin, as Docker would once maya is back.
  ASSERT_EQ(root_.maya({"load"}).status, 0);
  EXPECT_EQ(call("Unmount", {{"Name", "held"}, {"ID", "container1"}}).value("Err", ""), "");
  for (const char* name : {"held", "idle"}) call("Remove", {{"Name", name}});
  RunResult quiet = root_.maya({"unload"});
  EXPECT_EQ(quiet.err.find("Docker holds"), std::string::npos) << quiet.err;
}

}  // namespace
}  // namespace maya::testing
