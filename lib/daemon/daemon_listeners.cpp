// The daemon's listening sockets: each Unix socket inherited (from systemd, or from the image that
// handed over) or bound, and the iSCSI discovery portal.
#include <sys/stat.h>

#include <algorithm>

#include "lib/common/log.h"
#include "lib/daemon/daemon_server.h"
#include "lib/daemon/discovery_chap.h"
#include "lib/iscsi/discovery.h"

namespace maya::daemon {
namespace fs = std::filesystem;

namespace {

// SendTargets: every volume's target of every host driver, at `address` (the portal's own address
// when that is a wildcard).
iscsi::TargetDirectory discovery_directory(std::vector<drivers::TargetHost*> hosts,
                                           std::string address) {
  return [hosts, address](const std::string& local_host) {
    const bool wildcard = address == "0.0.0.0" || address == "::";
    std::vector<iscsi::TargetRecord> records;
    for (drivers::TargetHost* host : hosts) {
      for (const auto& t : host->iscsi_targets()) {
        records.push_back(
            {t.iqn, {iscsi::format_target_address(wildcard ? local_host : address, t.port, 1)}});
      }
    }
    return records;
  };
}

}  // namespace

// The inherited socket serving `role` at `path`: named for it (by systemd or by the image that
// handed over), or bound there.
InheritedSocket* Daemon::inherited_for(const std::string& role, const fs::path& path) {
  for (InheritedSocket& s : inherited_) {
    if (s.fd < 0 || !is_listening_socket(s.fd)) continue;
    auto bound = unix_socket_path(s.fd);
    bool named = s.name == role || s.name == "maya-" + role;
    if (bound ? bound->lexically_normal() == path.lexically_normal() : named) return &s;
  }
  return nullptr;
}

Result<std::unique_ptr<http::UnixServer>> Daemon::serve_unix(const std::string& role,
                                                             const fs::path& path,
                                                             http::ServerOptions options,
                                                             http::Handler handler) {
  InheritedSocket* s = inherited_for(role, path);
  struct stat st {};
  if (s != nullptr && (::lstat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode))) {
    log::warn("the inherited " + role + " socket's file " + path.string() +
              " is gone; binding a new one");
    ::close(std::exchange(s->fd, -1));
    s = nullptr;
  }
  if (s == nullptr) {
    owned_[role] = true;
    return http::UnixServer::listen(io_, path, std::move(options), std::move(handler));
  }
  options.remove_on_close = s->owned_by_maya;
  owned_[role] = s->owned_by_maya;
  adopted_.push_back("serving the inherited " + role + " socket " + path.string() +
                     (s->owned_by_maya ? "" : " (held by the service manager)"));
  return http::UnixServer::adopt(io_, std::exchange(s->fd, -1), path, std::move(options),
                                 std::move(handler));
}

// One portal that lists every volume's target (SendTargets), when a driver runs targets.
Result<void> Daemon::start_discovery() {
  auto hosts = volumes_->target_hosts();
  if (hosts.empty()) return {};
  MAYA_TRY(options, discovery_options());
  const std::string address =
      config_.iscsi_advertise.empty() ? config_.iscsi_address : config_.iscsi_advertise;
  auto portal =
      iscsi_target::Target::create_discovery(*options, discovery_directory(hosts, address));
  if (!portal) {
    return fail("cannot serve the iSCSI discovery portal on " + options->listen + " (set " +
                    "[iscsi] discovery_port, or 0 for any free port)",
                portal.error());
  }
  discovery_ = std::move(*portal);
  discovery_->start();
  return {};
}

// Where the portal listens (an inherited socket, else [iscsi] address:discovery_port), its
// connection limits, and the host's CHAP credentials when [iscsi] chap.
Result<iscsi_target::TargetOptions> Daemon::discovery_options() {
  iscsi_target::TargetOptions options;
  options.listen =
      iscsi_target::format_endpoint({config_.iscsi_address, config_.iscsi_discovery_port});
  options.limits = {config_.iscsi_max_connections, config_.iscsi_max_connections_per_address};
  if (config_.iscsi_chap) {
    // SendTargets lists every volume: it answers only a login with the host's own credentials.
    auto chap = ensure_discovery_chap(config_);
    if (!chap) return fail("cannot set up the discovery portal's CHAP credentials", chap.error());
    options.chap = *chap;
    options.discovery_auth = true;
  }
  for (InheritedSocket& s : inherited_) {
    if (s.fd >= 0 && is_listening_socket(s.fd) && !unix_socket_path(s.fd) &&
        (s.name == "discovery" || s.name == "maya-discovery")) {
      options.listen_fd = std::exchange(s.fd, -1);
      adopted_.push_back("serving the inherited iSCSI discovery portal");
      break;
    }
  }
  return options;
}

bool Daemon::serves_docker() const {
  const auto& v = config_.volume_drivers;
  return std::find(v.begin(), v.end(), "docker") != v.end();
}

}  // namespace maya::daemon
