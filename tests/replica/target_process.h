// A real `maya target serve` (MAYA_BINARY) on a file, for the iscsi:// child's tests: started on
// 127.0.0.1 (a free port, or a given one), killed or stopped at will.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace maya::replica::iscsi_test {

class TargetProcess {
 public:
  TargetProcess() = default;
  ~TargetProcess() { kill(SIGKILL); }
  TargetProcess(const TargetProcess&) = delete;
  TargetProcess& operator=(const TargetProcess&) = delete;

  // Starts serving `backing` (created sparse, of `size` bytes) as `iqn` with CHAP; `port` 0
  // picks a free one. Returns an empty string, or why it did not start.
  std::string start(const std::string& backing, std::uint64_t size, const std::string& iqn,
                    const std::string& user, const std::string& secret, int port = 0) {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return "pipe failed";
    std::vector<std::string> args = {MAYA_BINARY,
                                     "target",
                                     "serve",
                                     "--backing",
                                     backing,
                                     "--size",
                                     std::to_string(size),
                                     "--iqn",
                                     iqn,
                                     "--listen",
                                     "127.0.0.1:" + std::to_string(port),
                                     "--chap-user",
                                     user,
                                     "--chap-secret",
                                     secret};
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    // The first line: "serving IQN on 127.0.0.1:PORT (LUN 0: …)".
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{out[0], POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
      char buf[256];
      const ssize_t n = ::read(out[0], buf, sizeof buf);
      if (n <= 0) break;
      line.append(buf, static_cast<std::size_t>(n));
    }
    out_ = out[0];  // kept open: a write to a closed pipe would kill the target (SIGPIPE)
    const auto at = line.find(" on 127.0.0.1:");
    if (at == std::string::npos) {
      kill(SIGKILL);
      return "maya target serve did not start: \"" + line + "\"";
    }
    port_ = std::stoi(line.substr(at + 14));
    return "";
  }

  // Sends `sig`; SIGKILL also reaps the process, SIGSTOP returns once all of it stopped (a
  // signal is delivered later than kill() returns: a command could still be answered).
  void kill(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    if (sig == SIGSTOP) {
      int status = 0;
      ::waitpid(pid_, &status, WUNTRACED);
    }
    if (sig == SIGKILL) {
      ::kill(pid_, SIGCONT);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
      if (out_ >= 0) ::close(out_);
      out_ = -1;
    }
  }

  int port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  int out_ = -1;
};

}  // namespace maya::replica::iscsi_test
