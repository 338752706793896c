#include "lib/block/file_backend.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "lib/common/errno_text.h"

namespace maya::block {
namespace {

bool valid_block_size(std::uint32_t size) {
  return size >= 512 && size <= 65536 && (size & (size - 1)) == 0;
}

// Allocates [from, to) of `fd` (a thick file's new range).
Result<void> allocate(int fd, const std::filesystem::path& path, std::uint64_t from,
                      std::uint64_t to) {
  if (to <= from) return {};
  int rc;
  do {
    rc = ::fallocate(fd, 0, static_cast<off_t>(from), static_cast<off_t>(to - from));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0)
    return fail_errno("allocating " + std::to_string(to - from) + " bytes at " +
                      std::to_string(from) + " in " + path.string());
  return {};
}

}  // namespace

Result<std::unique_ptr<FileBackend>> FileBackend::open(const std::filesystem::path& path,
                                                       const FileBackendOptions& options) {
  if (!valid_block_size(options.block_size)) {
    return fail("block size " + std::to_string(options.block_size) +
                " is not a power of two between 512 and 65536");
  }
  if (options.create && !options.size) {
    return fail("creating " + path.string() + " needs a size");
  }
  int flags = O_RDWR | O_CLOEXEC;
  if (options.create) flags |= O_CREAT;
  Fd fd(::open(path.c_str(), flags, 0600));
  if (!fd.valid()) return fail_errno("opening " + path.string());

  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail_errno("stat " + path.string());
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
    return fail(path.string() + " is neither a regular file nor a block device");
  }
  const off_t end = ::lseek(fd.get(), 0, SEEK_END);
  if (end < 0) return fail_errno("finding the size of " + path.string());
  const auto file_size = static_cast<std::uint64_t>(end);

  std::uint64_t size = file_size;
  if (options.size) {
    size = *options.size;
    if (file_size < size) {
      if (!S_ISREG(st.st_mode)) {
        return fail("block device " + path.string() + " is smaller than the requested size");
      }
      if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
        return fail_errno("growing " + path.string() + " to " + std::to_string(size) + " bytes");
      }
      if (options.preallocate) MAYA_TRY_VOID(allocate(fd.get(), path, file_size, size));
    }
  }
  size -= size % options.block_size;
  if (size == 0) {
    return fail(path.string() + " holds less than one block; give it a size");
  }
  std::unique_ptr<FileBackend> backend(
      new FileBackend(std::move(fd), path, size, options.block_size, options.preallocate));
  backend->probe_capabilities(std::max(file_size, size));
  // Files only: on a block device nothing serializes a buffered read-modify-write of a page
  // against a direct write to it, where a file system's inode lock does.
  if (S_ISREG(st.st_mode)) backend->open_direct();
  return backend;
}

FileBackend::FileBackend(Fd fd, std::filesystem::path path, std::uint64_t size,
                         std::uint32_t block_size, bool preallocate)
    : fd_(std::move(fd)),
      path_(std::move(path)),
      size_(size),
      block_size_(block_size),
      preallocate_(preallocate) {}

Result<void> FileBackend::grow(std::uint64_t size_bytes) {
  const std::uint64_t old = size_.load();
  const std::string to = " to " + std::to_string(size_bytes) + " bytes";
  if (size_bytes % block_size_ != 0)
    return fail("cannot grow " + path_.string() + to + ": not a multiple of the block size " +
                std::to_string(block_size_));
  if (size_bytes < old)
    return fail("cannot grow " + path_.string() + to + ": it is " + std::to_string(old) +
                " bytes already");
  if (size_bytes == old) return {};
  struct stat st {};
  if (::fstat(fd_.get(), &st) != 0) return fail_errno("stat " + path_.string());
  if (S_ISBLK(st.st_mode)) {
    const off_t end = ::lseek(fd_.get(), 0, SEEK_END);
    if (end < 0) return fail_errno("finding the size of " + path_.string());
    if (static_cast<std::uint64_t>(end) < size_bytes)
      return fail("block device " + path_.string() + " is smaller than" + to);
    // What the device holds past the old end was never the volume's: it must read as zeros.
    if (::fallocate(fd_.get(), FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(old),
                    static_cast<off_t>(size_bytes - old)) != 0)
      return fail_errno("zeroing the new range of " + path_.string());
  } else {
    // A file larger than what it exported keeps bytes that were never the volume's past the
    // end: cut them off, so that the new range reads as zeros.
    if (static_cast<std::uint64_t>(st.st_size) > old &&
        ::ftruncate(fd_.get(), static_cast<off_t>(old)) != 0)
      return fail_errno("cutting " + path_.string() + " back to " + std::to_string(old) +
                        " bytes before growing it");
    if (::ftruncate(fd_.get(), static_cast<off_t>(size_bytes)) != 0)
      return fail_errno("growing " + path_.string() + to);
    if (preallocate_) {
      if (auto allocated = allocate(fd_.get(), path_, old, size_bytes); !allocated) {
        (void)!::ftruncate(fd_.get(), static_cast<off_t>(old));  // as it was
        return allocated;
      }
    }
  }
  size_.store(size_bytes, std::memory_order_release);
  return {};
}

