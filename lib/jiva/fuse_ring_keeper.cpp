#include "lib/jiva/fuse_ring_keeper.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "lib/common/errno_text.h"
#include "lib/common/log.h"
#include "lib/process/exec.h"

namespace maya::jiva {
namespace {

namespace fs = std::filesystem;

// The SQ thread sleeps after this long without submissions (then a submit wakes it).
constexpr unsigned kSqIdleMs = 2;
constexpr auto kStartBound = std::chrono::seconds(5);

// Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot. With the pid
// it names one process for good (pids are reused, not both).
std::uint64_t start_time(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::size_t close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));  // from field 3, the state
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i)
    if (i == 22) return std::stoull(field);
  return 0;
}

std::atomic_ref<std::uint32_t> state_of(KeeperRecord& r) {
  return std::atomic_ref<std::uint32_t>(r.state);
}

Result<KeptRings> take_rings(pid_t pid, const KeeperRecord& record, bool ours) {
  Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd.valid()) return fail_errno("the ring keeper (pid " + std::to_string(pid) + ")");
  KeptRings kept;
  kept.pid = pid;
  kept.ours = ours;
  for (unsigned i = 0; i < record.rings; ++i) {
    Fd fd(static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd.get(), record.fds[i], 0)));
    if (!fd.valid()) return fail_errno("cannot take ring " + std::to_string(i) + " of the keeper");
    kept.fds.push_back(std::move(fd));
  }
  return kept;
}

}  // namespace

