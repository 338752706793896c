#include "drivers/storage/jiva/jiva_storage_driver.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>

#include "drivers/storage/common/loop_device.h"
#include "drivers/storage/common/tcp_port.h"
#include "drivers/storage/common/volume_dir.h"
#include "lib/common/errno_text.h"
#include "lib/common/fd.h"
#include "lib/common/files.h"
#include "lib/common/log.h"
#include "lib/common/names.h"
#include "lib/common/parallel.h"
#include "lib/common/time_format.h"
#include "lib/jiva/manifest.h"
#include "lib/jiva/port_claims.h"
#include "lib/jiva/remote_replicas.h"

namespace maya::drivers::jiva {
namespace {

namespace fs = std::filesystem;
using namespace storage;
using maya::jiva::Manifest;

constexpr std::uint64_t kSectorSize = 512;

// An exclusive lock on the whole store (its directory) while a volume takes a port and a name.
Result<Fd> lock_store(const fs::path& store) {
  Fd fd(::open(store.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return fail_errno("cannot open " + store.string());
  while (::flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return fail_errno("cannot lock " + store.string());
  }
  return fd;
}

// Every jiva volume directory of the store (names that are valid and hold a manifest).
std::vector<std::string> volume_names(const fs::path& store) {
  std::vector<std::string> names;
  std::error_code ec;
  for (auto it = fs::directory_iterator(store, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    std::error_code exists_ec;
    if (validate_volume_name(name) && fs::exists(maya::jiva::manifest_file(it->path()), exists_ec))
      names.push_back(std::move(name));
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The ids of a new volume's remote replicas: the spec's own (the realm keeps each replica's id
// across owners, since its journal names its fellows by id), or r(local+1).. by position.
Result<std::vector<std::string>> remote_replica_ids(const VolumeSpec& spec, unsigned local) {
  std::vector<std::string> ids;
  if (spec.remote_replica_ids.empty()) {
    for (std::size_t i = 0; i < spec.remote_replicas.size(); ++i)
      ids.push_back("r" + std::to_string(local + i + 1));
    return ids;
  }
  if (spec.remote_replica_ids.size() != spec.remote_replicas.size())
    return fail("volume " + spec.name + ": " + std::to_string(spec.remote_replica_ids.size()) +
                " replica ids for " + std::to_string(spec.remote_replicas.size()) +
                " remote replicas");
  std::set<std::string> seen;
  for (const std::string& id : spec.remote_replica_ids) {
    const bool digits =
        id.size() >= 2 && id.size() <= 6 && id[0] == 'r' && id[1] != '0' &&
        std::all_of(id.begin() + 1, id.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits || std::stoul(id.substr(1)) <= local || !seen.insert(id).second)
      return fail("volume " + spec.name + ": \"" + id + "\" is not a fresh replica id");
    ids.push_back(id);
  }
  return ids;
}

}  // namespace

JivaStorageDriver::JivaStorageDriver(JivaOptions options) : options_(std::move(options)) {
  std::error_code ec;
  fs::path store = fs::absolute(options_.store_dir, ec).lexically_normal();
  if (!ec) options_.store_dir = store;
  fs::path run = fs::absolute(options_.run_dir, ec).lexically_normal();
  if (!ec) options_.run_dir = run;
  supervisor_ = std::make_unique<TargetSupervisor>(TargetSupervisor::Options{
      options_.target_command, options_.store_dir, options_.run_dir, options_.address,
      options_.target_args,
      [this](const std::string& volume, const std::map<std::string, std::uint16_t>& serving) {
        return preflight(volume, serving);
      }});
}

std::string JivaStorageDriver::remedy(const std::string& name) const {
  return "; fix it and run `maya load` to try again, or delete the volume and its data with "
         "`maya volume delete --force " +
         name + "`";
}

std::map<std::string, std::string> JivaStorageDriver::port_problems(
    const std::map<std::string, std::uint16_t>& serving) {
  std::vector<maya::jiva::PortClaim> claims;
  for (const auto& name : volume_names(options_.store_dir)) {
    auto m = maya::jiva::read_manifest(volume_dir(name));
    if (!m) continue;  // broken on its own account
    auto port = serving.find(name);
    const bool now = port != serving.end() && port->second == m->port;
    const bool last = maya::jiva::read_served_port(volume_dir(name)) == m->port;
    claims.push_back({name, m->port, m->created, now, now || last});
  }
  return maya::jiva::port_clashes(claims);
}

std::map<std::string, std::uint16_t> JivaStorageDriver::serving_now() {
  auto serving = supervisor_->serving();
  for (const auto& name : volume_names(options_.store_dir)) {
    if (serving.contains(name) || supervisor_->status(name).pid == 0) continue;
    // Running, but not seen answering by this daemon yet (it adopts it after this check).
    auto status = target(name).status(std::chrono::seconds(2));
    if (!status) continue;
    if (auto port = maya::jiva::portal_port(status->portal)) serving[name] = *port;
  }
  return serving;
}

Result<void> JivaStorageDriver::preflight(const std::string& name,
                                          const std::map<std::string, std::uint16_t>& serving) {
  auto m = maya::jiva::read_manifest(volume_dir(name));
  if (!m) return std::unexpected(m.error());
  auto problems = port_problems(serving);
  if (auto it = problems.find(name); it != problems.end()) return fail(it->second);
  return {};
}

std::string JivaStorageDriver::portal(std::uint16_t port) const {
  return portal_at(options_.address, port);
}

std::string JivaStorageDriver::advertised_portal(std::uint16_t port) const {
  return portal_at(options_.advertise.empty() ? options_.address : options_.advertise, port);
}

std::string JivaStorageDriver::portal_at(std::string host, std::uint16_t port) {
  // A wildcard address is reachable on loopback; show that one.
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<std::uint16_t> JivaStorageDriver::free_port() {
  std::set<std::uint16_t> used;
  for (const auto& name : volume_names(options_.store_dir)) {
    if (auto m = maya::jiva::read_manifest(volume_dir(name))) used.insert(m->port);
  }
  for (unsigned p = options_.port_first; p <= options_.port_last; ++p) {
    auto port = static_cast<std::uint16_t>(p);
    if (!used.contains(port) && tcp_bindable(options_.address, port)) return port;
  }
  return fail("no free port left in [iscsi] target_ports " + std::to_string(options_.port_first) +
              "-" + std::to_string(options_.port_last) + " (" + std::to_string(used.size()) +
              " taken by volumes, the others by other programs); widen the range");
}

Result<StorageVolume> JivaStorageDriver::create(const VolumeSpec& spec) {
  MAYA_TRY(valid, validate_volume_name(spec.name));
  const std::string& name = spec.name;
  MAYA_TRY(clone, clone_source(spec));
  const std::optional<CloneSource>& origin = *clone;
  const std::uint64_t wanted = spec.size_bytes != 0 ? spec.size_bytes : origin ? origin->size : 0;
  if (wanted == 0) return fail("volume " + name + " needs a size greater than 0 bytes");
  if (wanted > UINT64_MAX - kSectorSize)
    return fail("volume " + name + " is too large: " + std::to_string(wanted) + " bytes");
  if (origin && wanted < origin->size)
    return fail("volume " + name + " cannot be smaller than snapshot " + spec.from + " (" +
                std::to_string(origin->size) + " bytes)");
  if (spec.replicas > max_replicas())
    return fail("the jiva driver keeps at most " + std::to_string(max_replicas()) + " replicas");
  const std::uint64_t size = (wanted + kSectorSize - 1) / kSectorSize * kSectorSize;

  MAYA_TRY_VOID(make_dirs(options_.store_dir, 0755));
  const fs::path dir = volume_dir(name);
  {
    MAYA_TRY(store_lock, lock_store(options_.store_dir));
    MAYA_TRY_VOID(reject_existing(dir, name, options_.store_dir));
    Manifest m;
    m.name = name;
    m.size_bytes = size;
    m.thin = spec.thin;
    m.iqn = maya::jiva::iqn_for(name);
    m.created = iso8601();
    for (const auto& other : volume_names(options_.store_dir)) {
      auto om = maya::jiva::read_manifest(volume_dir(other));
      if (om && om->iqn == m.iqn)
        return fail("volume " + name + " would have the same IQN as volume " + other);
    }
    MAYA_TRY(port, free_port());
    m.port = *port;
    m.attach = spec.attach.empty() ? "auto" : spec.attach;

    MAYA_TRY(staging, make_staging_dir(options_.store_dir, name));
    DirGuard cleanup(*staging);
    // Remote replicas (other hosts share them) take the last ids; the others are made here.
    std::vector<maya::jiva::RemoteUri> remote;
    for (const auto& text : spec.remote_replicas) {
      MAYA_TRY(parsed, maya::jiva::parse_remote_uri(text));
      for (const auto& other : remote)
        if (other.uri == parsed->uri)
          return fail("remote replica " + parsed->uri + " is named twice");
      remote.push_back(std::move(*parsed));
    }
    const unsigned total = std::max<unsigned>(spec.replicas, static_cast<unsigned>(remote.size()));
    const unsigned local = total - static_cast<unsigned>(remote.size());
    std::vector<std::string> ids;
    for (unsigned i = 1; i <= (remote.empty() ? std::max(1u, local) : local); ++i)
      ids.push_back("r" + std::to_string(i));
    // Replicas on disk pools are made in place (a rename cannot cross file systems): the
    // guards take them away unless the volume is published.
    MAYA_TRY(placed,
             place_replicas(name, ids, size, spec.thin, spec.pools, spec.allow_same_pool, nullptr));
    std::vector<std::unique_ptr<DirGuard>> pool_dirs;
    for (const auto& p : *placed)
      if (!p.dir.empty()) pool_dirs.push_back(std::make_unique<DirGuard>(p.dir));
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const fs::path& on_pool = (*placed)[i].dir;
      const fs::path rdir = on_pool.empty() ? *staging / ids[i] : on_pool;
      MAYA_TRY_VOID(make_dirs(rdir, 0700));
      const fs::path data_file = maya::jiva::replica_data(rdir);
      if (origin) {
        MAYA_TRY_VOID(clone_into(*origin, data_file, size, name));
      } else {
        MAYA_TRY(data, make_data_file(data_file, size, spec.thin, name,
                                      on_pool.empty() ? options_.store_dir : on_pool));
      }
      m.replicas.push_back({ids[i], maya::jiva::file_uri(on_pool.empty() ? dir / ids[i] : rdir),
                            (*placed)[i].snapshots_dir.string()});
    }
    std::map<std::string, maya::jiva::ChapSecret> secrets;
    MAYA_TRY(remote_ids, remote_replica_ids(spec, static_cast<unsigned>(m.replicas.size())));
    unsigned last = static_cast<unsigned>(m.replicas.size());
    for (std::size_t i = 0; i < remote.size(); ++i) {
      const std::string& id = (*remote_ids)[i];
      if (!remote[i].chap.user.empty()) secrets[id] = remote[i].chap;
      m.replicas.push_back({id, remote[i].uri, ""});
      last = std::max(last, static_cast<unsigned>(std::stoul(id.substr(1))));
    }
    if (!secrets.empty()) MAYA_TRY_VOID(maya::jiva::write_replica_chap(*staging, secrets));
    m.last_replica = last;
    m.claim_remote = spec.claim_remote_replicas && !remote.empty();
    m.quorum = spec.quorum_writes;
    m.epoch = spec.realm_epoch;
    MAYA_TRY_VOID(maya::jiva::write_manifest(*staging, m));
    if (options_.chap) {
      MAYA_TRY(secret, maya::jiva::random_secret());
      MAYA_TRY_VOID(maya::jiva::write_chap(*staging, {name, *secret}));
    }
    MAYA_TRY_VOID(publish(*staging, dir, name, options_.store_dir));
    cleanup.keep();
    for (auto& guard : pool_dirs) guard->keep();
  }
  if (auto started = supervisor_->ensure(name); !started) {
    (void)supervisor_->stop(name);
    if (auto m = maya::jiva::read_manifest(dir)) remove_pool_replicas(*m);
    if (auto undone = discard(dir, name, options_.store_dir); !undone)
      log::warn(undone.error().message);
    return fail("volume " + name + " was not created", started.error());
  }
  log::info("created jiva volume " + name + " (" + std::to_string(size) + " bytes, " +
            (spec.thin ? "thin" : "thick") + ") in " + dir.string());
  return inspect(name);
}

Result<void> JivaStorageDriver::remove(const std::string& name) {
  MAYA_TRY(valid, validate_volume_name(name));
  const fs::path dir = volume_dir(name);
  MAYA_TRY(lock, lock_volume(dir, name));
  MAYA_TRY(volume, describe(name));  // a damaged volume too: it can always be deleted
  if (volume->device)
    return fail("volume " + name + " is attached as " + volume->device->string() +
                "; detach it before deleting it");
  if (auto status = target(name).status(std::chrono::seconds(2)); status && status->sessions > 0) {
    return fail("volume " + name + " has " + std::to_string(status->sessions) +
                " iSCSI session(s) open; log the initiators out before deleting it");
  }
  // Snapshots outlive their volume; refused here, before anything changed, if they cannot.
  MAYA_TRY(kept, keep_snapshots(name));
  if (supervisor_->status(name).pid != 0) {  // a FUSE file nothing binds any more
    if (auto withdrawn = target(name).withdraw_fuse(); !withdrawn)
      return fail("cannot delete volume " + name, withdrawn.error());
  }
  supervisor_->drop_fuse(name);
  auto manifest = maya::jiva::read_manifest(dir);
  auto secrets = maya::jiva::read_replica_chap(dir);  // read before the directory goes
  // Renamed away first: no supervisor restarts the target of a volume without a manifest.
  MAYA_TRY_VOID(discard(dir, name, options_.store_dir));
  MAYA_TRY(stopped, supervisor_->stop(name));
  // Its remote replicas, once nothing writes to them: free for another volume.
  if (manifest && secrets) release_remote_replicas(*manifest, *secrets);
  // Its replicas on disk pools, once nothing serves them.
  if (manifest) remove_pool_replicas(*manifest);
  log::info("deleted jiva volume " + name);
  return {};
}

Result<StorageVolume> JivaStorageDriver::describe(const std::string& name) {
  const fs::path dir = volume_dir(name);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return fail("volume " + name + " does not exist");
  auto bindings = bound_loop_devices();
  if (!bindings) return std::unexpected(bindings.error());
  StorageVolume v;
  v.name = name;
  v.location = dir;
  if (auto devices = devices_backed_by_path(*bindings, fuse_file(name)); !devices.empty()) {
    v.device = devices.front();
    v.attach = "fuse";
  }
  auto m = maya::jiva::read_manifest(dir);
  if (!m) {  // shown (and deletable), never served
    TargetStatus target = supervisor_->status(name);
    v.broken = m.error().message + remedy(name);
    IscsiExport e;
    e.target_pid = target.pid;
    e.target_state = "broken";
    e.target_restarts = target.restarts;
    e.last_event = target.last_event;
    v.iscsi = std::move(e);
    return v;
  }
  v.size_bytes = m->size_bytes;
  v.attach_mode = m->attach;
  if (!v.device && options_.iscsi != nullptr) {
    if (auto device = options_.iscsi->device(m->iqn, portal(m->port))) {
      v.device = *device;
      v.attach = "iscsi";
    }
  }
  for (const auto& replica : m->replicas) {
    if (auto rdir = maya::jiva::replica_dir(replica))
      v.allocated_bytes += allocated_bytes(maya::jiva::replica_data(*rdir));
  }
  IscsiExport e;
  e.iqn = m->iqn;
  e.portal = advertised_portal(m->port);
  TargetStatus target = supervisor_->status(name);
  e.target_pid = target.pid;
  e.target_state = target.state;
  e.target_restarts = target.restarts;
  e.last_event = target.last_event;
  e.target_log = maya::jiva::target_log(dir).string();
  if (target.state == "broken") v.broken = target.broken + remedy(name);
  if (auto chap = maya::jiva::read_chap(dir); chap) {
    e.chap_user = chap->user;
    e.chap_secret = chap->secret;
  }
  v.iscsi = std::move(e);
  describe_replication(name, v);
  return v;
}

Result<StorageVolume> JivaStorageDriver::inspect(const std::string& name) {
  MAYA_TRY(valid, validate_volume_name(name));
  return describe(name);
}

// Each describe asks the volume's target for its status (up to 3 s when it is wedged): up to 16
// at once, so that a listing (docker volume ls, a metrics scrape) costs a few of those, not one
// per volume. describe only reads (files, the supervisor under its lock, the targets' APIs), as
// concurrent requests already do.
Result<std::vector<StorageVolume>> JivaStorageDriver::list() {
  const std::vector<std::string> names = volume_names(options_.store_dir);
  auto described =
      parallel_map(names, 16, [this](const std::string& name) { return describe(name); });
  std::vector<StorageVolume> volumes;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (described[i]) {
      volumes.push_back(std::move(*described[i]));
    } else {
      log::warn("skipping " + volume_dir(names[i]).string() + ": " + described[i].error().message);
    }
  }
  return volumes;
}

fs::path JivaStorageDriver::fuse_file(const std::string& name) const {
  return maya::jiva::target_paths(options_.run_dir, name).fuse_dir / "volume";
}

std::vector<std::string> JivaStorageDriver::start_targets() {
  std::vector<std::string> notes = logout_stale_sessions();
  // A damaged volume stays down and says why; it never keeps another from serving. Every
  // volume gets a new chance here (maya load), so the checks run again.
  const auto problems = port_problems(serving_now());
  for (const auto& name : volume_names(options_.store_dir)) {
    std::string damaged;
    bool clash = false;
    if (auto m = maya::jiva::read_manifest(volume_dir(name)); !m) {
      damaged = m.error().message;
    } else if (auto it = problems.find(name); it != problems.end()) {
      damaged = it->second;
      clash = true;
    }
    if (!damaged.empty()) {
      // A target on a port another volume owns is stopped; one whose manifest cannot be read
      // now still serves what it read at its start (a mounted volume keeps working).
      supervisor_->mark_broken(name, damaged, clash);
      notes.push_back("volume " + name + " is broken and stays down: " + damaged + remedy(name));
      continue;
    }
    const bool was_running = supervisor_->status(name).pid != 0;
    auto pid = supervisor_->ensure(name);
    if (!pid) {
      notes.push_back(pid.error().message);
      continue;
    }
    notes.push_back("volume " + name + ": " + (was_running ? "adopted" : "started") +
                    " its target (pid " + std::to_string(*pid) + ")");
    // A volume attached through FUSE: keep a copy of its connection again.
    auto status = target(name).status();
    if (status && status->fuse && !supervisor_->has_fuse(name)) {
      auto kept = take_fuse_fd(*pid, status->fuse->fd);
      if (kept) {
        supervisor_->keep_fuse(name, std::move(*kept));
      } else {
        notes.push_back("volume " + name + ": " + kept.error().message);
      }
    }
  }
  return notes;
}

Result<void> JivaStorageDriver::stop_targets() {
  std::string attached;
  for (const auto& name : volume_names(options_.store_dir)) {
    if (auto v = describe(name); v && v->device)
      attached += (attached.empty() ? "" : ", ") + name + " (" + v->device->string() + ")";
  }
  if (!attached.empty())
    return fail("volumes attached to this host would lose their data path: " + attached +
                "; unmount and detach them first");
  supervisor_->stop_all();
  return {};
}

std::vector<TargetHost::Target> JivaStorageDriver::iscsi_targets() {
  // One volume per portal: broken volumes and claimants of another volume's port are left out.
  std::vector<Target> targets;
  // Ranked exactly as start_targets() and the preflight rank: the same owner everywhere.
  const auto problems = port_problems(serving_now());
  for (const auto& name : volume_names(options_.store_dir)) {
    if (problems.contains(name) || supervisor_->status(name).state == "broken") continue;
    if (auto m = maya::jiva::read_manifest(volume_dir(name))) targets.push_back({m->iqn, m->port});
  }
  return targets;
}

}  // namespace maya::drivers::jiva
