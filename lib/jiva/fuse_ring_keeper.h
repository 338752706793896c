// The ring keeper: a small process (`maya target keep-fuse-ring`) that owns the io_urings FUSE
// requests travel on, so that a kill -9 of the target loses none of them.
//
// Why a second process. The kernel hands a FUSE request to a waiting ring entry by queueing task
// work on the task that submitted the entry's command; when that task is dying the work runs
// with the "terminate" flag and the request is failed (ECANCELED, fuse_uring_send_in_task() in
// fs/fuse/dev_uring.c). The keeper creates the rings with IORING_SETUP_SQPOLL: every command is
// then submitted by the keeper's SQ thread, which lives as long as the keeper, whatever happens
// to the target. The target (and after a crash, its successor) takes the rings' descriptors with
// pidfd_getfd and fills the SQ and reaps the CQ as before; a request that arrives while no target
// runs waits, copied into its entry, with its completion in the CQ.
//
// The SQ thread copies requests into the entries' buffers in the keeper's address space: the
// keeper maps the ring file at the address the target registered the buffers at (the file says
// where), and the iovecs a REGISTER names live in the file too.
//
// The keeper does nothing else: it waits until the FUSE connection ends (unmounted or aborted:
// /dev/fuse polls with POLLERR), then leaves, and its rings go with it.
#pragma once

#include <liburing.h>
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <vector>

#include "lib/common/fd.h"
#include "lib/common/result.h"

namespace maya::jiva {

inline constexpr unsigned kMaxKeptRings = 512;

// In the ring file, at KeeperRecord::kOffset: the target writes the first four fields before it
// starts the keeper, the keeper the rest.
struct KeeperRecord {
  static constexpr std::size_t kOffset = 512;
  std::uint64_t base;   // where the file is mapped (the buffers' addresses)
  std::uint64_t size;   // how much of it
  std::uint32_t rings;  // io_urings to make
  std::uint32_t depth;  // SQ entries of each
  std::uint32_t state;  // kStarting, kReady, kFailed
  std::int32_t error;   // errno, when kFailed
  std::int32_t pid;
  std::uint32_t reserved;
  std::uint64_t start_time;  // the keeper's, in clock ticks since boot (/proc/PID/stat)
  io_uring_params params;    // of every ring (they are made alike)
  std::int32_t fds[kMaxKeptRings];
};

enum KeeperState : std::uint32_t { kKeeperStarting = 0, kKeeperReady = 1, kKeeperFailed = 2 };

// The keeper's whole life (`maya target keep-fuse-ring --ring-file FILE`, /dev/fuse as fd 3).
int run_fuse_ring_keeper(const std::filesystem::path& ring_file, int fuse_fd);

// A keeper and the descriptors of its rings, as this process holds them.
struct KeptRings {
  pid_t pid = -1;
  bool ours = false;  // started by this process (which reaps it)
  std::vector<Fd> fds;
};

// Starts a keeper for the ring file mapped at `record` (its first four fields filled in) and
// takes its rings, waiting for it a few seconds at most.
Result<KeptRings> start_ring_keeper(const std::filesystem::path& ring_file, int fuse_fd,
                                    KeeperRecord& record);

// Takes the rings of the keeper `record` names, when that keeper still runs (a previous target
// started it); an error otherwise.
Result<KeptRings> attach_ring_keeper(const KeeperRecord& record);

// Kills the keeper a ring file records, if it still runs: its rings must not outlive buffers
// that are about to be replaced.
void abandon_ring_keeper(const std::filesystem::path& ring_file);

// Ends a keeper this process started (the connection is gone) and reaps it.
void end_ring_keeper(KeptRings& kept);

}  // namespace maya::jiva