int run_fuse_ring_keeper(const fs::path& ring_file, int fuse_fd) {
  ::prctl(PR_SET_NAME, "maya-fuse-ring");
  sigset_t none;  // the mask survives exec: the target's threads may block signals
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  Fd file(::open(ring_file.c_str(), O_RDWR | O_CLOEXEC));
  if (!file.valid()) {
    log::error("ring keeper: cannot open " + ring_file.string() + ": " + errno_text(errno));
    return 1;
  }
  KeeperRecord head{};
  if (::pread(file.get(), &head, sizeof head, KeeperRecord::kOffset) !=
          static_cast<ssize_t>(sizeof head) ||
      head.rings == 0 || head.rings > kMaxKeptRings || head.size == 0) {
    log::error("ring keeper: " + ring_file.string() + " names no rings to keep");
    return 1;
  }
  void* at = ::mmap(reinterpret_cast<void*>(head.base), head.size, PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_FIXED_NOREPLACE, file.get(), 0);
  auto* record =
      at == MAP_FAILED
          ? nullptr
          : reinterpret_cast<KeeperRecord*>(static_cast<std::uint8_t*>(at) + KeeperRecord::kOffset);
  auto failed = [&](const std::string& what, int err) {
    log::error("ring keeper: " + what + ": " + errno_text(err));
    if (record != nullptr) {
      record->error = err;
      state_of(*record).store(kKeeperFailed, std::memory_order_release);
    }
    return 1;
  };
  if (at == MAP_FAILED) return failed("cannot map " + ring_file.string(), errno);
  if (at != reinterpret_cast<void*>(head.base))
    return failed("cannot map " + ring_file.string() + " where the target did", EEXIST);
  int first = -1;
  for (unsigned i = 0; i < head.rings; ++i) {
    io_uring_params p{};
    p.flags = IORING_SETUP_SQE128 | IORING_SETUP_SQPOLL;
    p.sq_thread_idle = kSqIdleMs;
    if (first >= 0) {  // one SQ thread serves them all
      p.flags |= IORING_SETUP_ATTACH_WQ;
      p.wq_fd = static_cast<std::uint32_t>(first);
    }
    const int fd = static_cast<int>(::syscall(SYS_io_uring_setup, head.depth, &p));
    if (fd < 0) return failed("cannot set up an io_uring with a submission thread", errno);
    if (first < 0) {
      first = fd;
      record->params = p;
    }
    record->fds[i] = fd;
  }
  record->pid = static_cast<std::int32_t>(::getpid());
  record->start_time = start_time(::getpid());
  state_of(*record).store(kKeeperReady, std::memory_order_release);
  log::info("ring keeper: holding " + std::to_string(head.rings) + " io_urings of " +
            ring_file.string() + " until the FUSE connection ends");
  // POLLERR once the connection is gone (unmounted or aborted); requests never wake it (events
  // 0), the rings carry them.
  pollfd pfd{fuse_fd, 0, 0};
  while (true) {
    if (::poll(&pfd, 1, -1) < 0) {
      if (errno == EINTR) continue;
      return failed("cannot watch the FUSE connection", errno);
    }
    if ((pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) break;
  }
  log::info("ring keeper: the FUSE connection ended; its rings go");
  return 0;
}

Result<KeptRings> start_ring_keeper(const fs::path& ring_file, int fuse_fd, KeeperRecord& record) {
  if (record.rings == 0 || record.rings > kMaxKeptRings)
    return fail("a ring keeper holds 1 to " + std::to_string(kMaxKeptRings) + " rings, not " +
                std::to_string(record.rings));
  state_of(record).store(kKeeperStarting, std::memory_order_release);
  std::error_code ec;
  std::string self = fs::read_symlink("/proc/self/exe", ec).string();
  if (ec) return fail("cannot find this program: " + ec.message());
  if (const std::string gone = " (deleted)"; self.ends_with(gone))  // upgraded since it started
    self.resize(self.size() - gone.size());
  MAYA_TRY(pid,
           spawn_detached({self, "target", "keep-fuse-ring", "--ring-file", ring_file.string()},
                          "/proc/self/fd/2", fuse_fd));
  const auto deadline = std::chrono::steady_clock::now() + kStartBound;
  while (state_of(record).load(std::memory_order_acquire) == kKeeperStarting) {
    int status = 0;
    if (::waitpid(*pid, &status, WNOHANG) == *pid)
      return fail("the ring keeper " + describe_status(status));
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(*pid, SIGKILL);
      ::waitpid(*pid, &status, 0);
      return fail("the ring keeper did not start within 5 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (state_of(record).load() != kKeeperReady) {
    int status = 0;
    ::waitpid(*pid, &status, 0);
    return fail_errno("the ring keeper failed", record.error);
  }
  auto kept = take_rings(*pid, record, true);
  if (!kept) {
    ::kill(*pid, SIGKILL);
    int status = 0;
    ::waitpid(*pid, &status, 0);
  }
  return kept;
}

Result<KeptRings> attach_ring_keeper(const KeeperRecord& record) {
  if (record.state != kKeeperReady || record.pid <= 0 || record.rings == 0 ||
      record.rings > kMaxKeptRings)
    return fail("no ring keeper was recorded");
  const pid_t pid = record.pid;
  if (start_time(pid) != record.start_time)
    return fail("the ring keeper (pid " + std::to_string(pid) + ") is gone");
  return take_rings(pid, record, false);
}

void abandon_ring_keeper(const fs::path& ring_file) {
  Fd file(::open(ring_file.c_str(), O_RDONLY | O_CLOEXEC));
  KeeperRecord record{};
  if (!file.valid() || ::pread(file.get(), &record, sizeof record, KeeperRecord::kOffset) !=
                           static_cast<ssize_t>(sizeof record))
    return;
  if (record.state == kKeeperReady && record.pid > 0 &&
      start_time(record.pid) == record.start_time) {
    log::warn("fuse: ending the ring keeper (pid " + std::to_string(record.pid) +
              "): its buffers are being replaced");
    Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, record.pid, 0)));
    ::kill(record.pid, SIGKILL);
    // Gone before the file is replaced: its SQ thread writes into the mapping.
    pollfd exited{pidfd.get(), POLLIN, 0};
    if (pidfd.valid()) ::poll(&exited, 1, 2000);
  }
}

void end_ring_keeper(KeptRings& kept) {
  if (kept.pid <= 0 || !kept.ours) return;
  ::kill(kept.pid, SIGKILL);  // it holds nothing else
  int status = 0;
  while (::waitpid(kept.pid, &status, 0) < 0 && errno == EINTR) {
  }
  kept.pid = -1;
}

}  // namespace maya::jiva
