#include "lib/jiva/fuse_frontend.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fuse.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "lib/common/files.h"
#include "lib/common/log.h"

namespace maya::jiva {
namespace {

namespace fs = std::filesystem;

// The errno a failed write answers with: ENOSPC when the store is full (a file system on the
// volume then reports a full disk and keeps going), EIO otherwise.
int errno_for(const Error& error) {
  return out_of_space(error) ? ENOSPC : EIO;
}

constexpr std::uint64_t kRootId = FUSE_ROOT_ID;  // 1
constexpr std::uint64_t kFileId = 2;
constexpr std::uint32_t kMaxWrite = 1u << 20;
constexpr std::size_t kBufferSize = kMaxWrite + 64 * 1024;  // a WRITE's header and data fit
constexpr unsigned kWorkers = 4;
constexpr std::uint64_t kAttrValidSeconds = 60;
// FUSE_NOTIFY_RESEND (protocol 7.40, Linux 6.9): newer than this system's linux/fuse.h.
constexpr int kNotifyResend = 7;
constexpr std::uint32_t kMinorWanted = 40;

template <class T>
std::span<const std::uint8_t> bytes_of(const T& value) {
  return {reinterpret_cast<const std::uint8_t*>(&value), sizeof(T)};
}

// The argument struct that follows the header, or nullptr when the request is too short.
template <class T>
const T* args(std::span<std::uint8_t> request) {
  if (request.size() < sizeof(fuse_in_header) + sizeof(T)) return nullptr;
  return reinterpret_cast<const T*>(request.data() + sizeof(fuse_in_header));
}

}  // namespace

FuseFrontend::FuseFrontend(Fd fuse, fs::path mountpoint, block::BlockBackend& backend)
    : fuse_(std::move(fuse)), mountpoint_(std::move(mountpoint)), backend_(backend) {}

Result<std::unique_ptr<FuseFrontend>> FuseFrontend::mount(const fs::path& mountpoint,
                                                          block::BlockBackend& backend,
                                                          const std::string& volume) {
  MAYA_TRY(dir, make_dirs(mountpoint, 0700));
  Fd fuse(::open("/dev/fuse", O_RDWR | O_CLOEXEC | O_NONBLOCK));
  if (fuse.get() < 0)
    return fail(std::string("cannot open /dev/fuse: ") + std::strerror(errno) +
                " (is the fuse module loaded?)");
  const std::string data =
      "fd=" + std::to_string(fuse.get()) +
      ",rootmode=40000,user_id=0,group_id=0,allow_other,max_read=" + std::to_string(kMaxWrite);
  const std::string source = "maya:" + volume;
  if (::mount(source.c_str(), mountpoint.c_str(), "fuse.maya",
              MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME, data.c_str()) != 0) {
    return fail("cannot mount FUSE at " + mountpoint.string() + ": " + std::strerror(errno));
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
                std::strerror(errno));
  ::fcntl(fd.get(), F_SETFD, FD_CLOEXEC);
  std::unique_ptr<FuseFrontend> f(new FuseFrontend(std::move(fd), mountpoint, backend));
  // Requests the previous process took but never answered go back to the queue.
  fuse_out_header resend{sizeof(fuse_out_header), kNotifyResend, 0};
  if (::write(f->fuse_.get(), &resend, sizeof resend) < 0) {
    log::warn(std::string("fuse: this kernel cannot resend unanswered requests (") +
              std::strerror(errno) + "); any taken by the previous target stay pending");
  }
  f->start(kWorkers);
  return f;
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
    return fail("cannot unmount " + mountpoint_.string() + ": " + std::strerror(errno));
  }
  stop();
  fuse_.reset();
  std::error_code ec;
  fs::remove(mountpoint_, ec);
  return {};
}

void FuseFrontend::serve() {
  std::vector<std::uint8_t> buffer(kBufferSize);
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
        log::warn(std::string("fuse: reading /dev/fuse failed: ") + std::strerror(errno));
      }
      break;
    }
    requests_.fetch_add(1, std::memory_order_relaxed);
    if (!handle(std::span(buffer.data(), static_cast<std::size_t>(n)), scratch)) break;
  }
}

