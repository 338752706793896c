// FuseUring: FUSE over io_uring (Linux 6.14+, /sys/module/fuse/parameters/enable_uring) for
// FuseFrontend. INIT stays on /dev/fuse and so do FORGET, INTERRUPT and notifications (the
// frontend keeps its /dev/fuse workers); every other request arrives in a ring entry and is
// answered with COMMIT_AND_FETCH, through the same opcode table (fuse_requests) as /dev/fuse.
//
// The kernel (fs/fuse/dev_uring.c) keeps one queue per possible CPU and turns the ring on once
// every queue has an entry; each worker thread fills one io_uring (SQE128) and serves a few
// entries of one queue. An entry is two user buffers the kernel remembers by address: a header and
// a 1 MiB payload.
//
// The rings belong to a ring keeper (fuse_ring_keeper.h), a small process whose SQ thread
// submits every command: the kernel hands a request to a waiting entry through task work on the
// submitting task, and fails it (ECANCELED) when that task is dying, so the submitter must
// outlive the target. The target takes the rings' descriptors, fills their SQ and reaps their
// CQ; the commands name /dev/fuse and the stop eventfd as fixed files (the SQ thread has none of
// our descriptors), and the buffers live in a shared file (ring_file()) the keeper maps at the
// same address.
//
// Taking over after a crash. The keeper's rings live on, so every entry does: a successor maps
// the file at its address, takes the keeper's rings (pidfd_getfd) and goes on from the kernel's
// SQ tail. Per slot the file records what the dead target did: a request taken and not yet
// answered is run again (its parts were copied aside), an answer written but not published (the
// SQ tail short of the slot's commit) is committed again, and a completion the dead target took
// but left in the CQ is skipped. A request delivered while no target ran waits in the CQ.
//
// When the keeper itself is gone (killed), its rings and waiting entries went with it, and a
// request handed to one of them as it died failed; an entry holding a request keeps it, and a
// new keeper's ring answers it by COMMIT_AND_FETCH (the kernel reads the answer at the addresses
// registered, hence the same mapping), while FUSE_NOTIFY_RESEND does not look at ring entries.
//
// Opt-in ([volume.defaults] fuse_transport): the keeper's SQ thread spins while requests flow,
// which on a small host costs more than the copies io_uring saves (docs/datapath_profile.md).
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
  Result<void> map_rings(const KeeperRecord& record);
  // A worker left while not stopping: when the connection still lives, this process ends
  // (SIGKILL) for a successor to take over.
  void ring_lost(const std::string& why);
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
  std::atomic<bool> lost_{false};
  std::vector<std::unique_ptr<io_uring>> rings_;
  std::vector<std::thread> workers_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> live_{0};
  std::atomic<std::uint64_t> requests_{0};
  std::atomic<std::uint64_t> adopted_{0};
  std::atomic<bool> said_{false};
};

}  // namespace maya::jiva
