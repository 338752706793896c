// Runs an external program from an argv (never through a shell), with its stdout and stderr
// captured together and a deadline after which the program and its children are killed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "lib/common/result.h"

namespace maya {

struct ExecResult {
  int exit_code = -1;   // the program's exit status, or -1 when a signal ended it
  int term_signal = 0;  // the signal that ended it, or 0 when it exited
  std::string output;   // stdout and stderr interleaved as written (at most 1 MiB kept)

  bool succeeded() const { return exit_code == 0; }
};

// Runs argv[0] (looked up in PATH, then /usr/sbin and /sbin, when it has no slash) with stdin
// on /dev/null. Fails when the program cannot be started or outlives `timeout`; a program that
// runs and exits non-zero is a success here, with exit_code telling how it ended.
Result<ExecResult> run_command(std::vector<std::string> argv, std::chrono::seconds timeout);

// Like run_command, but a non-zero exit is an error naming the program, its exit status and
// its output.
Result<ExecResult> run_command_checked(std::vector<std::string> argv, std::chrono::seconds timeout);

// Starts argv as a detached process: its own session, stdin on /dev/null, stdout and stderr
// appended to `log`, `inherit_fd` (if >= 0) as its fd 3, none of our other descriptors.
// Returns its pid once it has exec'd (the caller reaps it with waitpid); fails when it cannot
// be started.
Result<pid_t> spawn_detached(std::vector<std::string> argv, const std::filesystem::path& log,
                             int inherit_fd = -1);

// "exited with status 1", "was killed by SIGKILL": a waitpid status in words.
std::string describe_status(int status);

// "mkfs.ext4 -q -F /dev/loop3": the argv as one line, for messages and logs.
std::string describe_command(const std::vector<std::string>& argv);

}  // namespace maya