void FuseFrontend::reply(std::uint64_t unique, int error, std::span<const std::uint8_t> payload,
                         std::span<const std::uint8_t> more) {
  fuse_out_header out{};
  out.len =
      static_cast<std::uint32_t>(sizeof out + (error == 0 ? payload.size() + more.size() : 0));
  out.error = -error;
  out.unique = unique;
  iovec iov[3] = {{&out, sizeof out}, {}, {}};
  int count = 1;
  if (error == 0 && !payload.empty())
    iov[count++] = {const_cast<std::uint8_t*>(payload.data()), payload.size()};
  if (error == 0 && !more.empty())
    iov[count++] = {const_cast<std::uint8_t*>(more.data()), more.size()};
  // ENOENT: the request was interrupted and is gone; nothing to do about it.
  if (::writev(fuse_.get(), iov, count) < 0 && errno != ENOENT)
    log::warn(std::string("fuse: cannot answer a request: ") + std::strerror(errno));
}

bool FuseFrontend::handle(std::span<std::uint8_t> request, std::vector<std::uint8_t>& scratch) {
  if (request.size() < sizeof(fuse_in_header)) return true;
  const auto* in = reinterpret_cast<const fuse_in_header*>(request.data());
  const std::uint64_t unique = in->unique;
  const std::uint64_t size = backend_.size_bytes();

  auto attr_of = [&](std::uint64_t node) {
    fuse_attr a{};
    a.ino = node;
    const std::time_t now = std::time(nullptr);
    a.atime = a.mtime = a.ctime = static_cast<std::uint64_t>(now);
    a.blksize = 4096;
    if (node == kRootId) {
      a.mode = S_IFDIR | 0755;
      a.nlink = 2;
    } else {
      a.mode = S_IFREG | 0600;
      a.nlink = 1;
      a.size = size;
      a.blocks = (size + 511) / 512;
    }
    return a;
  };
  auto reply_attr = [&](std::uint64_t node) {
    fuse_attr_out out{};
    out.attr_valid = kAttrValidSeconds;
    out.attr = attr_of(node);
    reply(unique, 0, bytes_of(out));
  };
  const bool known_node = in->nodeid == kRootId || in->nodeid == kFileId;

  switch (in->opcode) {
    case FUSE_INIT: {
      // Kernels before 5.17 send the 16-byte fuse_init_in of protocol 7.35 and older; flags2
      // and the rest exist only with FUSE_INIT_EXT.
      constexpr std::size_t kCompatInitIn = 16;
      fuse_init_in init{};
      const std::size_t got = request.size() - sizeof(fuse_in_header);
      if (request.size() < sizeof(fuse_in_header) + kCompatInitIn) {
        reply(unique, EINVAL);
        return true;
      }
      std::memcpy(&init, request.data() + sizeof(fuse_in_header), std::min(got, sizeof init));
      fuse_init_out out{};
      out.major = FUSE_KERNEL_VERSION;
      if (init.major != FUSE_KERNEL_VERSION) {
        // Tell the kernel our major version; it retries or gives up.
        out.minor = FUSE_KERNEL_MINOR_VERSION;
        reply(unique, 0, std::span(bytes_of(out)).first(8));
        return true;
      }
      out.minor = std::min(init.minor, kMinorWanted);
      out.max_readahead = init.max_readahead;
      const std::uint32_t wanted = FUSE_ASYNC_READ | FUSE_BIG_WRITES | FUSE_ASYNC_DIO |
                                   FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES;
      out.flags = init.flags & wanted;
      out.max_background = 64;
      out.congestion_threshold = 48;
      out.max_write = kMaxWrite;
      out.time_gran = 1;
      out.max_pages = static_cast<std::uint16_t>(kMaxWrite / 4096);
      reply(unique, 0, bytes_of(out));
      return true;
    }
    case FUSE_LOOKUP: {
      const char* name = reinterpret_cast<const char*>(request.data() + sizeof(fuse_in_header));
      std::size_t length = request.size() - sizeof(fuse_in_header);
      if (in->nodeid != kRootId || strnlen(name, length) != std::strlen(kFileName) ||
          std::strncmp(name, kFileName, length) != 0) {
        reply(unique, ENOENT);
        return true;
      }
      fuse_entry_out out{};
      out.nodeid = kFileId;
      out.generation = 1;
      out.entry_valid = kAttrValidSeconds;
      out.attr_valid = kAttrValidSeconds;
      out.attr = attr_of(kFileId);
      reply(unique, 0, bytes_of(out));
      return true;
    }
    case FUSE_GETATTR:
      if (!known_node) {
        reply(unique, ENOENT);
      } else {
        reply_attr(in->nodeid);
      }
      return true;
    case FUSE_SETATTR: {
      const auto* set = args<fuse_setattr_in>(request);
      if (set == nullptr || !known_node) {
        reply(unique, EINVAL);
      } else if ((set->valid & FATTR_SIZE) != 0 && set->size != size) {
        reply(unique, EPERM);  // a volume's size is its spec's, not a file's
      } else {
        reply_attr(in->nodeid);
      }
      return true;
    }
    case FUSE_OPEN:
    case FUSE_OPENDIR: {
      fuse_open_out out{};
      out.fh = in->nodeid;
      if (in->opcode == FUSE_OPEN) out.open_flags = FOPEN_DIRECT_IO | FOPEN_PARALLEL_DIRECT_WRITES;
      reply(unique, in->opcode == FUSE_OPEN && in->nodeid != kFileId ? EISDIR : 0, bytes_of(out));
      return true;
    }
    case FUSE_READ: {
      const auto* rd = args<fuse_read_in>(request);
      if (rd == nullptr || in->nodeid != kFileId) {
        reply(unique, EINVAL);
        return true;
      }
      std::uint64_t length =
          rd->offset >= size ? 0 : std::min<std::uint64_t>(rd->size, size - rd->offset);
      scratch.resize(length);
      if (length > 0 && !backend_.read(rd->offset, std::as_writable_bytes(std::span(scratch)))) {
        reply(unique, EIO);
      } else {
        reply(unique, 0, scratch);
      }
      return true;
    }
    case FUSE_WRITE: {
      const auto* wr = args<fuse_write_in>(request);
      const std::size_t data_at = sizeof(fuse_in_header) + sizeof(fuse_write_in);
      if (wr == nullptr || in->nodeid != kFileId || request.size() < data_at + wr->size) {
        reply(unique, EINVAL);
        return true;
      }
      if (wr->offset >= size || wr->size > size - wr->offset) {
        reply(unique, ENOSPC);
        return true;
      }
      auto data = std::as_bytes(request.subspan(data_at, wr->size));
      const bool fua = (wr->flags & (O_SYNC | O_DSYNC)) != 0;
      if (auto put = backend_.write(wr->offset, data, fua); !put) {
        reply(unique, errno_for(put.error()));
        return true;
      }
      fuse_write_out out{};
      out.size = wr->size;
      reply(unique, 0, bytes_of(out));
      return true;
    }
    case FUSE_FSYNC:
    case FUSE_FSYNCDIR:
      if (auto flushed = backend_.flush(); !flushed) {
        reply(unique, errno_for(flushed.error()));
      } else {
        reply(unique, 0);
      }
      return true;
    case FUSE_FLUSH:
    case FUSE_RELEASE:
    case FUSE_RELEASEDIR:
    case FUSE_ACCESS:
      reply(unique, 0);
      return true;
    case FUSE_FALLOCATE: {
      const auto* fa = args<fuse_fallocate_in>(request);
      if (fa == nullptr || in->nodeid != kFileId) {
        reply(unique, EINVAL);
        return true;
      }
      if (fa->offset > size || fa->length > size - fa->offset) {
        reply(unique, (fa->mode & FALLOC_FL_KEEP_SIZE) != 0 ? EINVAL : EPERM);
        return true;
      }
      if ((fa->mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) != 0) {
        // Discard whole blocks; a partial block at either end is written as zeros.
        const std::uint64_t bs = backend_.block_size();
        std::uint64_t first = (fa->offset + bs - 1) / bs * bs;
        std::uint64_t last = (fa->offset + fa->length) / bs * bs;
        bool ok = true;
        int err = EIO;
        auto note = [&](const Result<void>& r) {
          if (!r && ok) err = errno_for(r.error());
          ok = ok && r.has_value();
        };
        auto zero = [&](std::uint64_t at, std::uint64_t n) {
          if (n == 0 || !ok) return;
          std::vector<std::byte> zeros(n);
          note(backend_.write(at, zeros, false));
        };
        if (first >= last) {
          zero(fa->offset, fa->length);
        } else {
          zero(fa->offset, first - fa->offset);
          if (backend_.discard_zeroes()) {
            if (ok) note(backend_.discard(first, last - first));
          } else {
            for (std::uint64_t at = first; at < last && ok; at += kMaxWrite)
              zero(at, std::min<std::uint64_t>(kMaxWrite, last - at));
          }
          zero(last, fa->offset + fa->length - last);
        }
        reply(unique, ok ? 0 : err);
      } else {
        reply(unique, fa->mode == 0 || fa->mode == FALLOC_FL_KEEP_SIZE ? 0 : EOPNOTSUPP);
      }
      return true;
    }
    case FUSE_LSEEK: {
      const auto* sk = args<fuse_lseek_in>(request);
      if (sk == nullptr || (sk->whence != SEEK_DATA && sk->whence != SEEK_HOLE)) {
        reply(unique, EINVAL);
        return true;
      }
      std::uint64_t at = sk->offset;
      for (;;) {
        if (at >= size) {
          if (sk->whence == SEEK_DATA) {
            reply(unique, ENXIO);
          } else {
            fuse_lseek_out out{size};
            reply(unique, 0, bytes_of(out));
          }
          return true;
        }
        auto extent = backend_.extent_at(at);
        if (!extent) {
          reply(unique, EIO);
          return true;
        }
        if (extent->mapped == (sk->whence == SEEK_DATA)) {
          fuse_lseek_out out{at};
          reply(unique, 0, bytes_of(out));
          return true;
        }
        at = extent->offset + extent->length;
      }
    }
    case FUSE_STATFS: {
      fuse_statfs_out out{};
      out.st.bsize = 4096;
      out.st.frsize = 4096;
      out.st.blocks = size / 4096;
      out.st.files = 1;
      out.st.namelen = 255;
      reply(unique, 0, bytes_of(out));
      return true;
    }
    case FUSE_READDIR: {
      const auto* rd = args<fuse_read_in>(request);
      if (rd == nullptr || in->nodeid != kRootId) {
        reply(unique, ENOTDIR);
        return true;
      }
      scratch.clear();
      auto add = [&](std::uint64_t ino, std::uint64_t off, const char* name, std::uint32_t type) {
        const std::size_t name_len = std::strlen(name);
        const std::size_t record = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + name_len);
        if (scratch.size() + record > rd->size) return;
        std::size_t at = scratch.size();
        scratch.resize(at + record, 0);
        auto* d = reinterpret_cast<fuse_dirent*>(scratch.data() + at);
        d->ino = ino;
        d->off = off;
        d->namelen = static_cast<std::uint32_t>(name_len);
        d->type = type;
        std::memcpy(scratch.data() + at + FUSE_NAME_OFFSET, name, name_len);
      };
      if (rd->offset < 1) add(kRootId, 1, ".", S_IFDIR >> 12);
      if (rd->offset < 2) add(kRootId, 2, "..", S_IFDIR >> 12);
      if (rd->offset < 3) add(kFileId, 3, kFileName, S_IFREG >> 12);
      reply(unique, 0, scratch);
      return true;
    }
    case FUSE_FORGET:
    case FUSE_BATCH_FORGET:
    case FUSE_INTERRUPT:
      return true;  // no answer expected
    case FUSE_DESTROY:
      reply(unique, 0);
      return false;
    default:
      reply(unique, ENOSYS);
      return true;
  }
}

}  // namespace maya::jiva
