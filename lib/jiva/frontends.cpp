#include "lib/jiva/frontends.h"

#include "lib/common/log.h"

namespace maya::jiva {

Result<void> Frontends::resume_fuse(int fd) {
  std::lock_guard lock(mutex_);
  local_ = true;
  auto resumed = FuseFrontend::resume(Fd(fd), fuse_dir_, backend_);
  if (!resumed) {
    local_ = false;
    return std::unexpected(resumed.error());
  }
  fuse_ = std::move(*resumed);
  log::info("fuse: resumed serving " + fuse_->file().string());
  return {};
}

Result<FuseInfo> Frontends::expose_fuse() {
  std::lock_guard lock(mutex_);
  if (reserved_) return fail("volume " + volume_ + " is being reverted to a snapshot");
  if (!fuse_) {
    local_ = true;  // from now on no login completes; then check that nobody is logged in
    if (std::size_t n = target_->normal_session_count(); n > 0) {
      local_ = false;
      return fail("volume " + volume_ + " has " + std::to_string(n) +
                  " iSCSI session(s); it cannot be attached to this host while an initiator "
                  "uses it");
    }
    auto mounted = FuseFrontend::mount(fuse_dir_, backend_, volume_, fuse_io_uring_);
    if (!mounted) {
      local_ = false;
      return std::unexpected(mounted.error());
    }
    fuse_ = std::move(*mounted);
    log::info("fuse: serving " + fuse_->file().string());
  }
  return *fuse_info();
}

Result<void> Frontends::withdraw_fuse() {
  std::lock_guard lock(mutex_);
  if (fuse_) {
    MAYA_TRY_VOID(fuse_->unmount());
    fuse_.reset();
    log::info("fuse: unmounted " + fuse_dir_.string());
  }
  local_ = false;
  return {};
}

void Frontends::stop_serving() {
  std::lock_guard lock(mutex_);
  fuse_.reset();  // stops the workers; the mount and the daemon's copy of the descriptor stay
}

Result<void> Frontends::reserve(const std::string& why) {
  std::lock_guard lock(mutex_);
  if (fuse_ || reserved_)
    return fail("volume " + volume_ + " is attached to this host; detach it first");
  local_ = true;  // no login completes from now on (admission is checked under the registry lock)
  if (std::size_t n = target_->normal_session_count(); n > 0) {
    local_ = false;
    return fail("volume " + volume_ + " has " + std::to_string(n) +
                " iSCSI session(s); log the initiators out before " + why);
  }
  reserved_ = true;
  return {};
}

void Frontends::release() {
  std::lock_guard lock(mutex_);
  if (!reserved_) return;
  reserved_ = false;
  local_ = false;
}

Result<void> Frontends::capacity_changed() {
  if (target_ != nullptr) target_->capacity_changed();
  std::lock_guard lock(mutex_);
  if (fuse_) MAYA_TRY_VOID(fuse_->capacity_changed());
  return {};
}

std::optional<FuseInfo> Frontends::fuse_info() const {
  if (!fuse_) return std::nullopt;
  return FuseInfo{fuse_->mountpoint().string(), fuse_->file().string(), fuse_->fd(),
                  fuse_->requests(), fuse_->transport()};
}

std::optional<FuseInfo> Frontends::fuse_status() {
  std::lock_guard lock(mutex_);
  return fuse_info();
}

}  // namespace maya::jiva
