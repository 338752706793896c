// The jiva driver's attach and detach: through the kernel's iSCSI initiator (open-iscsi) where
// the host has one, else through a FUSE file served by the volume's target and a loop device.
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "drivers/storage/common/loop_device.h"
#include "drivers/storage/common/volume_dir.h"
#include "drivers/storage/jiva/jiva_storage_driver.h"
#include "lib/common/errno_text.h"
#include "lib/common/log.h"
#include "lib/common/names.h"
#include "lib/jiva/manifest.h"

namespace maya::drivers::jiva {

namespace fs = std::filesystem;
using namespace storage;

Result<Fd> JivaStorageDriver::take_fuse_fd(pid_t pid, int fd) {
  if (fd < 0) return fail("the target did not say which descriptor holds its FUSE connection");
  Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (pidfd.get() < 0) return fail(std::string("pidfd_open: ") + errno_text(errno));
  Fd copy(static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd.get(), fd, 0)));
  if (copy.get() < 0)
    return fail(std::string("cannot keep a copy of the target's FUSE connection: pidfd_getfd: ") +
                errno_text(errno));
  return copy;
}

Result<std::string> JivaStorageDriver::attach_mode(const std::string& configured) const {
  if (configured == "fuse") return std::string("fuse");
  const std::optional<std::string> why =
      options_.iscsi ? options_.iscsi->unavailable() : std::optional<std::string>("no OS driver");
  if (configured == "iscsi") {
    if (why) return fail("attach = iscsi, but " + *why);
    return std::string("iscsi");
  }
  return std::string(why ? "fuse" : "iscsi");  // auto
}

Result<fs::path> JivaStorageDriver::attach(const std::string& name) {
  MAYA_TRY_VOID(validate_volume_name(name));
  MAYA_TRY(lock, lock_volume(volume_dir(name), name));
  MAYA_TRY(volume, describe(name));
  if (volume->device) return *volume->device;
  // A broken target gets another chance from ensure(); a damaged jiva.json cannot.
  if (volume->attach_mode.empty()) return fail("volume " + name + " is broken: " + volume->broken);
  MAYA_TRY(mode, attach_mode(volume->attach_mode));
  MAYA_TRY(pid, supervisor_->ensure(name));
  if (*mode == "iscsi") return attach_iscsi(name);
  MAYA_TRY(fuse, target(name).expose_fuse());
  const fs::path file = fuse_file(name);
  if (!supervisor_->has_fuse(name)) {
    if (auto kept = take_fuse_fd(*pid, fuse->fd); kept) {
      supervisor_->keep_fuse(name, std::move(*kept));
    } else {
      log::warn("volume " + name + ": " + kept.error().message +
                "; a crash of its target would break the attachment");
    }
  }
  auto device = bind_loop_device(file);
  if (!device) {
    (void)target(name).withdraw_fuse();
    supervisor_->drop_fuse(name);
    return fail("cannot attach volume " + name, device.error());
  }
  log::info("attached jiva volume " + name + " as " + device->string() + " (FUSE, " +
            file.string() + ")");
  return device;
}

Result<fs::path> JivaStorageDriver::attach_iscsi(const std::string& name) {
  MAYA_TRY(m, maya::jiva::read_manifest(volume_dir(name)));
  MAYA_TRY(chap, maya::jiva::read_chap(volume_dir(name)));
  IscsiLogin login{portal(m->port), m->iqn, chap->user, chap->secret};
  MAYA_TRY(device, options_.iscsi->login(login));
  log::info("attached jiva volume " + name + " as " + device->string() + " (iSCSI, " +
            login.portal + ")");
  return device;
}

Result<void> JivaStorageDriver::detach(const std::string& name) {
  MAYA_TRY_VOID(validate_volume_name(name));
  MAYA_TRY(lock, lock_volume(volume_dir(name), name));
  MAYA_TRY(bindings, bound_loop_devices());
  for (const auto& device : devices_backed_by_path(*bindings, fuse_file(name))) {
    auto unbound = unbind_loop_device(device);
    if (!unbound) return fail("cannot detach volume " + name, unbound.error());
    log::info("detached jiva volume " + name + " from " + device.string());
  }
  if (supervisor_->status(name).pid != 0) {
    MAYA_TRY_VOID(target(name).withdraw_fuse());
  } else if (supervisor_->has_fuse(name)) {
    // The target is down: nobody will unmount its FUSE file; without our descriptor the mount
    // would be dead and block the next attach.
    const fs::path dir = maya::jiva::target_paths(options_.run_dir, name).fuse_dir;
    if (::umount2(dir.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
      log::warn("volume " + name + ": cannot unmount " + dir.string() + ": " + errno_text(errno));
  }
  supervisor_->drop_fuse(name);
  if (options_.iscsi != nullptr && !options_.iscsi->unavailable()) {
    auto m = maya::jiva::read_manifest(volume_dir(name));
    if (m && options_.iscsi->device(m->iqn, portal(m->port))) {
      MAYA_TRY(out, options_.iscsi->logout(m->iqn, portal(m->port)));
      log::info("detached jiva volume " + name + " (iSCSI logout)");
    }
  }
  return {};
}

Result<void> JivaStorageDriver::release_when_closed(const std::string& name) {
  MAYA_TRY_VOID(validate_volume_name(name));
  MAYA_TRY(lock, lock_volume(volume_dir(name), name));
  MAYA_TRY(volume, describe(name));
  if (volume->attach == "iscsi")
    return fail("volume " + name + " is attached through iSCSI (" +
                (volume->device ? volume->device->string() : std::string("no device")) +
                "): its disk cannot be released while held without pulling it from under its "
                "holders");
  // The loop device on the FUSE file: the target keeps serving that file (the volume stays
  // attached, so it is not stopped) until the kernel drops the device; detach() then withdraws
  // the FUSE file.
  MAYA_TRY(bindings, bound_loop_devices());
  for (const auto& device : devices_backed_by_path(*bindings, fuse_file(name))) {
    auto released = unbind_loop_device_when_closed(device);
    if (!released) return fail("cannot release volume " + name, released.error());
    log::info("jiva volume " + name + ": " + device.string() +
              (*released ? " released" : " is released when its last holder closes it"));
  }
  return {};
}

std::vector<std::string> JivaStorageDriver::logout_stale_sessions() {
  std::vector<std::string> notes;
  if (options_.iscsi == nullptr || options_.iscsi->unavailable()) return notes;
  auto sessions = options_.iscsi->sessions();
  if (!sessions) return {sessions.error().message};
  std::vector<std::string> ours;
  for (const auto& t : iscsi_targets()) ours.push_back(t.iqn);
  for (const auto& s : *sessions) {
    if (!s.iqn.starts_with("iqn.2026-11.io.maya:")) continue;
    if (std::find(ours.begin(), ours.end(), s.iqn) != ours.end()) continue;
    auto out = options_.iscsi->logout(s.iqn, s.portal);
    notes.push_back(out ? "logged out of " + s.iqn + " (no such volume any more)"
                        : out.error().message);
  }
  return notes;
}

}  // namespace maya::drivers::jiva
