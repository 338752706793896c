#include "lib/common/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "lib/common/errno_text.h"
#include "lib/common/fd.h"
#include "lib/common/log.h"

namespace maya {
namespace {}  // namespace

Result<void> write_file_atomic(const std::filesystem::path& path, std::string_view content,
                               mode_t mode) {
  std::filesystem::path dir = path.parent_path().empty() ? "." : path.parent_path();
  std::string tmp = (dir / ("." + path.filename().string() + ".XXXXXX")).string();
  int raw = ::mkstemp(tmp.data());
  if (raw < 0) {
    const int err = errno;
    return fail("cannot create a file in " + dir.string() + ": " + errno_text(err),
                errno_code(err));
  }
  Fd fd(raw);
  auto abandon = [&](const std::string& what) {
    int err = errno;
    ::unlink(tmp.c_str());
    return fail("cannot " + what + " " + path.string() + ": " + errno_text(err), errno_code(err));
  };
  if (::fchmod(fd.get(), mode) != 0) return abandon("set the mode of");
  std::size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return abandon("write");
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return abandon("sync");
  if (::rename(tmp.c_str(), path.c_str()) != 0) return abandon("replace");
  Fd dirfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dirfd.get() < 0 || ::fsync(dirfd.get()) != 0) {
    const int err = errno;
    return fail("cannot sync directory " + dir.string() + ": " + errno_text(err), errno_code(err));
  }
  return {};
}

Result<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail_errno("cannot read " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

Result<void> make_dirs(const std::filesystem::path& path, mode_t mode) {
  std::filesystem::path current;
  for (const auto& part : path) {
    current /= part;
    if (::mkdir(current.c_str(), mode) != 0 && errno != EEXIST)
      return fail_errno("cannot create directory " + current.string());
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(path, ec))
    return fail("cannot create directory " + path.string() + ": a file is in the way");
  return {};
}

void remove_with_link_target(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_symlink(path, ec)) {
    auto target = std::filesystem::read_symlink(path, ec);
    if (!ec) std::filesystem::remove(target, ec);
    if (ec)  // its pool faulted or gone: the link goes anyway, so that the snapshot can be let go
      log::warn(path.string() + ": its image " + target.string() + " could not be removed (" +
                ec.message() + "); `maya pool destroy` of its pool takes it");
  }
  std::filesystem::remove(path, ec);
}

std::uint64_t allocated_bytes(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return static_cast<std::uint64_t>(st.st_blocks) * 512;
}

}  // namespace maya
