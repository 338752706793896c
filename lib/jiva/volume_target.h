// `maya target run --volume NAME`: the process that serves one jiva volume, spawned and
// supervised by the daemon (drivers/storage/jiva). It holds <run>/targets/NAME.pid locked while
// it runs (so there is never a second one, and the daemon can tell it is alive), serves the
// volume's iSCSI target on the manifest's port with the volume's CHAP credentials, and answers
// a small HTTP/JSON control API on <run>/targets/NAME.sock:
//   GET    /v1/status         volume, pid, iqn, portal, started_at, connections, sessions,
//                             replicas, fuse (null or {mountpoint, file, fd, requests})
//   POST   /v1/frontend/fuse  expose the volume as <run>/targets/NAME.fuse/volume (FUSE)
//   DELETE /v1/frontend/fuse  unmount it (fails while a loop device holds it)
//   POST   /v1/resize         grow to the size jiva.json names now (target_client.h has them all)
// One writer at a time: while the FUSE frontend is up, iSCSI logins to the volume are refused
// ("service unavailable"), and it cannot come up while an initiator is logged in.
// It stops cleanly on SIGTERM or SIGINT, leaving a FUSE mount in place for its successor
// (which gets the /dev/fuse descriptor as --fuse-fd); it outlives the daemon that started it.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

namespace maya::jiva {

struct VolumeTargetOptions {
  std::filesystem::path store_dir;
  std::filesystem::path run_dir;
  std::string volume;
  std::string address = "127.0.0.1";  // the portal's IP; the port comes from the manifest
  int fuse_fd = -1;                   // an inherited /dev/fuse descriptor to resume serving
  // [volume.defaults] fuse_transport = "io_uring": a new FUSE attachment asks for FUSE over
  // io_uring (a resumed one follows the previous target's, fuse_uring.h).
  bool fuse_io_uring = false;
  std::uint32_t max_connections = 64;              // [iscsi] max_connections
  std::uint32_t max_connections_per_address = 16;  // [iscsi] max_connections_per_address
  // [volume.defaults] space_warn_percent: warn when a replica's store is this full.
  unsigned space_warn_percent = 90;
  // [replication] io_timeout: a remote replica that takes longer leaves the I/O path.
  std::chrono::milliseconds io_timeout{5000};
  // This host's id ([host] id): with the volume's name, the key that fences its remote
  // replicas against another owner (lib/replica/iscsi_lun.h).
  std::string owner;
};

// Serves until SIGINT/SIGTERM; returns the process exit status. Errors go to the log.
int run_volume_target(const VolumeTargetOptions& options);

}  // namespace maya::jiva
