// GET /v1/status: the daemon, its sockets, its volumes and the store's space.
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>

#include "lib/common/log.h"
#include "lib/common/time_format.h"
#include "lib/daemon/daemon_server.h"

namespace maya::daemon {
namespace fs = std::filesystem;
using nlohmann::json;

json Daemon::status() {
  std::lock_guard lock(mutex_);
  auto uptime = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started_);
  json roles = json::array();
  if (config_.role_storage) roles.push_back("storage");
  if (config_.role_orchestration) roles.push_back("orchestration");
  std::error_code ignored;
  // Who keeps the plugin socket open when this daemon stops: systemd's maya-plugin.socket, or
  // nobody.
  json plugin_held = plugin_ ? json(owned_.at("plugin") ? "maya" : "service manager") : json();
  json status = {
      {"pid", ::getpid()},
      {"instance", instance_},
      {"binary", fs::read_symlink("/proc/self/exe", ignored).string()},
      {"version", MAYA_VERSION},
      {"started_at", iso8601(started_wall_)},
      {"uptime_seconds", uptime.count()},
      {"config", config_.file.string()},
      {"config_loaded_at", iso8601(loaded_wall_)},
      {"host", {{"name", config_.host_name}, {"id", config_.host_id}}},
      {"roles", roles},
      {"sockets", sockets_json()},
      {"plugin_socket_held_by", plugin_held},
      {"log_level", std::string(log::level_name(config_.log_level))},
      {"log_file", log_to_file_ ? json(config_.log_file().string()) : json(nullptr)},
      {"volumes", count_volumes()},
      {"api", api_json()},
      {"metrics", metrics_json()},
  };
  if (auto realm = realm_json(); !realm.is_null()) status["realm"] = realm;
  json warnings = json::array();
  if (!discovery_error_.empty()) warnings.push_back(discovery_error_);
  if (config_.role_orchestration && !api_server_)
    warnings.push_back("the EBS-compatible API is " + api_error_);
  if (config_.metrics_listen && !metrics_server_)
    warnings.push_back("metrics are " + metrics_error_);
  status["store"] = store_space(warnings);
  if (!warnings.empty()) status["warnings"] = warnings;
  return status;
}

json Daemon::sockets_json() const {
  json sockets = {{"control", config_.control_socket().string()}};
  if (plugin_) sockets["plugin"] = config_.plugin_socket.string();
  if (discovery_)
    sockets["iscsi_discovery"] = iscsi_target::format_endpoint(discovery_->endpoint());
  return sockets;
}

// Room on the store (where replicas live), a warning past space_warn_percent, and what its thin
// volumes may grow to (committed; more than is free: overcommitted).
json Daemon::store_space(json& warnings) const {
  struct statvfs st {};
  if (::statvfs(config_.store_dir.c_str(), &st) != 0 || st.f_blocks == 0) return nullptr;
  const std::uint64_t total = static_cast<std::uint64_t>(st.f_blocks) * st.f_frsize;
  const std::uint64_t free = static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
  const auto used_percent = static_cast<unsigned>((total - std::min(free, total)) * 100 / total);
  const unsigned warn = config_.volume_defaults.space_warn_percent;
  if (warn > 0 && used_percent >= warn)
    warnings.push_back("the store " + config_.store_dir.string() + " is " +
                       std::to_string(used_percent) + "% full (warning at " + std::to_string(warn) +
                       "%): writes to volumes fail once it is full");
  json store = {{"path", config_.store_dir.string()},
                {"total_bytes", total},
                {"free_bytes", free},
                {"used_percent", used_percent},
                {"warn_percent", warn},
                {"committed_bytes", nullptr},
                {"overcommitted", nullptr}};
  if (volumes_) {
    if (auto space = volumes_->store_space(); space) {
      store["committed_bytes"] = space->committed_bytes;
      store["overcommitted"] = space->committed_bytes > space->free_bytes;
    }
  }
  return store;
}

std::size_t Daemon::count_volumes() const {
  std::error_code ec;
  std::size_t n = 0;
  for (auto it = fs::directory_iterator(config_.state_dir / "volumes", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (it->path().extension() == ".json") ++n;
  }
  return n;
}

}  // namespace maya::daemon
