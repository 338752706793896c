// FuseFrontend: a volume as one file on this host, for hosts without a kernel iSCSI initiator.
// The target process mounts a FUSE file system at <run>/targets/NAME.fuse holding a single file,
// "volume", of the volume's size; the OS driver binds a loop device to it. Every read, write,
// flush and discard of that file goes to the same BlockBackend the iSCSI frontend serves, so
// replication and snapshots apply unchanged.
//
// It speaks the kernel's FUSE protocol directly on /dev/fuse (linux/fuse.h) rather than through
// libfuse, for one reason: a target that crashes is restarted, and the new process must take
// over the live connection (the /dev/fuse descriptor, which the daemon keeps a copy of) without
// a second INIT; libfuse cannot adopt an initialised connection. On kernels with
// FUSE_NOTIFY_RESEND (6.9+), requests the dead process had read but not answered are sent again.
// Files are opened with FOPEN_DIRECT_IO and FOPEN_PARALLEL_DIRECT_WRITES: no page cache here
// (the file system above the loop device has its own), several requests in flight at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "lib/block/backend.h"
#include "lib/common/fd.h"
#include "lib/common/result.h"
#include "lib/jiva/fuse_requests.h"

namespace maya::jiva {

class FuseUring;

class FuseFrontend {
 public:
  static constexpr const char* kFileName = "volume";

  // Mounts a new FUSE file system at `mountpoint` (created if missing) and serves it: over
  // io_uring when `io_uring` asks for it ([volume.defaults] fuse_transport) or MAYA_FUSE_IO_URING
  // is "1" in the environment, and the kernel offers it; otherwise through /dev/fuse.
  static Result<std::unique_ptr<FuseFrontend>> mount(const std::filesystem::path& mountpoint,
                                                     block::BlockBackend& backend,
                                                     const std::string& volume, bool io_uring);
  // Serves a connection that is already mounted at `mountpoint`: `fd` is its /dev/fuse
  // descriptor, inherited from the daemon after a restart. Asks the kernel to resend what the
  // previous process left unanswered.
  static Result<std::unique_ptr<FuseFrontend>> resume(Fd fd,
                                                      const std::filesystem::path& mountpoint,
                                                      block::BlockBackend& backend);
  // Stops serving and leaves the mount in place (and the ring file, fuse_uring.h): a restarted
  // target resumes it.
  ~FuseFrontend();
  FuseFrontend(const FuseFrontend&) = delete;
  FuseFrontend& operator=(const FuseFrontend&) = delete;

  // Unmounts (fails while the file is in use, e.g. bound to a loop device) and stops serving.
  Result<void> unmount();

  int fd() const { return fuse_.get(); }
  const std::filesystem::path& mountpoint() const { return mountpoint_; }
  std::filesystem::path file() const { return mountpoint_ / kFileName; }
  std::uint64_t requests() const;
  // How requests reach this process: "io_uring" (FUSE over io_uring, fuse_uring.h) or "dev_fuse"
  // (read and writev on /dev/fuse, also the fallback).
  std::string transport() const;

  // The backend's size changed (a volume grown in place): the kernel drops the file's cached
  // attributes (FUSE_NOTIFY_INVAL_INODE), then a stat() through the mount loads the new size
  // into the kernel's inode, so that stat() and LOOP_SET_CAPACITY on a loop device bound to the
  // file both see it once this returns. An error when the kernel still shows another size.
  Result<void> capacity_changed();

  // Decodes and answers one request (the bytes a read of /dev/fuse gives) as a served
  // connection does, the reply written to `out` (a pipe, /dev/null): decoding without a mount,
  // for tests and fuzzing. False once the request ends the connection (FUSE_DESTROY).
  static bool answer(int out, std::span<std::uint8_t> request, block::BlockBackend& backend);

 private:
  FuseFrontend(Fd fuse, std::filesystem::path mountpoint, block::BlockBackend& backend);
  void start(unsigned workers);
  void stop();
  void serve();
  // Answers one request (the bytes read from /dev/fuse) by the opcode table (fuse_requests);
  // false once the connection is gone.
  bool handle(std::span<std::uint8_t> request, std::vector<std::uint8_t>& scratch);

  Fd fuse_;
  fuse::Session session_;
  std::unique_ptr<FuseUring> uring_;  // when the kernel offers FUSE over io_uring
  Fd wake_;                           // eventfd that tells the workers to stop
  std::filesystem::path mountpoint_;
  block::BlockBackend& backend_;
  std::vector<std::thread> workers_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> requests_{0};
};

}  // namespace maya::jiva
