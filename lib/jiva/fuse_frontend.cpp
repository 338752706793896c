#include "lib/jiva/fuse_frontend.h"

#include <fcntl.h>
#include <linux/fuse.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <thread>

#include "lib/common/errno_text.h"
#include "lib/common/files.h"
#include "lib/common/log.h"
#include "lib/jiva/fuse_requests.h"
#include "lib/jiva/fuse_uring.h"

namespace maya::jiva {
namespace {

namespace fs = std::filesystem;

using fuse::kMaxWrite;
constexpr std::size_t kBufferSize = kMaxWrite + 64 * 1024;  // a WRITE's header and data fit
constexpr unsigned kWorkers = 4;
// "1" in the target's environment (the daemon's, passed on): FUSE over io_uring when the kernel
// offers it, whatever --fuse-transport says (tests/fuse_uring.sh).
constexpr const char* kIoUringVariable = "MAYA_FUSE_IO_URING";
// FUSE_NOTIFY_RESEND (protocol 7.40, Linux 6.9): newer than this system's linux/fuse.h.
constexpr int kNotifyResend = 7;

// A request queued on a ring queue while no entry was registered is fetched only by a commit on
// that queue (fuse_uring_do_register does not look at the queue): one STATFS from each CPU (the
// kernel queues a request on its sender's CPU) makes every queue commit once.
void kick_queues(const fs::path& mountpoint) {
  std::thread([mountpoint] {
    cpu_set_t online;
    CPU_ZERO(&online);
    if (::sched_getaffinity(0, sizeof online, &online) != 0) return;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (!CPU_ISSET(cpu, &online)) continue;
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(cpu, &one);
      if (::sched_setaffinity(0, sizeof one, &one) != 0) continue;
      struct statfs st {};
      ::statfs(mountpoint.c_str(), &st);
    }
  }).detach();
}

}  // namespace

FuseFrontend::FuseFrontend(Fd fuse, fs::path mountpoint, block::BlockBackend& backend)
    : fuse_(std::move(fuse)), mountpoint_(std::move(mountpoint)), backend_(backend) {}

Result<std::unique_ptr<FuseFrontend>> FuseFrontend::mount(const fs::path& mountpoint,
                                                          block::BlockBackend& backend,
                                                          const std::string& volume,
                                                          bool io_uring) {
  MAYA_TRY_VOID(make_dirs(mountpoint, 0700));
  Fd opened(::open("/dev/fuse", O_RDWR | O_CLOEXEC | O_NONBLOCK));
  if (opened.get() < 0)
    return fail(std::string("cannot open /dev/fuse: ") + errno_text(errno) +
                " (is the fuse module loaded?)");
  std::unique_ptr<FuseFrontend> f(new FuseFrontend(std::move(opened), mountpoint, backend));
  const int fuse = f->fuse_.get();
  // A ring file left by an earlier connection of this mountpoint (its target died, then the
  // volume was detached) must never be taken for this one's: resume() would replay what it held.
  std::error_code ignored;
  fs::remove(FuseUring::ring_file(mountpoint), ignored);
  // FUSE over io_uring only when asked (fuse_uring.h says why). Its rings are ready before INIT
  // (open_rings() below): once INIT agrees on io_uring, the kernel holds every request until
  // the ring has entries.
  const char* forced = std::getenv(kIoUringVariable);
  if (!io_uring && (forced == nullptr || std::string_view(forced) != "1")) {
    // /dev/fuse, the default
  } else if (auto uring = FuseUring::create(fuse, mountpoint, backend, f->session_); uring) {
    f->uring_ = std::move(*uring);
    f->session_.offer_uring = true;
  } else {
    log::info("fuse: no io_uring (" + uring.error().message + "); serving through /dev/fuse");
  }
  const std::string data =
      "fd=" + std::to_string(fuse) +
      ",rootmode=40000,user_id=0,group_id=0,allow_other,max_read=" + std::to_string(kMaxWrite);
  const std::string source = "maya:" + volume;
  if (::mount(source.c_str(), mountpoint.c_str(), "fuse.maya",
              MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME, data.c_str()) != 0) {
    const int failed = errno;
    if (f->uring_) f->uring_->remove_file();
    return fail_errno("cannot mount FUSE at " + mountpoint.string(), failed);
  }
  if (f->uring_) {
    if (auto rings = f->uring_->open_rings(); !rings) {  // INIT is not answered yet
      log::info("fuse: no io_uring (" + rings.error().message + "); serving through /dev/fuse");
      f->uring_->remove_file();
      f->uring_.reset();
      f->session_.offer_uring = false;
    }
  }
  f->start(kWorkers);
  // INIT is answered by the workers; wait for it (and the ring's registration) so that the
  // transport this answers with is the one in use.
  for (int i = 0;
       i < 500 && !(f->session_.initialized && (!f->session_.uring || f->uring_->serving())); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  log::info("fuse: " + mountpoint.string() + " serves through " + f->transport());
  return f;
}

Result<std::unique_ptr<FuseFrontend>> FuseFrontend::resume(Fd fd, const fs::path& mountpoint,
                                                           block::BlockBackend& backend) {
  if (fd.get() < 0) return fail("no /dev/fuse descriptor to resume");
  int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) != 0)
    return fail(std::string("the inherited /dev/fuse descriptor is unusable: ") +
                errno_text(errno));
  ::fcntl(fd.get(), F_SETFD, FD_CLOEXEC);
  std::unique_ptr<FuseFrontend> f(new FuseFrontend(std::move(fd), mountpoint, backend));
  // Requests the previous process took but never answered go back to the queue.
  fuse_out_header resend{sizeof(fuse_out_header), kNotifyResend, 0};
  if (::write(f->fuse_.get(), &resend, sizeof resend) < 0) {
    log::warn(std::string("fuse: this kernel cannot resend unanswered requests (") +
              errno_text(errno) + "); any taken by the previous target stay pending");
  }
  if (fs::exists(FuseUring::ring_file(mountpoint))) {
    // The previous target served this connection over io_uring: so do we.
    f->session_.initialized = true;
    f->session_.uring = true;
    auto uring = FuseUring::adopt(f->fuse_.get(), mountpoint, backend, f->session_);
    if (!uring) return std::unexpected(uring.error());
    f->uring_ = std::move(*uring);
  }
  f->start(kWorkers);
  if (f->uring_) kick_queues(mountpoint);
  // The volume may have grown while no target ran: what the kernel cached may be stale.
  if (auto told = fuse::notify_inval_inode(f->fuse_.get(), fuse::kFileId); !told)
    log::warn(told.error().message);
  return f;
}

