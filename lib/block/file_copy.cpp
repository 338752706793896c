#include "lib/block/file_copy.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "lib/common/errno_text.h"
#include "lib/common/fd.h"

namespace maya::block {

namespace fs = std::filesystem;

namespace {}  // namespace

Result<void> write_at(int fd, std::span<const std::byte> data, std::uint64_t offset) {
  for (std::size_t done = 0; done < data.size();) {
    ssize_t n =
        ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno("cannot write at " + std::to_string(offset + done));
    }
    done += static_cast<std::size_t>(n);
  }
  return {};
}

Result<CopyMethod> copy_fd(int from, int to, std::uint64_t size,
                           const std::function<void(std::uint64_t, std::uint64_t)>& progress) {
  if (::ftruncate(to, static_cast<off_t>(size)) != 0)
    return fail("cannot size the copy: " + errno_text());
  if (::ioctl(to, FICLONE, from) == 0) {
    if (::ftruncate(to, static_cast<off_t>(size)) != 0)
      return fail("cannot size the copy: " + errno_text());
    return CopyMethod::reflink;
  }
  // Sparse copy: data ranges (SEEK_DATA/SEEK_HOLE) are copied, everything else punched.
  if (::fallocate(to, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(size)) !=
          0 &&
      errno != EOPNOTSUPP)
    return fail("cannot clear the copy: " + errno_text());
  std::uint64_t total = 0;
  for (off_t pos = 0; static_cast<std::uint64_t>(pos) < size;) {
    off_t data = ::lseek(from, pos, SEEK_DATA);
    if (data < 0 || static_cast<std::uint64_t>(data) >= size) break;
    off_t hole = ::lseek(from, data, SEEK_HOLE);
    if (hole < 0) hole = static_cast<off_t>(size);
    total += std::min<std::uint64_t>(size, static_cast<std::uint64_t>(hole)) - data;
    pos = hole;
  }
  std::vector<char> buffer(4u << 20);
  std::uint64_t done = 0;
  for (off_t pos = 0; static_cast<std::uint64_t>(pos) < size;) {
    off_t data = ::lseek(from, pos, SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break;  // only holes from here
      return fail("cannot find the data to copy: " + errno_text());
    }
    if (static_cast<std::uint64_t>(data) >= size) break;
    off_t hole = ::lseek(from, data, SEEK_HOLE);
    std::uint64_t end =
        hole < 0 ? size : std::min<std::uint64_t>(size, static_cast<std::uint64_t>(hole));
    for (std::uint64_t at = static_cast<std::uint64_t>(data); at < end;) {
      std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), end - at));
      ssize_t got = ::pread(from, buffer.data(), n, static_cast<off_t>(at));
      if (got <= 0)
        return fail("cannot read what to copy: " + (got < 0 ? errno_text() : "short file"));
      auto bytes = std::as_bytes(std::span(buffer.data(), static_cast<std::size_t>(got)));
      if (auto put = write_at(to, bytes, at); !put) return fail("the copy", put.error());
      at += static_cast<std::uint64_t>(got);
      done += static_cast<std::uint64_t>(got);
      if (progress) progress(done, total);
    }
    pos = static_cast<off_t>(end);
  }
  if (::fdatasync(to) != 0) return fail("cannot sync the copy: " + errno_text());
  return CopyMethod::sparse;
}

Result<CopyMethod> copy_file(const fs::path& from, const fs::path& to, std::uint64_t size,
                             const std::function<void(std::uint64_t, std::uint64_t)>& progress) {
  Fd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) return fail_errno("cannot open " + from.string());
  Fd out(::open(to.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (out.get() < 0) return fail_errno("cannot create " + to.string());
  auto copied = copy_fd(in.get(), out.get(), size, progress);
  if (!copied) {
    std::error_code ec;
    fs::remove(to, ec);
    return fail("copying " + from.string() + " to " + to.string(), copied.error());
  }
  return copied;
}

bool supports_reflink(const fs::path& dir) {
  const fs::path a = dir / ".reflink-probe-a", b = dir / ".reflink-probe-b";
  Fd fa(::open(a.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  Fd fb(::open(b.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  bool ok = fa.get() >= 0 && fb.get() >= 0 && ::ioctl(fb.get(), FICLONE, fa.get()) == 0;
  std::error_code ec;
  fs::remove(a, ec);
  fs::remove(b, ec);
  return ok;
}

}  // namespace maya::block