void FileBackend::open_direct() {
  // A second open file description of the same file: O_DIRECT belongs to the description, so a
  // dup() would share it with fd_.
  const std::string self = "/proc/self/fd/" + std::to_string(fd_.get());
  Fd direct(::open(self.c_str(), O_RDWR | O_CLOEXEC | O_DIRECT));
  if (!direct.valid()) return;  // this file system has no direct I/O (EINVAL)
  std::size_t align = kDirectAlign;
  struct statx sx {};
  if (::statx(direct.get(), "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 &&
      (sx.stx_mask & STATX_DIOALIGN) != 0) {
    if (sx.stx_dio_offset_align == 0) return;  // the file system says it has none here
    align = std::max<std::size_t>({align, sx.stx_dio_mem_align, sx.stx_dio_offset_align});
  }
  direct_fd_ = std::move(direct);
  direct_align_ = align;
  direct_ok_.store(true, std::memory_order_relaxed);
}

bool FileBackend::direct_fits(std::uint64_t offset, std::span<const std::byte> data) const {
  if (!direct_ok_.load(std::memory_order_relaxed) || data.size() < kDirectMinBytes) return false;
  const auto address = reinterpret_cast<std::uintptr_t>(data.data());
  return offset % direct_align_ == 0 && data.size() % direct_align_ == 0 &&
         address % direct_align_ == 0;
}

void FileBackend::probe_capabilities(std::uint64_t file_size) {
  // Punching a hole past the end of the file changes no data; file systems without hole
  // support refuse it with EOPNOTSUPP (block devices with EINVAL or ENODEV).
  const std::uint64_t probe_at = (file_size + 4095) / 4096 * 4096;
  punch_ = ::fallocate(fd_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                       static_cast<off_t>(probe_at), 4096) == 0;
  // SEEK_HOLE is answered by every Linux file system (the generic version reports one data
  // extent up to EOF), so a file is thin when punching works.
  const off_t hole = ::lseek(fd_.get(), 0, SEEK_HOLE);
  thin_ = punch_ && (hole >= 0 || errno == ENXIO);
}

Result<void> FileBackend::check_range(std::uint64_t offset, std::uint64_t length,
                                      const char* what) const {
  const std::uint64_t size = size_bytes();
  if (offset > size || length > size - offset) {
    return fail(std::string(what) + " of " + std::to_string(length) + " bytes at " +
                std::to_string(offset) + " is past the end of " + path_.string());
  }
  return {};
}

Result<void> FileBackend::read(std::uint64_t offset, std::span<std::byte> out) {
  if (auto ok = check_range(offset, out.size(), "read"); !ok) return ok;
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n =
        ::pread(fd_.get(), out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno("reading " + path_.string() + " at " + std::to_string(offset + done));
    }
    if (n == 0) {  // the file was shortened under us: the rest reads as zeros
      std::fill(out.begin() + static_cast<std::ptrdiff_t>(done), out.end(), std::byte{0});
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  return {};
}

Result<void> FileBackend::write_all(std::uint64_t offset, std::span<const std::byte> data,
                                    bool dsync) {
  std::size_t done = 0;
  bool synced_per_write = dsync && rwf_dsync_.load(std::memory_order_relaxed);
  int fd = fd_.get();
  if (direct_fits(offset, data)) fd = direct_fd_.get();
  while (done < data.size()) {
    const auto at = static_cast<off_t>(offset + done);
    ssize_t n;
    if (synced_per_write) {
      iovec iov{const_cast<std::byte*>(data.data() + done), data.size() - done};
      n = ::pwritev2(fd, &iov, 1, at, RWF_DSYNC);
      if (n < 0 && (errno == EOPNOTSUPP || errno == ENOSYS)) {
        rwf_dsync_.store(false, std::memory_order_relaxed);
        synced_per_write = false;
        continue;
      }
    } else {
      n = ::pwrite(fd, data.data() + done, data.size() - done, at);
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EINVAL && fd != fd_.get()) {  // direct I/O refused after all: buffered
        direct_ok_.store(false, std::memory_order_relaxed);
        fd = fd_.get();
        continue;
      }
      return fail_errno("writing " + path_.string() + " at " + std::to_string(offset + done));
    }
    if (n == 0) {
      return fail("writing " + path_.string() + " at " + std::to_string(offset + done) +
                  ": no progress");
    }
    done += static_cast<std::size_t>(n);
    fd = fd_.get();  // the rest of a short direct write may not be aligned
  }
  if (dsync && !synced_per_write) return flush();
  return {};
}

Result<void> FileBackend::write(std::uint64_t offset, std::span<const std::byte> data, bool fua) {
  if (auto ok = check_range(offset, data.size(), "write"); !ok) return ok;
  return write_all(offset, data, fua);
}

std::optional<SpaceUsage> FileBackend::space() const {
  struct statvfs st {};
  if (::fstatvfs(fd_.get(), &st) != 0 || st.f_blocks == 0) return std::nullopt;
  return SpaceUsage{static_cast<std::uint64_t>(st.f_blocks) * st.f_frsize,
                    static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize};
}

Result<void> FileBackend::flush() {
  while (::fdatasync(fd_.get()) != 0) {
    if (errno == EINTR) continue;
    return fail_errno("flushing " + path_.string());
  }
  return {};
}

Result<void> FileBackend::discard(std::uint64_t offset, std::uint64_t length) {
  if (auto ok = check_range(offset, length, "discard"); !ok) return ok;
  if (length == 0 || !punch_) return {};  // discard is advisory where holes are unsupported
  while (::fallocate(fd_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                     static_cast<off_t>(offset), static_cast<off_t>(length)) != 0) {
    if (errno == EINTR) continue;
    return fail_errno("punching a hole of " + std::to_string(length) + " bytes at " +
                      std::to_string(offset) + " in " + path_.string());
  }
  return {};
}

Result<Extent> FileBackend::extent_at(std::uint64_t offset) {
  const std::uint64_t size = size_bytes();  // one size for the whole answer
  if (offset >= size) {
    return fail("extent at " + std::to_string(offset) + " is past the end of " + path_.string());
  }
  if (!thin_) return Extent{offset, size - offset, true};
  const off_t data = ::lseek(fd_.get(), static_cast<off_t>(offset), SEEK_DATA);
  if (data < 0) {
    if (errno == ENXIO) return Extent{offset, size - offset, false};  // a hole up to EOF
    return fail_errno("SEEK_DATA in " + path_.string());
  }
  const auto data_at = static_cast<std::uint64_t>(data);
  if (data_at > offset) {
    std::uint64_t end = std::min(data_at, size);
    end -= end % block_size_;
    if (end > offset) return Extent{offset, end - offset, false};
    // Data starts inside the block at `offset`: that block is mapped.
  }
  const off_t hole = ::lseek(fd_.get(), static_cast<off_t>(offset), SEEK_HOLE);
  if (hole < 0) return fail_errno("SEEK_HOLE in " + path_.string());
  std::uint64_t end = std::min(static_cast<std::uint64_t>(hole), size);
  end = std::min((end + block_size_ - 1) / block_size_ * block_size_, size);
  if (end <= offset) end = offset + block_size_;
  return Extent{offset, end - offset, true};
}

}  // namespace maya::block
