#include "lib/mounts/mount_table.h"
#include "lib/common/errno_text.h"

#include <libmount/libmount.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace maya::mounts {
namespace {

struct TableDeleter {
  void operator()(libmnt_table* table) const { mnt_unref_table(table); }
};
struct IterDeleter {
  void operator()(libmnt_iter* iter) const { mnt_free_iter(iter); }
};

std::string or_empty(const char* text) {
  return text != nullptr ? text : "";
}

}  // namespace

Result<std::vector<Mount>> read_mount_table(const std::filesystem::path& path) {
  std::unique_ptr<libmnt_table, TableDeleter> table(mnt_new_table_from_file(path.c_str()));
  if (!table) return fail_errno("cannot read the mount table " + path.string());
  std::unique_ptr<libmnt_iter, IterDeleter> iter(mnt_new_iter(MNT_ITER_FORWARD));
  if (!iter) return fail("cannot read the mount table " + path.string() + ": out of memory");
  std::vector<Mount> mounts;
  libmnt_fs* fs = nullptr;
  while (mnt_table_next_fs(table.get(), iter.get(), &fs) == 0) {
    Mount mount;
    mount.source = or_empty(mnt_fs_get_source(fs));
    mount.target = or_empty(mnt_fs_get_target(fs));
    mount.fstype = or_empty(mnt_fs_get_fstype(fs));
    mount.options = or_empty(mnt_fs_get_options(fs));
    mount.devno = mnt_fs_get_devno(fs);
    mounts.push_back(std::move(mount));
  }
  return mounts;
}

std::optional<std::filesystem::path> first_mount_of(dev_t devno,
                                                    const std::filesystem::path& path) {
  auto table = read_mount_table(path);
  if (!table) return std::nullopt;
  for (const Mount& mount : *table) {
    if (mount.devno == devno) return mount.target;
  }
  return std::nullopt;
}

}  // namespace maya::mounts
