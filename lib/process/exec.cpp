#include "lib/process/exec.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <thread>

#include "lib/common/errno_text.h"
#include "lib/common/fd.h"

extern char** environ;

namespace maya {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxOutput = 1 << 20;
constexpr std::size_t kMaxOutputInMessage = 600;

// Moves a descriptor above stdin/stdout/stderr so the child's dup2 calls cannot clobber it
// (a daemon that closed its standard streams gets descriptors 0..2 from pipe2 and open).
// Moves `fd` to a number >= `floor` (stdio, and fd 3 when it is handed to a child).
int lift_above_stdio(int fd, int floor = 3) {
  if (fd < 0 || fd >= floor) return fd;
  int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, floor);
  ::close(fd);
  return moved;
}

bool is_executable_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// The program to execve: a name with a slash as is, otherwise the first match in PATH. The
// sbin directories are searched last because daemons started by non-root shells often lack
// them, and the tools we run (mkfs.*, mkswap) live there.
std::optional<std::string> find_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* env = std::getenv("PATH");
  std::string search = (env != nullptr && *env != '\0') ? env : "/usr/local/bin:/usr/bin:/bin";
  search += ":/usr/local/sbin:/usr/sbin:/sbin";
  std::size_t start = 0;
  while (start <= search.size()) {
    std::size_t end = search.find(':', start);
    if (end == std::string::npos) end = search.size();
    std::string dir = search.substr(start, end - start);
    if (!dir.empty()) {
      std::string candidate = dir + "/" + name;
      if (is_executable_file(candidate)) return candidate;
    }
    start = end + 1;
  }
  return std::nullopt;
}

// Runs in the forked child: only async-signal-safe calls until execve.
// A new process group (killable as a whole), or a new session (detached: the caller's group
// and terminal signals never reach it).
[[noreturn]] void exec_child(const char* program, char* const* args, int devnull, int out,
                             int report, bool new_session = false, int inherit = -1) {
  if (new_session) {
    ::setsid();
  } else {
    ::setpgid(0, 0);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);
  if (::dup2(devnull, STDIN_FILENO) < 0 || ::dup2(out, STDOUT_FILENO) < 0 ||
      ::dup2(out, STDERR_FILENO) < 0) {
    int err = errno;
    [[maybe_unused]] ssize_t n = ::write(report, &err, sizeof err);
    ::_exit(127);
  }
  // `inherit` becomes fd 3 (the others were moved above it by the caller).
  if (inherit >= 0 && (::dup2(inherit, 3) < 0 || ::fcntl(3, F_SETFD, 0) != 0)) {
    int err = errno;
    [[maybe_unused]] ssize_t n = ::write(report, &err, sizeof err);
    ::_exit(127);
  }
  // Keep the caller's other descriptors (sockets, locks) out of the program (kernel >= 5.11;
  // without it, only the caller's O_CLOEXEC discipline protects them).
  ::close_range(inherit >= 0 ? 4 : 3, ~0U, CLOSE_RANGE_CLOEXEC);
  ::execve(program, args, environ);
  int err = errno;
  [[maybe_unused]] ssize_t n = ::write(report, &err, sizeof err);
  ::_exit(127);
}

void append_output(std::string& output, const char* data, std::size_t size, bool& truncated) {
  std::size_t room = kMaxOutput - std::min(kMaxOutput, output.size());
  output.append(data, std::min(room, size));
  if (size > room) truncated = true;
}

// Reads what the pipe holds now; returns false at end of file.
bool drain(int fd, std::string& output, bool& truncated) {
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      append_output(output, buf, static_cast<std::size_t>(n), truncated);
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    return true;  // EAGAIN: nothing more for now
  }
}

// The output on one line, runs of white space squeezed, its middle cut out when long (tools
// print the error first or last; usage text and progress sit in between).
std::string one_line(std::string_view text) {
  std::string line;
  for (char c : text) {
    bool space = c == ' ' || c == '\n' || c == '\r' || c == '\t';
    if (!space) {
      line += c;
    } else if (!line.empty() && line.back() != ' ') {
      line += ' ';
    }
  }
  if (!line.empty() && line.back() == ' ') line.pop_back();
  if (line.size() > kMaxOutputInMessage) {
    const std::size_t half = kMaxOutputInMessage / 2;
    line = line.substr(0, half) + " [...] " + line.substr(line.size() - half);
  }
  return line;
}