Result<void> FuseFrontend::capacity_changed() {
  MAYA_TRY_VOID(fuse::notify_inval_inode(fuse_.get(), fuse::kFileId));
  // The workers answer the GETATTR this stat() sends (this thread is none of them).
  struct stat st {};
  if (::stat(file().c_str(), &st) != 0) return fail_errno("stat " + file().string());
  const std::uint64_t size = backend_.size_bytes();
  if (static_cast<std::uint64_t>(st.st_size) != size)
    return fail("fuse: " + file().string() + " still shows " + std::to_string(st.st_size) +
                " bytes, not " + std::to_string(size));
  return {};
}

FuseFrontend::~FuseFrontend() {
  stop();
}

void FuseFrontend::start(unsigned workers) {
  wake_ = Fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  for (unsigned i = 0; i < workers; ++i) workers_.emplace_back([this] { serve(); });
  if (uring_) uring_->start();
}

std::uint64_t FuseFrontend::requests() const {
  return requests_.load() + (uring_ ? uring_->requests() : 0);
}

std::string FuseFrontend::transport() const {
  return uring_ && session_.uring && uring_->serving() ? "io_uring" : "dev_fuse";
}

void FuseFrontend::stop() {
  if (stopping_.exchange(true)) return;
  if (wake_.valid()) {
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof one);
  }
  for (auto& t : workers_) t.join();
  workers_.clear();
  if (uring_) uring_->stop();
}

Result<void> FuseFrontend::unmount() {
  if (::umount2(mountpoint_.c_str(), UMOUNT_NOFOLLOW) != 0 && errno != EINVAL) {
    return fail_errno("cannot unmount " + mountpoint_.string());
  }
  stop();
  if (uring_) uring_->remove_file();
  fuse_.reset();
  std::error_code ec;
  fs::remove(mountpoint_, ec);
  return {};
}

bool FuseFrontend::answer(int out, std::span<std::uint8_t> request, block::BlockBackend& backend) {
  FuseFrontend frontend(Fd(::dup(out)), {}, backend);
  std::vector<std::uint8_t> scratch;
  return frontend.handle(request, scratch);
}

void FuseFrontend::serve() {
  // A WRITE's data follows its two headers: reading at kDataAt past a page boundary puts the
  // data on the next one, so that the backend can write it around the page cache (direct I/O
  // wants aligned memory): the file system above the loop device caches it already.
  constexpr std::size_t kPage = 4096;
  constexpr std::size_t kDataAt = kPage - sizeof(fuse_in_header) - sizeof(fuse_write_in);
  std::vector<std::uint8_t> storage(kBufferSize + 2 * kPage);
  const auto base = reinterpret_cast<std::uintptr_t>(storage.data());
  const std::span<std::uint8_t> buffer(storage.data() + (kPage - base % kPage) % kPage + kDataAt,
                                       kBufferSize);
  std::vector<std::uint8_t> scratch;
  pollfd fds[2] = {{fuse_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
  while (!stopping_) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents != 0 || stopping_) break;
    ssize_t n = ::read(fuse_.get(), buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR || errno == ENOENT) continue;  // another worker took it
      if (errno == ENODEV) {
        log::info("fuse: " + mountpoint_.string() + " was unmounted");
      } else {
        log::warn(std::string("fuse: reading /dev/fuse failed: ") + errno_text(errno));
      }
      break;
    }
    requests_.fetch_add(1, std::memory_order_relaxed);
    if (!handle(std::span(buffer.data(), static_cast<std::size_t>(n)), scratch)) break;
  }
}

bool FuseFrontend::handle(std::span<std::uint8_t> request, std::vector<std::uint8_t>& scratch) {
  fuse::FdSink sink(fuse_.get());
  return fuse::dispatch(sink, request, backend_, scratch, &session_);
}

}  // namespace maya::jiva
