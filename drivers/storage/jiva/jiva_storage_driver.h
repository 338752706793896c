// Storage driver "jiva" (OpenEBS jiva's design): every volume is an iSCSI target served by its
// own process, `maya target run --volume NAME`, which this driver starts and keeps alive
// (TargetSupervisor). Attach: the target exposes the volume as a file over FUSE, and a loop
// device (direct I/O) binds to it; the driver keeps a copy of the FUSE connection so that a
// target restarted after a crash takes it over and mounted file systems keep working. The volume's
// blocks live in replica directories under <store>/<name>/ (lib/jiva/manifest.h has the layout);
// each target listens on its own port from [iscsi] target_ports, with per-volume CHAP credentials
// unless [iscsi] chap = false.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "drivers/os_driver.h"
#include "drivers/replica_placer.h"
#include "drivers/storage/jiva/target_supervisor.h"
#include "drivers/storage_driver.h"
#include "lib/jiva/target_client.h"

namespace maya::jiva {
struct Manifest;
struct ChapSecret;
struct ReplicaRef;
}  // namespace maya::jiva

namespace maya::drivers::jiva {

struct JivaOptions {
  std::filesystem::path store_dir;
  std::filesystem::path run_dir;
  std::vector<std::string> target_command;  // {"/usr/bin/maya", "target", "run"}
  std::vector<std::string> target_args;     // after the volume's own, e.g. connection caps
  std::string address = "127.0.0.1";        // the targets' portal IP
  std::string advertise;                    // the portal IP shown to initiators; empty: address
  std::uint16_t port_first = 3261, port_last = 3516;
  bool chap = true;
  IscsiAttacher* iscsi = nullptr;  // the host's kernel initiator (attach = iscsi), not owned
  ReplicaPlacer* placer = nullptr;
  // [host] id and [replication] io_timeout: a remote replica the volume no longer uses is
  // given up under the key its target held it with (lib/jiva/remote_replicas.h owner_key).
  std::string owner;
  std::chrono::milliseconds io_timeout{
      5000};  // the host's pools; none: every replica in the volume's dir
};

class JivaStorageDriver final : public StorageDriver,
                                public VolumeGrower,
                                public TargetHost,
                                public ReplicaManager,
                                public SnapshotManager {
 public:
  explicit JivaStorageDriver(JivaOptions options);

  std::string_view name() const override { return "jiva"; }
  unsigned max_replicas() const override { return 16; }

  Result<StorageVolume> create(const VolumeSpec& spec) override;
  Result<void> remove(const std::string& name) override;
  Result<StorageVolume> inspect(const std::string& name) override;
  Result<std::vector<StorageVolume>> list() override;
  Result<std::filesystem::path> attach(const std::string& name) override;
  Result<void> detach(const std::string& name) override;
  // jiva_resize.cpp
  Result<std::uint64_t> grow(const std::string& name, std::uint64_t size_bytes) override;
  // The FUSE attachment's loop device only (its file is served by the target, which runs on);
  // an iSCSI disk is refused.
  Result<void> release_when_closed(const std::string& name) override;

  std::vector<std::string> start_targets() override;
  Result<void> stop_targets() override;
  std::vector<Target> iscsi_targets() override;

  // jiva_replication.cpp
  Result<std::string> add_replica(const std::string& volume, const std::string& pool) override;
  // A replica another host shares (iscsi://), its secret kept in replica-chap.json.
  Result<std::string> add_remote_replica(const std::string& volume, const std::string& uri);
  // The highest replica number the volume ever gave (ids are never reused); an error when it
  // already has the most replicas the driver keeps.
  Result<unsigned> last_replica_number(const maya::jiva::Manifest& m) const;
  // Gives up the remote replicas of `m` (all, or the one named `only`) that the volume no
  // longer uses; a failure is logged, never fatal (the replica's host may be away).
  void release_remote_replicas(const maya::jiva::Manifest& m,
                               const std::map<std::string, maya::jiva::ChapSecret>& secrets,
                               const std::string& only = "");
  Result<void> remove_replica(const std::string& volume, const std::string& id) override;
  Result<void> fail_replica(const std::string& volume, const std::string& id,
                            const std::string& reason) override;
  Result<std::vector<std::string>> rebuild(const std::string& volume) override;
  Result<SnapshotInfo> create_snapshot(const std::string& volume, const std::string& snapshot,
                                       const Quiesce& quiesce = {}) override;
  Result<std::vector<SnapshotInfo>> list_snapshots(const std::string& volume) override;
  Result<void> delete_snapshot(const std::string& volume, const std::string& snapshot) override;
  Result<void> revert_snapshot(const std::string& volume, const std::string& snapshot) override;
  // jiva_kept_snapshots.cpp
  Result<std::vector<KeptSnapshot>> kept_snapshots() override;
  Result<void> delete_kept_snapshot(const std::string& volume,
                                    const std::string& snapshot) override;

 private:
  std::filesystem::path volume_dir(const std::string& name) const {
    return options_.store_dir / name;
  }
  // A free port of the range (not in any manifest, bindable now); store lock held.
  Result<std::uint16_t> free_port();
  Result<StorageVolume> describe(const std::string& name);
  // Volumes that may not use the port their jiva.json names (lib/jiva/port_claims.h), with
  // why; `serving` = the ports running targets serve on. A volume whose target served on its
  // port last (target.served) ranks with those: the one ranking for preflight, maya load and
  // discovery.
  std::map<std::string, std::string> port_problems(
      const std::map<std::string, std::uint16_t>& serving);
  // The ports running targets serve on, asking those the supervisor has not seen answer yet.
  std::map<std::string, std::uint16_t> serving_now();
  // May the target of `name` start now? (TargetSupervisor::Preflight)
  Result<void> preflight(const std::string& name,
                         const std::map<std::string, std::uint16_t>& serving);
  // What to do about a broken volume, appended to its cause.
  std::string remedy(const std::string& name) const;
  // HOST:PORT where this host's initiator logs in ([iscsi] address; a wildcard as loopback).
  std::string portal(std::uint16_t port) const;
  // HOST:PORT shown to initiators elsewhere ([iscsi] advertise, or the above).
  std::string advertised_portal(std::uint16_t port) const;
  static std::string portal_at(std::string host, std::uint16_t port);
  // <run>/targets/NAME.fuse/volume: the file a loop device binds to attach the volume.
  std::filesystem::path fuse_file(const std::string& name) const;
  // attach = auto resolved: "iscsi" where the host's initiator works, else "fuse"
  // (jiva_attach.cpp, with the rest of attach and detach).
  Result<std::string> attach_mode(const std::string& configured) const;
  Result<std::filesystem::path> attach_iscsi(const std::string& name);
  // Sessions of the host's initiator to maya IQNs of volumes that no longer exist.
  std::vector<std::string> logout_stale_sessions();
  static Result<Fd> take_fuse_fd(pid_t pid, int fd);
  // The control API of the volume's target process (lib/jiva/target_client.h).
  maya::jiva::TargetClient target(const std::string& name) const {
    return maya::jiva::TargetClient::of(options_.run_dir, name);
  }

  // Where new replicas `ids` of `volume` go (jiva_placement.cpp): the placer's answer, or the
  // volume's directory for all when the host has none.
  Result<std::vector<ReplicaPlacement>> place_replicas(const std::string& volume,
                                                       const std::vector<std::string>& ids,
                                                       std::uint64_t size, bool thin,
                                                       const std::vector<std::string>& pools,
                                                       bool allow_same_pool,
                                                       const maya::jiva::Manifest* existing);
  // The pool that holds a replica of the manifest ("default" for the volume's own directory).
  std::string pool_of(const maya::jiva::ReplicaRef& replica);
  // Deletes the replica directories of `m` that lie outside the volume's directory (on disk
  // pools); logs what it cannot delete.
  void remove_pool_replicas(const maya::jiva::Manifest& m);

  // <store>/.snapshots/<volume>: the snapshots a deleted volume kept (jiva_kept_snapshots.cpp).
  std::filesystem::path kept_dir(const std::string& volume) const;
  bool has_kept_snapshots(const std::string& volume) const;
  // Moves the volume's complete snapshots to kept_dir (remove, before the volume goes).
  Result<void> keep_snapshots(const std::string& volume);

  // A clone's origin: the snapshot file of VOLUME@SNAPSHOT and its size (jiva_replication.cpp).
  struct CloneSource {
    std::filesystem::path file;
    std::uint64_t size = 0;
  };
  Result<std::optional<CloneSource>> clone_source(const VolumeSpec& spec);
  Result<void> clone_into(const CloneSource& origin, const std::filesystem::path& data,
                          std::uint64_t size, const std::string& volume);
  // The replicas and snapshots of `volume` for inspect (from its target when it answers).
  void describe_replication(const std::string& volume, StorageVolume& v);

  JivaOptions options_;
  std::unique_ptr<TargetSupervisor> supervisor_;
};

}  // namespace maya::drivers::jiva
