#include "lib/daemon/launcher.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "lib/common/errno_text.h"
#include "lib/process/pidfile.h"

namespace maya::daemon {

using Clock = std::chrono::steady_clock;

Result<pid_t> launch_detached(const std::filesystem::path& exe, const config::Config& config,
                              std::chrono::seconds timeout) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    return fail(std::string("cannot create a pipe: ") + errno_text(errno));
  std::string ready_fd = std::to_string(fds[1]);
  std::vector<std::string> argv_text = {
      exe.string(),         "load",       "--foreground", "--config",
      config.file.string(), "--ready-fd", ready_fd,       "--log-to-file"};
  std::vector<char*> argv;
  for (auto& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);

  pid_t child = ::fork();
  if (child < 0) return fail(std::string("cannot fork: ") + errno_text(errno));
  if (child == 0) {
    // Child: new session, no terminal, only the ready pipe kept across exec.
    ::setsid();
    int null = ::open("/dev/null", O_RDWR);
    if (null >= 0) {
      ::dup2(null, STDIN_FILENO);
      ::dup2(null, STDOUT_FILENO);
      ::dup2(null, STDERR_FILENO);
    }
    ::fcntl(fds[1], F_SETFD, 0);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  ::close(fds[1]);

  std::string message;
  auto deadline = Clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      ::close(fds[0]);
      return fail("the daemon (pid " + std::to_string(child) + ") did not answer within " +
                  std::to_string(timeout.count()) + " s; see " + config.log_file().string());
    }
    pollfd p{fds[0], POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    char buf[512];
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    message.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  if (message.starts_with("ready")) return child;

  // It failed: reap it if it already exited so it does not linger as a zombie.
  int status = 0;
  ::waitpid(child, &status, WNOHANG);
  while (!message.empty() && message.back() == '\n') message.pop_back();
  if (message.starts_with("error: ")) return fail(message.substr(7));
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
    return fail("cannot run " + exe.string() + " to start the daemon");
  return fail("the daemon exited during start-up; see " + config.log_file().string());
}

bool wait_until_stopped(const config::Config& config, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (PidFile::holder(config.pidfile())) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace maya::daemon
