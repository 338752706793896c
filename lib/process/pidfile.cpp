#include "lib/process/pidfile.h"
#include "lib/common/errno_text.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace maya {
namespace {

std::optional<pid_t> read_pid(int fd) {
  char buf[32] = {};
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return std::nullopt;
  char* end = nullptr;
  long pid = std::strtol(buf, &end, 10);
  if (pid <= 0 || end == buf) return std::nullopt;
  return static_cast<pid_t>(pid);
}

}  // namespace

Result<PidFile> PidFile::acquire(const std::filesystem::path& path, const std::string& what) {
  // holder() probes with a shared lock for a moment: retry briefly before calling it a holder.
  for (int attempt = 0;; ++attempt) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return fail_errno("cannot open pidfile " + path.string());
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      auto pid = read_pid(fd);
      ::close(fd);
      if (err == EWOULDBLOCK && attempt < 20) {
        ::usleep(10'000);
        continue;
      }
      if (err == EWOULDBLOCK) {
        return fail(what + (pid ? " (pid " + std::to_string(*pid) + ")" : std::string()) +
                    " already runs with " + path.string());
      }
      return fail_errno("cannot lock pidfile " + path.string(), err);
    }
    // The holder we waited for may have unlinked the file before we locked it: then we hold
    // a lock on a file nobody else will open. Start over on the current one.
    struct stat held {};
    struct stat now {};
    if (::fstat(fd, &held) != 0 || ::stat(path.c_str(), &now) != 0 || held.st_ino != now.st_ino ||
        held.st_dev != now.st_dev) {
      ::close(fd);
      if (attempt < 20) continue;
      return fail("pidfile " + path.string() + " keeps being replaced; cannot lock it");
    }
    std::string text = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, text.data(), text.size(), 0) < 0) {
      int err = errno;
      ::close(fd);
      return fail_errno("cannot write pidfile " + path.string(), err);
    }
    return PidFile(path, fd);
  }
}

std::optional<pid_t> PidFile::holder(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::optional<pid_t> pid;
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
    pid = read_pid(fd).value_or(0);  // 0: locked, pid not written yet
  } else {
    ::flock(fd, LOCK_UN);
  }
  ::close(fd);
  return pid;
}

PidFile::PidFile(PidFile&& other) noexcept : path_(std::move(other.path_)), fd_(other.fd_) {
  other.fd_ = -1;
}

PidFile::~PidFile() {
  release();
}

Result<PidFile> PidFile::adopt(const std::filesystem::path& path, int fd) {
  struct stat held {};
  struct stat now {};
  if (::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 || ::flock(fd, LOCK_EX | LOCK_NB) != 0 ||
      ::fstat(fd, &held) != 0 || ::stat(path.c_str(), &now) != 0 || held.st_ino != now.st_ino ||
      held.st_dev != now.st_dev) {
    if (fd >= 0) ::close(fd);
    return fail("the inherited pidfile lock is not " + path.string() + "'s");
  }
  std::string text = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, text.data(), text.size(), 0) < 0) {
    ::close(fd);
    return fail("cannot write pidfile " + path.string());
  }
  return PidFile(path, fd);
}

int PidFile::keep_across_exec() {
  int fd = fd_;
  fd_ = -1;
  if (fd >= 0) ::fcntl(fd, F_SETFD, 0);
  return fd;
}

void PidFile::release() {
  if (fd_ < 0) return;
  ::unlink(path_.c_str());
  ::close(fd_);
  fd_ = -1;
}

}  // namespace maya
