// Reload (`maya load` again, SIGHUP, POST /v1/reload): the config file read again, what can change
// now applied, the volumes' targets checked again.
#include <unistd.h>

#include "lib/common/log.h"
#include "lib/daemon/daemon_server.h"

namespace maya::daemon {
using nlohmann::json;

config::VolumeDefaults Daemon::volume_defaults() {
  std::lock_guard lock(mutex_);
  return config_.volume_defaults;
}

// reload(), then every volume's target again (no lock held: that can take seconds): the ones that
// run are adopted, stopped ones start, broken ones get another chance, and ports are checked again.
// What is wrong comes back as warnings.
Result<json> Daemon::reload_all() {
  MAYA_TRY(answer, reload());
  // A pool whose disk came back since (plugged in, its file bound again) is mounted before the
  // targets whose replicas it holds start; the watch takes the new replace settings.
  if (pools_)
    for (const std::string& note : pools_->import_all()) log::info("pools: " + note);
  if (pools_ && volumes_) start_pool_watch();
  if (volumes_) {
    for (drivers::TargetHost* host : volumes_->target_hosts()) {
      for (const std::string& note : host->start_targets()) {
        log::info("targets: " + note);
        if (note.find(" is broken") != std::string::npos ||
            note.find(" did not start") != std::string::npos)
          (*answer)["warnings"].push_back(note);
      }
    }
  }
  return answer;
}

// Re-reads the config file. A broken file changes nothing; settings that need a restart (paths,
// sockets) are kept and reported.
Result<json> Daemon::reload() {
  std::lock_guard lock(mutex_);
  auto fresh = config::load(config_.file);
  if (!fresh) {
    log::error("reload refused, keeping the running configuration: " + fresh.error().message);
    return std::unexpected(fresh.error());
  }
  json warnings = keep_restart_settings(*fresh);
  bool changed = !(*fresh == config_);
  config_ = std::move(*fresh);
  if (volumes_) volumes_->configure({config_.volume_defaults.keep_lost_found, config_.store_dir});
  loaded_wall_ = std::time(nullptr);
  log::set_level(config_.log_level);
  log::info(std::string("configuration reloaded from ") + config_.file.string() +
            (changed ? "" : " (no changes)"));
  for (const auto& w : warnings) log::warn(w.get<std::string>());
  return json{
      {"reloaded", true}, {"changed", changed}, {"warnings", warnings}, {"pid", ::getpid()}};
}

// Settings that take effect only after a restart keep their running values in `fresh`; one warning
// for each that changed.
json Daemon::keep_restart_settings(config::Config& fresh) const {
  json warnings = json::array();
  auto keep = [&](auto& field, const auto& current, const char* key) {
    if (field != current) {
      warnings.push_back(std::string(key) +
                         " changed; it takes effect after `maya unload` and `maya load`");
      field = current;
    }
  };
  keep(fresh.store_dir, config_.store_dir, "[paths] store");
  keep(fresh.state_dir, config_.state_dir, "[paths] state");
  keep(fresh.run_dir, config_.run_dir, "[paths] run");
  keep(fresh.plugin_socket, config_.plugin_socket, "[plugin] socket");
  keep(fresh.dev_dir, config_.dev_dir, "[paths] dev");
  keep(fresh.api_listen, config_.api_listen, "[api] listen");
  keep(fresh.metrics_listen, config_.metrics_listen, "[metrics] listen");
  keep(fresh.api_region, config_.api_region, "[api] region");
  keep(fresh.api_zone, config_.api_zone, "[api] zone");
  keep(fresh.api_credentials, config_.api_credentials, "[api] credentials");
  keep(fresh.api_max_clock_skew, config_.api_max_clock_skew, "[api] max_clock_skew");
  keep(fresh.iscsi_address, config_.iscsi_address, "[iscsi] address");
  keep(fresh.iscsi_discovery_port, config_.iscsi_discovery_port, "[iscsi] discovery_port");
  keep(fresh.iscsi_port_first, config_.iscsi_port_first, "[iscsi] target_ports");
  keep(fresh.iscsi_port_last, config_.iscsi_port_last, "[iscsi] target_ports");
  keep(fresh.iscsi_share_port_first, config_.iscsi_share_port_first, "[iscsi] share_ports");
  keep(fresh.iscsi_share_port_last, config_.iscsi_share_port_last, "[iscsi] share_ports");
  keep(fresh.iscsi_advertise, config_.iscsi_advertise, "[iscsi] advertise");
  keep(fresh.iscsi_chap, config_.iscsi_chap, "[iscsi] chap");
  keep(fresh.iscsi_max_connections, config_.iscsi_max_connections, "[iscsi] max_connections");
  keep(fresh.iscsi_max_connections_per_address, config_.iscsi_max_connections_per_address,
       "[iscsi] max_connections_per_address");
  keep(fresh.storage_drivers, config_.storage_drivers, "[drivers] storage");
  // Handed to the targets on their command line, which the jiva driver builds once.
  keep(fresh.volume_defaults.fuse_transport, config_.volume_defaults.fuse_transport,
       "[volume.defaults] fuse_transport");
  // The realm is joined once, at start: its etcd session, lease and host record.
  keep(fresh.realm_name, config_.realm_name, "[realm] name");
  keep(fresh.realm_etcd, config_.realm_etcd, "[realm] etcd");
  keep(fresh.realm_etcd_user, config_.realm_etcd_user, "[realm] etcd_user");
  keep(fresh.realm_etcd_password_file, config_.realm_etcd_password_file,
       "[realm] etcd_password_file");
  keep(fresh.realm_lease_ttl, config_.realm_lease_ttl, "[realm] lease_ttl");
  keep(fresh.host_zone, config_.host_zone, "[host] zone");
  keep(fresh.host_address, config_.host_address, "[host] address");
  return warnings;
}

}  // namespace maya::daemon
