// Starts a detached daemon: fork, setsid, exec `maya load --foreground`, and wait on a pipe
// until the daemon says it serves (or why it could not start).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>

#include "lib/common/result.h"
#include "lib/config/config.h"

namespace maya::daemon {

// `exe` is the maya binary to run; returns the daemon's pid once it answers.
Result<pid_t> launch_detached(const std::filesystem::path& exe, const config::Config& config,
                              std::chrono::seconds timeout);

// Waits until no process holds the pidfile lock; false on timeout.
bool wait_until_stopped(const config::Config& config, std::chrono::milliseconds timeout);

}  // namespace maya::daemon
