// Frontends: how a jiva volume is reached besides its iSCSI portal (FUSE on this host), and the
// rule that only one of them writes at a time: while the FUSE frontend is up, iSCSI logins are
// refused ("service unavailable"), and it cannot come up while an initiator is logged in.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "lib/block/backend.h"
#include "lib/common/result.h"
#include "lib/iscsi_target/target.h"
#include "lib/jiva/fuse_frontend.h"
#include "lib/jiva/target_client.h"

namespace maya::jiva {

class Frontends {
 public:
  // fuse_io_uring: expose_fuse() asks for FUSE over io_uring (FuseFrontend::mount).
  Frontends(block::BlockBackend& backend, std::filesystem::path fuse_dir, std::string volume,
            bool fuse_io_uring)
      : backend_(backend),
        fuse_dir_(std::move(fuse_dir)),
        volume_(std::move(volume)),
        fuse_io_uring_(fuse_io_uring) {}

  void set_target(iscsi_target::Target* t) { target_ = t; }
  bool admits_iscsi() const { return !local_.load(); }
  bool local() const { return local_.load(); }

  // Serves an inherited /dev/fuse descriptor (a restarted target).
  Result<void> resume_fuse(int fd);
  // Mounts the FUSE file (or returns the mounted one); an error says why not (409-worthy when
  // an initiator is logged in).
  Result<FuseInfo> expose_fuse();
  Result<void> withdraw_fuse();
  // Stops answering FUSE requests and leaves the mount to the next target (shutdown).
  void stop_serving();
  // Keeps every frontend out while the volume's data is replaced (revert): no login completes
  // and FUSE cannot come up; fails while one is in use. release() ends it.
  Result<void> reserve(const std::string& why);
  void release();
  // The volume grew: the iSCSI disk reports the new capacity (a unit attention to every
  // nexus) and the FUSE file shows the new size (fuse_frontend.h).
  Result<void> capacity_changed();
  // Empty while the FUSE frontend is down.
  std::optional<FuseInfo> fuse_status();

 private:
  std::optional<FuseInfo> fuse_info() const;  // mutex_ held

  block::BlockBackend& backend_;
  const std::filesystem::path fuse_dir_;
  const std::string volume_;
  const bool fuse_io_uring_;
  iscsi_target::Target* target_ = nullptr;
  std::mutex mutex_;
  std::atomic<bool> local_{false};  // iSCSI logins are refused (FUSE up, or reserved)
  bool reserved_ = false;
  std::unique_ptr<FuseFrontend> fuse_;
};

}  // namespace maya::jiva
