#include "drivers/storage/common/volume_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "lib/common/errno_text.h"
#include "lib/common/log.h"

namespace maya::drivers::storage {
namespace {

constexpr std::chrono::seconds kLockWait{30};  // attach/detach/remove take well under a second

// A unique hidden directory in the store: valid volume names never start with '.'.
Result<fs::path> make_hidden_dir(const fs::path& store, const std::string& purpose,
                                 const std::string& name) {
  std::string pattern = (store / ("." + purpose + "-" + name + "-XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr)
    return fail_errno("cannot create a directory in " + store.string());
  return fs::path(pattern);
}

}  // namespace

DirGuard::~DirGuard() {
  if (dir_.empty()) return;
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

Result<void> sync_dir(const fs::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0 || ::fsync(fd.get()) != 0)
    return fail_errno("cannot sync directory " + dir.string());
  return {};
}

Result<fs::path> make_staging_dir(const fs::path& store, const std::string& name) {
  return make_hidden_dir(store, "create", name);
}

Result<void> reject_existing(const fs::path& dir, const std::string& name, const fs::path& store) {
  struct stat st {};
  if (::lstat(dir.c_str(), &st) == 0)
    return fail("volume " + name + " already exists in " + store.string());
  if (errno != ENOENT) return fail_errno("cannot check " + dir.string());
  return {};
}

Result<void> publish(const fs::path& staging, const fs::path& dir, const std::string& name,
                     const fs::path& store) {
  if (::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, dir.c_str(), RENAME_NOREPLACE) != 0) {
    int err = errno;
    if (err == EINVAL) {  // the file system has no RENAME_NOREPLACE
      MAYA_TRY_VOID(reject_existing(dir, name, store));
      err = ::rename(staging.c_str(), dir.c_str()) != 0 ? errno : 0;
    }
    if (err == EEXIST || err == ENOTEMPTY)
      return fail("volume " + name + " already exists in " + store.string());
    if (err != 0) return fail_errno("cannot create " + dir.string(), err);
  }
  return sync_dir(store);
}

Result<void> discard(const fs::path& dir, const std::string& name, const fs::path& store) {
  MAYA_TRY(trash, make_hidden_dir(store, "delete", name));
  if (::rename(dir.c_str(), trash->c_str()) != 0) {
    int err = errno;
    std::error_code ignored;
    fs::remove(*trash, ignored);
    return fail("cannot delete volume " + name + ": renaming " + dir.string() +
                " failed: " + errno_text(err));
  }
  MAYA_TRY_VOID(sync_dir(store));
  std::error_code ec;
  fs::remove_all(*trash, ec);
  if (ec)
    log::warn("volume " + name + " is deleted but " + trash->string() +
              " could not be removed: " + ec.message());
  return {};
}

Result<Fd> lock_volume(const fs::path& dir, const std::string& name) {
  for (;;) {
    Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() < 0) {
      if (errno == ENOENT || errno == ENOTDIR) return fail("volume " + name + " does not exist");
      return fail_errno("cannot open " + dir.string());
    }
    const auto deadline = std::chrono::steady_clock::now() + kLockWait;
    while (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK && errno != EINTR) return fail_errno("cannot lock " + dir.string());
      if (std::chrono::steady_clock::now() >= deadline) {
        return fail("volume " + name + " is busy: another attach, detach or delete of it has " +
                    "not finished within " + std::to_string(kLockWait.count()) + " s");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    struct stat held {};
    struct stat now {};
    if (::fstat(fd.get(), &held) != 0) return fail_errno("cannot stat " + dir.string());
    if (::stat(dir.c_str(), &now) != 0) {
      if (errno == ENOENT) return fail("volume " + name + " does not exist");
      return fail_errno("cannot stat " + dir.string());
    }
    if (held.st_dev == now.st_dev && held.st_ino == now.st_ino) return fd;
    // Removed and re-created while we waited for the lock: lock the new directory.
  }
}

namespace {

// Sizes the open data file `fd` from `from` to `size` bytes: sparse, or allocated when not thin.
// A failure leaves the file at `from` bytes (blocks allocated for it are given back).
Result<void> size_data_file(int fd, const fs::path& file, std::uint64_t from, std::uint64_t size,
                            bool thin, const std::string& name, const fs::path& store) {
  const std::string bytes = std::to_string(size) + " bytes";
  auto undo = [&](std::unexpected<Error> error) {
    // Best effort: the error returned is the first one. (A (void) cast does not silence
    // warn_unused_result, which glibc sets on ftruncate under _FORTIFY_SOURCE: the package's
    // hardening flags.)
    if (::ftruncate(fd, static_cast<off_t>(from)) != 0) return error;
    return error;
  };
  if (!thin) {
    // Allocated beyond the end first, so that running out of space leaves the size alone.
    int rc;
    do {
      rc = ::fallocate(fd, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(from),
                       static_cast<off_t>(size - from));
    } while (rc != 0 && errno == EINTR);
    if (rc != 0 && errno == ENOSPC) {
      return undo(fail("not enough free space in " + store.string() + " for the " + bytes +
                       " of thick volume " + name));
    }
    if (rc != 0 && errno == EOPNOTSUPP) {
      return undo(fail("the file system holding " + store.string() +
                       " cannot preallocate thick volume " + name + "; create it thin"));
    }
    if (rc != 0 && errno != EFBIG) return undo(fail_errno("cannot allocate " + file.string()));
  }
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    if (errno == EFBIG || errno == EINVAL) {
      return undo(fail("volume " + name + " cannot be " + bytes + ": the file system holding " +
                       store.string() + " does not allow files that large"));
    }
    return undo(fail_errno("cannot size " + file.string() + " to " + bytes));
  }
  if (::fsync(fd) != 0) return fail_errno("cannot sync " + file.string());
  return {};
}

}  // namespace

Result<void> make_data_file(const fs::path& file, std::uint64_t size, bool thin,
                            const std::string& name, const fs::path& store) {
  Fd fd(::open(file.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (fd.get() < 0) return fail_errno("cannot create " + file.string());
  return size_data_file(fd.get(), file, 0, size, thin, name, store);
}

Result<void> grow_data_file(const fs::path& file, std::uint64_t size, bool thin,
                            const std::string& name, const fs::path& store) {
  Fd fd(::open(file.c_str(), O_RDWR | O_CLOEXEC));
  if (fd.get() < 0) return fail_errno("cannot open " + file.string());
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail_errno("cannot stat " + file.string());
  const auto from = static_cast<std::uint64_t>(st.st_size);
  if (size <= from) return {};
  return size_data_file(fd.get(), file, from, size, thin, name, store);
}

}  // namespace maya::drivers::storage
