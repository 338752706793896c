// FuseUring: FUSE over io_uring (Linux 6.14+, /sys/module/fuse/parameters/enable_uring) for
// FuseFrontend. INIT stays on /dev/fuse and so do FORGET, INTERRUPT and notifications (the
// frontend keeps its /dev/fuse workers); every other request arrives in a ring entry and is
// answered with COMMIT_AND_FETCH, through the same opcode table (fuse_requests) as /dev/fuse.
//
// The kernel (fs/fuse/dev_uring.c) keeps one queue per possible CPU and turns the ring on once
// every queue has an entry; each worker thread owns an io_uring (SQE128) and a few entries of
// one queue. An entry is two user buffers the kernel remembers by address: a header and a
// 1 MiB payload.
//
// Taking over after a crash. When the process dies, io_uring cancels its commands: entries that
// were waiting become dead, and an entry holding a request keeps it, unanswered, in the queue's
// own processing list, which FUSE_NOTIFY_RESEND does not look at (fuse_resend walks only the
// /dev/fuse devices' lists). It can only be answered by a COMMIT_AND_FETCH naming it, and the
// kernel then reads the answer at the addresses the dead process registered. So the buffers
// live in a shared file (ring_file()), and a restarted target maps that file at the same
// address, takes every request that an entry still holds (recorded per entry in the file),
// answers it and so adopts the entry; entries that were waiting are registered again. A request
// queued while no entry waited is fetched by the next commit on its queue (the frontend sends
// one STATFS from each CPU after a resume).
//
// What cannot be recovered, hence opt-in (MAYA_FUSE_IO_URING=1, fuse_frontend.cpp): a request
// the kernel hands to a waiting entry of a process that is dying is ended with ECANCELED
// (seen on 6.18 with the fuse_request_end tracepoint, from a kworker at the kill: the entry's
// task work runs with IO_URING_F_TASK_DEAD, fuse_uring_send_in_task() in fs/fuse/dev_uring.c),
// and the program above the loop device sees EIO. /dev/fuse never fails a request that way:
// it stays queued or is resent (FUSE_NOTIFY_RESEND).
#pragma once

#include <liburing.h>

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
#include "lib/jiva/fuse_ring_keeper.h"

namespace maya::jiva {

class FuseUring {
 public:
  // The file holding the ring buffers of the connection mounted at `mountpoint`: beside it when
  // that is on tmpfs, else in /dev/shm.
  static std::filesystem::path ring_file(const std::filesystem::path& mountpoint);

  // A new connection (before the mount): the buffers; then open_rings(). The workers
  // register their entries once INIT agreed on io_uring (fuse::Session::uring). An error: serve
  // through /dev/fuse.
  static Result<std::unique_ptr<FuseUring>> create(int fuse_fd,
                                                   const std::filesystem::path& mountpoint,
                                                   block::BlockBackend& backend,
                                                   fuse::Session& session);
  // A connection a previous target served over io_uring (its ring file exists): maps the file at
  // its address and adopts the entries still holding requests. When the file cannot be mapped
  // there, new buffers are registered and the requests the dead process held stay unanswered
  // (logged).
  static Result<std::unique_ptr<FuseUring>> adopt(int fuse_fd,
                                                  const std::filesystem::path& mountpoint,
                                                  block::BlockBackend& backend,
                                                  fuse::Session& session);
  // After the mount (the keeper watches the connection, which exists from then on) and before
  // INIT: a keeper and its rings (fuse_ring_keeper.h). An error: serve through /dev/fuse.
  Result<void> open_rings();
  ~FuseUring();
  FuseUring(const FuseUring&) = delete;
  FuseUring& operator=(const FuseUring&) = delete;

  void start();
  // The workers leave; entries still holding requests are left for a successor (the file stays).
  void stop();
  // The connection ended (unmounted), or never used the ring: the keeper and the file go too.
  void remove_file();

  // Entries registered and not failed: requests come over the ring.
  bool serving() const { return live_.load() > 0; }
  std::uint64_t requests() const { return requests_.load(); }
  std::uint64_t adopted() const { return adopted_.load(); }

  struct Layout;  // the ring file's layout (fuse_uring.cpp)

 private:
  FuseUring(int fuse_fd, std::filesystem::path file, block::BlockBackend& backend,
            fuse::Session& session);
  Result<void> map(bool existing);
  void serve(unsigned worker);

  int fuse_fd_;
  std::filesystem::path file_;
  block::BlockBackend& backend_;
  fuse::Session& session_;
  Fd file_fd_;
  Fd wake_;
  void* base_ = nullptr;
  std::size_t size_ = 0;
  unsigned queues_ = 0;
  unsigned workers_count_ = 0;
  bool adopting_ = false;
  bool existing_ = false;   // the file was there (a resumed connection)
  bool live_ring_ = false;  // the rings of a keeper that survived the previous target
  KeptRings kept_;
  std::atomic<bool> ended_{false};
  std::vector<std::unique_ptr<io_uring>> rings_;
  std::vector<std::thread> workers_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> live_{0};
  std::atomic<std::uint64_t> requests_{0};
  std::atomic<std::uint64_t> adopted_{0};
  std::atomic<bool> said_{false};
};

}  // namespace maya::jiva
