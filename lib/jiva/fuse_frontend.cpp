#include "lib/jiva/fuse_frontend.h"

#include <fcntl.h>
#include <linux/fuse.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lib/common/errno_text.h"
#include "lib/common/files.h"
#include "lib/common/log.h"
#include "lib/jiva/fuse_requests.h"

namespace maya::jiva {
namespace {

namespace fs = std::filesystem;

using fuse::kMaxWrite;
constexpr std::size_t kBufferSize = kMaxWrite + 64 * 1024;  // a WRITE's header and data fit
constexpr unsigned kWorkers = 4;
// FUSE_NOTIFY_RESEND (protocol 7.40, Linux 6.9): newer than this system's linux/fuse.h.
constexpr int kNotifyResend = 7;

}  // namespace

FuseFrontend::FuseFrontend(Fd fuse, fs::path mountpoint, block::BlockBackend& backend)
    : fuse_(std::move(fuse)), mountpoint_(std::move(mountpoint)), backend_(backend) {}

Result<std::unique_ptr<FuseFrontend>> FuseFrontend::mount(const fs::path& mountpoint,
                                                          block::BlockBackend& backend,
                                                          const std::string& volume) {
  MAYA_TRY_VOID(make_dirs(mountpoint, 0700));
  Fd fuse(::open("/dev/fuse", O_RDWR | O_CLOEXEC | O_NONBLOCK));
  if (fuse.get() < 0)
    return fail(std::string("cannot open /dev/fuse: ") + errno_text(errno) +
                " (is the fuse module loaded?)");
  const std::string data =
      "fd=" + std::to_string(fuse.get()) +
      ",rootmode=40000,user_id=0,group_id=0,allow_other,max_read=" + std::to_string(kMaxWrite);
  const std::string source = "maya:" + volume;
  if (::mount(source.c_str(), mountpoint.c_str(), "fuse.maya",
              MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME, data.c_str()) != 0) {
    return fail_errno("cannot mount FUSE at " + mountpoint.string());
  }
  std::unique_ptr<FuseFrontend> f(new FuseFrontend(std::move(fuse), mountpoint, backend));
  f->start(kWorkers);
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
  f->start(kWorkers);
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
}

void FuseFrontend::stop() {
  if (stopping_.exchange(true)) return;
  if (wake_.valid()) {
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof one);
  }
  for (auto& t : workers_) t.join();
  workers_.clear();
}

Result<void> FuseFrontend::unmount() {
  if (::umount2(mountpoint_.c_str(), UMOUNT_NOFOLLOW) != 0 && errno != EINVAL) {
    return fail_errno("cannot unmount " + mountpoint_.string());
  }
  stop();
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
  return fuse::dispatch(fuse_.get(), request, backend_, scratch);
}

}  // namespace maya::jiva
