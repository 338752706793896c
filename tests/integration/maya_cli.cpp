#include "tests/integration/maya_cli.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "lib/process/pidfile.h"

namespace maya::testing {

namespace fs = std::filesystem;

RunResult run_maya(const std::vector<std::string>& args) {
  // MAYA_TEST_BINARY runs the tests against another build (e.g. main's, to see a test fail).
  const char* binary = std::getenv("MAYA_TEST_BINARY");
  return run_exe(binary != nullptr && *binary ? binary : MAYA_BINARY, args);
}

RunResult run_exe(const std::string& exe, const std::vector<std::string>& args) {
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) return {};
  std::vector<std::string> argv_text = {exe};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(err[1], STDERR_FILENO);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  RunResult result;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  int open_fds = 2;
  while (open_fds > 0 && std::chrono::steady_clock::now() < deadline) {
    if (::poll(fds, 2, 1000) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
      char buf[4096];
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
        continue;
      }
      (i == 0 ? result.out : result.err).append(buf, static_cast<std::size_t>(n));
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);
  if (open_fds > 0) ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

TempRoot::TempRoot() {
  char tmpl[] = "/tmp/maya-it-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) std::abort();
  root_ = tmpl;
}

TempRoot::~TempRoot() {
  // Stop a daemon a test left running (or one that ignores shutdown) and every volume target,
  // then remove everything.
  fs::path pidfile = root_ / "run/maya/maya.pid";
  if (PidFile::holder(pidfile)) {
    maya({"unload", "--stop-targets"});
    if (auto still = PidFile::holder(pidfile); still && *still > 0) ::kill(*still, SIGKILL);
  }
  std::error_code ec;
  for (auto it = fs::directory_iterator(root_ / "run/maya/targets", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (auto target = PidFile::holder(it->path()); target && *target > 0) ::kill(*target, SIGKILL);
  }
  fs::remove_all(root_, ec);
}

RunResult TempRoot::init() const {
  RunResult r = run_maya({"init", "--root", root_.string()});
  if (r.status != 0) return r;
  std::ifstream in(config());
  std::stringstream text;
  text << in.rdbuf();
  std::string conf = text.str();
  // Every `key = ` line ([api] and [metrics] both have `listen`).
  auto set = [&](const std::string& key, const std::string& value) {
    for (auto at = conf.find("\n" + key + " = "); at != std::string::npos;
         at = conf.find("\n" + key + " = ", at + 1)) {
      auto end = conf.find('\n', at + 1);
      conf.replace(at + 1, end - at - 1, key + " = " + value);
    }
  };
  const unsigned first = 20000 + static_cast<unsigned>(::getpid() % 500) * 40;
  set("discovery_port", "0");
  set("listen", "\"127.0.0.1:0\"");  // [api], [metrics] listen: never the system's 5656, 9500
  set("target_ports", "\"" + std::to_string(first) + "-" + std::to_string(first + 39) + "\"");
  std::ofstream(config(), std::ios::trunc) << conf;
  return r;
}

RunResult TempRoot::maya(std::vector<std::string> args) const {
  args.insert(args.begin(), {"--config", config().string()});
  return run_maya(args);
}

nlohmann::json TempRoot::status() const {
  RunResult r = maya({"status", "-o", "json"});
  if (r.status != 0) return nullptr;
  return nlohmann::json::parse(r.out, nullptr, false);
}

}  // namespace maya::testing