// Waits for the report pipe: it closes on a successful execve (O_CLOEXEC) or carries the
// exec errno, which is returned.
int exec_error(int report_read) {
  int exec_errno = 0;
  ssize_t got;
  do {
    got = ::read(report_read, &exec_errno, sizeof exec_errno);
  } while (got < 0 && errno == EINTR);
  return got == static_cast<ssize_t>(sizeof exec_errno) ? exec_errno : 0;
}

std::string signal_name(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

// The program argv[0] names (see find_program), or why it cannot be run.
Result<std::string> program_of(const std::vector<std::string>& argv, const std::string& what) {
  if (argv.empty() || argv[0].empty()) return fail("cannot run a command with an empty argv");
  auto program = find_program(argv[0]);
  if (!program)
    return fail("cannot run " + what + ": " + argv[0] + " is not installed (not in PATH)");
  return *program;
}

// argv as execve takes it: pointers to the strings, then a null.
std::vector<char*> exec_args(std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (auto& arg : argv) args.push_back(arg.data());
  args.push_back(nullptr);
  return args;
}

void reap(pid_t pid, int& status) {
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

// What a run_command child is given: a pipe for its output, a pipe that reports a failed
// execve, and /dev/null as stdin; all above stdio.
struct ChildPipes {
  Fd out_read, out_write, report_read, report_write, devnull;
};

Result<ChildPipes> open_child_pipes(const std::string& what) {
  ChildPipes p;
  int raw_out[2];
  int raw_report[2];
  if (::pipe2(raw_out, O_CLOEXEC) != 0) return fail_errno("cannot run " + what);
  p.out_read = Fd(lift_above_stdio(raw_out[0]));
  p.out_write = Fd(lift_above_stdio(raw_out[1]));
  if (::pipe2(raw_report, O_CLOEXEC) != 0) return fail_errno("cannot run " + what);
  p.report_read = Fd(lift_above_stdio(raw_report[0]));
  p.report_write = Fd(lift_above_stdio(raw_report[1]));
  p.devnull = Fd(lift_above_stdio(::open("/dev/null", O_RDONLY | O_CLOEXEC)));
  if (p.out_read.get() < 0 || p.out_write.get() < 0 || p.report_read.get() < 0 ||
      p.report_write.get() < 0 || p.devnull.get() < 0) {
    return fail_errno("cannot run " + what);
  }
  return p;
}

// Forks and execs `program` in its own process group; returns its pid once it runs. Leaves
// only the read end of the output pipe open here.
Result<pid_t> start_child(const std::string& program, std::vector<std::string>& argv,
                          ChildPipes& pipes, const std::string& what) {
  std::vector<char*> args = exec_args(argv);
  pid_t pid = ::fork();
  if (pid < 0) return fail("cannot run " + what + ": fork failed: " + errno_text(errno));
  if (pid == 0)
    exec_child(program.c_str(), args.data(), pipes.devnull.get(), pipes.out_write.get(),
               pipes.report_write.get());
  pipes.out_write.reset();
  pipes.report_write.reset();
  pipes.devnull.reset();
  if (int exec_errno = exec_error(pipes.report_read.get()); exec_errno != 0) {
    int status = 0;
    reap(pid, status);
    return fail_errno("cannot run " + what, exec_errno);
  }
  return pid;
}

// Kills the child and its group after its deadline; the error shows what it printed.
std::unexpected<Error> kill_late_child(pid_t pid, const std::string& what,
                                       std::chrono::seconds timeout, const std::string& output) {
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);
  int status = 0;
  reap(pid, status);
  std::string message =
      what + " did not finish within " + std::to_string(timeout.count()) + " s and was killed";
  std::string shown = one_line(output);
  if (!shown.empty()) message += "; its output: " + shown;
  return fail(message);
}

// Collects the child's output (at most kMaxOutput bytes, then a note) until it exits; returns
// its waitpid status. Kills it when `timeout` (counted from `deadline`) passes.
Result<int> collect_until_exit(pid_t pid, int out_read, Clock::time_point deadline,
                               std::chrono::seconds timeout, const std::string& what,
                               std::string& output) {
  ::fcntl(out_read, F_SETFL, O_NONBLOCK);
  bool truncated = false;
  bool open = true;
  int status = 0;
  for (bool reaped = false; !reaped;) {
    auto now = Clock::now();
    if (now >= deadline) return kill_late_child(pid, what, timeout, output);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
    if (open) {
      // Wake up now and then to notice a child that exited while a grandchild holds the pipe.
      pollfd pfd{out_read, POLLIN, 0};
      int ready = ::poll(&pfd, 1, static_cast<int>(std::min<long long>(left, 50)));
      if (ready < 0 && errno != EINTR) return kill_late_child(pid, what, timeout, output);
      if (ready > 0) open = drain(out_read, output, truncated);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min<long long>(left, 10)));
    }
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) {
      reaped = true;
    } else if (done < 0 && errno != EINTR) {
      int err = errno;
      ::kill(-pid, SIGKILL);
      return fail_errno("cannot get the exit status of " + what, err);
    }
  }
  if (open) drain(out_read, output, truncated);
  if (truncated) output += "\n[output truncated]\n";
  return status;
}

}  // namespace

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by " + signal_name(WTERMSIG(status));
  return "stopped";
}

