// The host's volume service in a realm (issue 16): a decorator over the host's own
// VolumeService that makes jiva volumes realm objects.
//   - create records the volume in etcd (volumes/NAME) with its replicas placed on distinct
//     hosts (lib/realm/placement); each of those hosts makes and shares its replica by itself
//     (RealmReplicas), and create waits, bounded, until they are shared;
//   - list and get show every realm volume, attached here or not;
//   - the first mount or attach on a host attaches the volume there: an attachment key under
//     this host's lease (one writer: another host's attempt fails while this host lives), the
//     generation bumped, and a local jiva volume (the nexus) made over the replicas' shares,
//     taking them over from any earlier owner (fencing); the last unmount or detach gives it
//     up again;
//   - delete removes the record (refused while another host has it attached); the hosts then
//     destroy their replicas.
// Volumes of other drivers (local) stay this host's own. Everything else goes to the host's
// service unchanged.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "drivers/volume_service.h"
#include "lib/realm/host_agent.h"
#include "lib/realm/host_record.h"
#include "lib/realm/volume_record.h"

namespace maya::daemon {

// Realm volumes are jiva volumes: replicas on other hosts, reached over iSCSI. Other drivers'
// volumes stay this host's own.
inline bool realm_driver(const std::string& storage_driver) {
  return storage_driver == "jiva";
}

class RealmVolumes final : public drivers::VolumeService {
 public:
  struct Options {
    std::string host_id;
    std::string host_name;
    std::chrono::seconds share_wait{30};  // how long create waits for the replicas' shares
    std::string default_fstype;           // [volume.defaults] fstype, for a record without one
    std::string attach_mode;              // [volume.defaults] attach
    std::filesystem::path state_file;     // <state>/realm-attached.json: taken_, kept
    // An EBS volume id (vol-…) for a volume created without one (not through the EBS API):
    // recorded with the volume, so that every host's EBS API names it alike. Injected, so
    // that the realm's code does not depend on the API's.
    std::function<std::string()> new_ebs_id;
  };
  RealmVolumes(std::unique_ptr<drivers::VolumeService> local, realm::HostAgent& agent,
               Options options);

  // The life cycle, realm-aware.
  Result<drivers::VolumeInfo> create(const drivers::VolumeSpec& spec) override;
  Result<void> remove(const std::string& name, bool force) override;
  Result<void> remove(const std::string& name, bool force, bool with_snapshots) override;
  Result<std::filesystem::path> mount(const std::string& name, const std::string& id) override;
  Result<void> unmount(const std::string& name, const std::string& id) override;
  Result<std::filesystem::path> path(const std::string& name) override;
  Result<drivers::VolumeInfo> get(const std::string& name) override;
  Result<std::vector<drivers::VolumeInfo>> list() override;
  Result<std::filesystem::path> attach(const std::string& name) override;
  Result<void> detach(const std::string& name) override;

  // The rest: this host's volumes as they are.
  Result<std::string> add_replica(const std::string& volume, const std::string& pool) override;
  Result<void> remove_replica(const std::string& volume, const std::string& id) override;
  Result<void> fail_replica(const std::string& volume, const std::string& id,
                            const std::string& reason) override;
  Result<std::vector<std::string>> rebuild(const std::string& volume) override;
  Result<drivers::SnapshotInfo> create_snapshot(const std::string& volume,
                                                const std::string& snapshot) override;
  Result<std::vector<drivers::SnapshotInfo>> list_snapshots(const std::string& volume) override;
  Result<void> delete_snapshot(const std::string& volume, const std::string& snapshot) override;
  Result<void> revert_snapshot(const std::string& volume, const std::string& snapshot) override;
  Result<std::vector<drivers::HostSnapshot>> all_snapshots() override;
  Result<void> delete_any_snapshot(const std::string& volume, const std::string& snapshot) override;
  Result<drivers::ResizeInfo> resize(const std::string& name, std::uint64_t size_bytes) override;
  Result<std::vector<std::string>> detach_when_released(const std::string& name) override;
  Result<void> freeze(const std::string& name, bool frozen) override;
  std::vector<std::string> reconcile() override;
  std::vector<drivers::TargetHost*> target_hosts() const override;
  void configure(drivers::VolumeSettings settings) override;
  Result<drivers::StoreSpace> store_space() override;

  // A nexus here whose volume another host now holds (a failover while this host was away), or
  // whose record is gone: its target is stopped and the local volume removed (its replicas are
  // the realm's, untouched). Returns one line per volume dropped, for the log.
  std::vector<std::string> drop_stale();

  // Drains (`maya realm drain HOST`, realm_drain.cpp): for each realm volume attached here with
  // a replica on a draining host, one step of its move (a new replica placed on another host,
  // added to the nexus, rebuilt; then the drained one removed). Detached volumes of a drain
  // this host asked for are attached here to be moved, and given up after. Returns one line
  // per step taken, for the log.
  std::vector<std::string> move_off_drained();

 private:
  Result<std::optional<realm::VolumeRecord>> record(const std::string& name,
                                                    std::int64_t* revision = nullptr);
  bool is_local(const std::string& name);
  // Makes the nexus here unless there is one; `took` says whether this call made it.
  Result<void> ensure_here(const std::string& name, bool* took);
  // Attaches here; `for_drain`: only to move a replica off a drained host (realm_drain.cpp).
  Result<void> take(realm::VolumeRecord volume, std::int64_t revision, bool for_drain = false);
  // One step of moving `name`'s replica off a draining host (realm_drain.cpp); "" when there
  // was nothing to do or it waits (a share, a rebuild).
  Result<std::string> move_step(const std::string& name, const realm::HostList& hosts);
  Result<void> give_up(const std::string& name);  // the nexus goes, the attachment too
  Result<void> give_up_if_idle(const std::string& name);
  Result<void> release_attachment(const std::string& name);
  void save_taken();  // under mutex_
  struct Children {
    std::vector<std::string> uris;  // with their secrets
    std::vector<std::string> ids;   // "r1"...
  };
  Result<Children> share_uris(const realm::VolumeRecord& volume);
  Result<realm::VolumeRecord> place(const drivers::VolumeSpec& spec);
  void wait_for_shares(const realm::VolumeRecord& volume, drivers::VolumeInfo& info);
  drivers::VolumeInfo info_of(const realm::VolumeRecord& volume,
                              const std::optional<realm::Attachment>& attached);
  Result<std::optional<realm::Attachment>> attachment(const std::string& name);

  std::unique_ptr<drivers::VolumeService> local_;
  realm::HostAgent& agent_;
  const Options options_;
  std::mutex mutex_;  // one attach or give-up at a time; guards taken_
  // Volume → the generation this host attached it at: an attachment lost with the host's lease
  // (etcd away longer than the TTL) is taken again only if nobody took the volume meanwhile.
  std::map<std::string, std::uint64_t> taken_;
  // Volumes attached here only to move a replica off a drained host: given up once moved
  // (under mutex_; also kept in the attachment, "for": "drain", across restarts).
  std::set<std::string> drain_held_;
  class Using;                             // a mount or attach under way (realm_attach.cpp)
  std::map<std::string, unsigned> using_;  // volume → mounts and attaches under way (mutex_)
  // Realm thread only: volume → why its move waits (logged once), and when a failed attach for
  // a move may be tried again (each try bumps the generation in etcd).
  std::map<std::string, std::string> move_errors_;
  std::map<std::string, std::chrono::steady_clock::time_point> take_after_;
};

}  // namespace maya::daemon
