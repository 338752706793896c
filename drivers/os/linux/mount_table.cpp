#include "drivers/os/linux/mount_table.h"

#include <libmount/libmount.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "lib/common/errno_text.h"
#include "lib/mounts/mount_table.h"

namespace maya::drivers::linux_os {
namespace {

struct ContextDeleter {
  void operator()(libmnt_context* cxt) const { mnt_free_context(cxt); }
};
using Context = std::unique_ptr<libmnt_context, ContextDeleter>;

// Fails with libmount's explanation (without a trailing period) unless the mount or umount
// call that returned `rc` succeeded. mnt_context_get_excode is meant to be called once.
Result<void> check(libmnt_context* cxt, int rc, const std::string& what) {
  char buf[1024] = {};
  int excode = mnt_context_get_excode(cxt, rc, buf, sizeof buf);
  if (rc == 0 && excode == MNT_EX_SUCCESS) return {};
  std::string text = buf;
  if (text.empty()) {
    int err =
        mnt_context_syscall_called(cxt) ? mnt_context_get_syscall_errno(cxt) : (rc < 0 ? -rc : rc);
    text = err != 0 ? errno_text(err) : "unknown error";
  }
  while (!text.empty() && (text.back() == '.' || text.back() == '\n')) text.pop_back();
  return fail(what + ": " + text);
}

Result<Context> new_context() {
  Context cxt(mnt_new_context());
  if (!cxt) return fail("cannot create a libmount context: out of memory");
  // Everything is given explicitly: no fstab, no /etc/mtab or utab writes, no helpers.
  mnt_context_set_optsmode(cxt.get(), MNT_OMODE_NOTAB);
  mnt_context_disable_mtab(cxt.get(), 1);
  mnt_context_disable_helpers(cxt.get(), 1);
  return cxt;
}

}  // namespace

Result<std::vector<MountEntry>> read_mount_table(const std::filesystem::path& path) {
  MAYA_TRY(table, mounts::read_mount_table(path));
  std::vector<MountEntry> entries;
  entries.reserve(table->size());
  for (auto& mount : *table) {
    entries.push_back({std::move(mount.source), std::move(mount.target), std::move(mount.fstype),
                       std::move(mount.options)});
  }
  return entries;
}

Result<void> libmount_mount(const std::filesystem::path& device,
                            const std::filesystem::path& target, const std::string& fstype,
                            const std::string& options) {
  const std::string what = "cannot mount " + device.string() + " on " + target.string();
  MAYA_TRY(cxt, new_context());
  if (mnt_context_set_source(cxt->get(), device.c_str()) != 0 ||
      mnt_context_set_target(cxt->get(), target.c_str()) != 0 ||
      (!fstype.empty() && mnt_context_set_fstype(cxt->get(), fstype.c_str()) != 0) ||
      (!options.empty() && mnt_context_set_options(cxt->get(), options.c_str()) != 0)) {
    return fail(what + ": libmount refused the request");
  }
  return check(cxt->get(), mnt_context_mount(cxt->get()), what);
}

Result<void> libmount_umount(const std::filesystem::path& target) {
  const std::string what = "cannot unmount " + target.string();
  Context cxt(mnt_new_context());
  if (!cxt) return fail(what + ": out of memory");
  mnt_context_disable_mtab(cxt.get(), 1);
  mnt_context_disable_helpers(cxt.get(), 1);
  if (mnt_context_set_target(cxt.get(), target.c_str()) != 0)
    return fail(what + ": libmount refused the request");
  return check(cxt.get(), mnt_context_umount(cxt.get()), what);
}

}  // namespace maya::drivers::linux_os