Result<pid_t> spawn_detached(std::vector<std::string> argv, const std::filesystem::path& log,
                             int inherit_fd) {
  const std::string what = describe_command(argv);
  MAYA_TRY(program, program_of(argv, what));
  int raw_report[2];
  if (::pipe2(raw_report, O_CLOEXEC) != 0) return fail_errno("cannot run " + what);
  // Everything the child uses sits above fd 3, which may receive `inherit_fd`.
  Fd report_read(lift_above_stdio(raw_report[0], 4));
  Fd report_write(lift_above_stdio(raw_report[1], 4));
  Fd devnull(lift_above_stdio(::open("/dev/null", O_RDONLY | O_CLOEXEC), 4));
  Fd out(lift_above_stdio(::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640), 4));
  Fd inherit(inherit_fd >= 0 ? ::fcntl(inherit_fd, F_DUPFD_CLOEXEC, 4) : -1);
  if (out.get() < 0) return fail_errno("cannot open " + log.string());
  if (report_read.get() < 0 || report_write.get() < 0 || devnull.get() < 0 ||
      (inherit_fd >= 0 && inherit.get() < 0))
    return fail_errno("cannot run " + what);
  std::vector<char*> args = exec_args(argv);
  pid_t pid = ::fork();
  if (pid < 0) return fail("cannot run " + what + ": fork failed: " + errno_text(errno));
  if (pid == 0)
    exec_child(program->c_str(), args.data(), devnull.get(), out.get(), report_write.get(), true,
               inherit.get());
  report_write.reset();
  if (int exec_errno = exec_error(report_read.get()); exec_errno != 0) {
    int status = 0;
    reap(pid, status);
    return fail_errno("cannot run " + what, exec_errno);
  }
  return pid;
}

std::string describe_command(const std::vector<std::string>& argv) {
  std::string line;
  for (const auto& arg : argv) {
    if (!line.empty()) line += ' ';
    line += arg;
  }
  return line;
}

Result<ExecResult> run_command(std::vector<std::string> argv, std::chrono::seconds timeout) {
  const std::string what = describe_command(argv);
  MAYA_TRY(program, program_of(argv, what));
  MAYA_TRY(pipes, open_child_pipes(what));
  const auto deadline = Clock::now() + timeout;
  MAYA_TRY(pid, start_child(*program, argv, *pipes, what));
  ExecResult result;
  MAYA_TRY(status,
           collect_until_exit(*pid, pipes->out_read.get(), deadline, timeout, what, result.output));
  if (WIFEXITED(*status)) {
    result.exit_code = WEXITSTATUS(*status);
  } else if (WIFSIGNALED(*status)) {
    result.term_signal = WTERMSIG(*status);
  }
  return result;
}

Result<ExecResult> run_command_checked(std::vector<std::string> argv,
                                       std::chrono::seconds timeout) {
  std::string what = describe_command(argv);
  MAYA_TRY(result, run_command(std::move(argv), timeout));
  if (result->succeeded()) return result;
  std::string message = what;
  if (result->term_signal != 0) {
    message += " was killed by " + signal_name(result->term_signal);
  } else {
    message += " failed with exit status " + std::to_string(result->exit_code);
  }
  std::string shown = one_line(result->output);
  message += shown.empty() ? " and printed nothing" : ": " + shown;
  return fail(message);
}

}  // namespace maya
