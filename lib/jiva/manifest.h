// A jiva volume on disk: <store>/<name>/ holds
//   jiva.json    the manifest: size, IQN, the target's port, the replicas (written atomically)
//   chap.json    the volume's CHAP credentials, mode 0600 (absent when [iscsi] chap = false)
//   r1/ r2/ …    one directory per replica (file:// URIs), each with data.img
//   target.log   what the volume's target process logs
// The storage driver writes these; `maya target run` reads them. Paths of the running target
// (pidfile, control socket, FUSE mount) live under <run>/targets/.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "lib/common/result.h"

namespace maya::jiva {

namespace fs = std::filesystem;

struct ReplicaRef {
  std::string id;   // "r1"
  std::string uri;  // "file:///opt/maya-store/db/r1" (later "tcp://host:port")
  // Where snapshots taken from this replica live: a directory on its file system, so that a
  // snapshot is a reflink (set for replicas on disk pools; empty: <volume>/snapshots/).
  std::string snapshots;
};

struct Manifest {
  std::string name;
  std::uint64_t size_bytes = 0;
  bool thin = true;
  std::uint32_t block_size = 512;
  std::string iqn;
  std::uint16_t port = 0;
  std::string created;  // ISO 8601, UTC
  std::vector<ReplicaRef> replicas;
  unsigned last_replica = 0;    // the highest replica number ever given (ids are never reused)
  std::string attach = "auto";  // how it attaches to this host: auto | iscsi | fuse
  // "claim_remote" (written only when true): the next start of the target preempts another
  // owner's reservation of the remote replicas (a volume moved here from a dead host), and then
  // clears it (clear_claim_remote) so that no later start ever preempts again.
  bool claim_remote = false;
  // "quorum" (written only when true): writes need a majority of the replicas (a realm volume:
  // see VolumeSpec::quorum_writes).
  bool quorum = false;
  // "epoch" (written only when set): the realm owner's epoch (VolumeSpec::realm_epoch).
  std::uint64_t epoch = 0;
};

struct ChapSecret {
  std::string user;
  std::string secret;
};

// iqn.2026-11.io.maya:<name>. Names with characters an IQN cannot hold (upper case, '_') are
// lowered, '_' becomes '-', and a hash of the real name keeps them distinct: "Db" → "db-…".
std::string iqn_for(const std::string& volume);

// The directory of a file:// replica URI; an error for any other scheme.
Result<fs::path> replica_dir(const ReplicaRef& replica);
std::string file_uri(const fs::path& dir);

inline fs::path manifest_file(const fs::path& volume_dir) {
  return volume_dir / "jiva.json";
}
inline fs::path chap_file(const fs::path& volume_dir) {
  return volume_dir / "chap.json";
}
inline fs::path target_log(const fs::path& volume_dir) {
  return volume_dir / "target.log";
}
inline fs::path replica_data(const fs::path& replica_dir) {
  return replica_dir / "data.img";
}

// Where a running target keeps its pidfile (flock'd while it runs), control socket and
// FUSE mount, under the run directory.
struct TargetPaths {
  fs::path pidfile, socket, fuse_dir;
};
inline TargetPaths target_paths(const fs::path& run_dir, const std::string& volume) {
  fs::path dir = run_dir / "targets";
  return {dir / (volume + ".pid"), dir / (volume + ".sock"), dir / (volume + ".fuse")};
}

Result<Manifest> read_manifest(const fs::path& volume_dir);
Result<void> write_manifest(const fs::path& volume_dir, const Manifest& manifest);
// Takes "claim_remote" out of jiva.json, durably (atomic replace, synced), leaving every other
// field of the file as it is, fields this build does not know too.
Result<void> clear_claim_remote(const fs::path& volume_dir);

// nullopt-like empty user when the file does not exist.
Result<ChapSecret> read_chap(const fs::path& volume_dir);
Result<void> write_chap(const fs::path& volume_dir, const ChapSecret& chap);
// A random CHAP secret of 16 letters and digits (RFC 7143 wants at least 12 bytes).
Result<std::string> random_secret();

}  // namespace maya::jiva
