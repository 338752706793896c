// A locked pidfile: the lock (flock) says a daemon is alive, the content says which pid.
// The kernel drops the lock when the process dies, so a stale file never blocks a new daemon.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>

#include "lib/common/result.h"

namespace maya {

class PidFile {
 public:
  // Takes the lock and writes our pid; fails naming the pid that holds it ("`what` (pid N)
  // already runs with PATH").
  static Result<PidFile> acquire(const std::filesystem::path& path,
                                 const std::string& what = "a maya daemon");

  // Takes over a lock this process inherited across exec (`fd`, from keep_across_exec()).
  static Result<PidFile> adopt(const std::filesystem::path& path, int fd);

  // The pid of the live process holding the lock at `path`, if any (0 while it starts up).
  static std::optional<pid_t> holder(const std::filesystem::path& path);

  PidFile(PidFile&& other) noexcept;
  PidFile& operator=(PidFile&&) = delete;
  PidFile(const PidFile&) = delete;
  ~PidFile();

  // Removes the file and drops the lock (also done by the destructor).
  void release();
  // Keeps the lock held across an exec of this process: returns the descriptor (no longer
  // CLOEXEC) and forgets it, so the file is neither removed nor unlocked.
  int keep_across_exec();

 private:
  PidFile(std::filesystem::path path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::filesystem::path path_;
  int fd_ = -1;
};

}  // namespace maya
