// The host configuration (/etc/maya.conf): what `maya init` writes and `maya load` reads.
// Every error names the file, line and column of the offending value.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "lib/common/log.h"
#include "lib/common/result.h"

namespace maya::config {

namespace fs = std::filesystem;

inline constexpr std::string_view kDefaultConfigPath = "/etc/maya.conf";

// IP:PORT as written in the config; host is kept as text (IPv6 without brackets).
struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
  std::string to_string() const;
  bool operator==(const Endpoint&) const = default;
};

struct VolumeDefaults {
  std::uint64_t size_bytes = 0;
  bool thin = true;
  unsigned replicas = 1;
  std::string fstype;
  std::string storage_driver;
  std::string attach = "auto";  // auto | iscsi | fuse: how jiva volumes attach to this host
  // Warn when a replica's store is this full (percent used); 0: never.
  unsigned space_warn_percent = 90;
  bool keep_lost_found = false;  // keep ext4's empty lost+found after the first format
  // A replica on a faulted or missing pool is replaced on another pool after replace_after.
  bool auto_replace = true;
  std::chrono::seconds replace_after{60};
  bool operator==(const VolumeDefaults&) const = default;
};

struct Config {
  fs::path file;  // where it was read from (absolute)

  std::string host_name;
  std::string host_id;

  bool role_storage = true;
  bool role_orchestration = true;

  fs::path store_dir;
  fs::path state_dir;
  fs::path run_dir;

  fs::path dev_dir;  // stable links to attached volumes: <dev>/<vol-id>, <dev>/by-name/<name>

  fs::path plugin_socket;
  Endpoint api_listen;
  std::string api_region = "maya-1";
  std::string api_zone = "maya-1a";                  // the region and one letter
  fs::path api_credentials;                          // AWS shared-credentials file, profile [maya]
  std::chrono::seconds api_max_clock_skew{15 * 60};  // SigV4 request dates beyond it: expired

  std::string iscsi_address;    // where every portal binds
  std::string iscsi_advertise;  // what SendTargets and inspect show; empty: iscsi_address
  std::uint16_t iscsi_discovery_port = 3260;
  std::uint16_t iscsi_port_first = 0;
  std::uint16_t iscsi_port_last = 0;
  std::uint16_t iscsi_share_port_first = 0;  // [iscsi] share_ports: `maya replica share`
  std::uint16_t iscsi_share_port_last = 0;
  bool iscsi_chap = true;
  std::uint32_t iscsi_max_connections = 64;              // logged-in, per portal
  std::uint32_t iscsi_max_connections_per_address = 16;  // of those, per source address

  // [replication] io_timeout: a replica that takes longer to answer leaves the I/O path.
  std::chrono::seconds replication_io_timeout{5};

  VolumeDefaults volume_defaults;

  std::vector<std::string> volume_drivers;
  std::vector<std::string> storage_drivers;
  std::vector<std::string> os_drivers;

  log::Level log_level = log::Level::info;

  // Files derived from the paths above.
  fs::path control_socket() const { return run_dir / "maya.sock"; }
  fs::path pidfile() const { return run_dir / "maya.pid"; }
  fs::path log_file() const { return state_dir / "maya.log"; }

  bool operator==(const Config&) const = default;
};

// The config path a command uses: the --config flag, else $MAYA_CONFIG, else /etc/maya.conf.
fs::path resolve_path(const std::string& flag_value);

// Parses config text; `source` names it in errors ("PATH:LINE:COL: what is wrong").
Result<Config> parse(std::string_view text, const fs::path& source);
// Reads and parses a config file.
Result<Config> load(const fs::path& file);

// "90s", "15m", "1h": a whole number and a unit (s, m or h).
Result<std::chrono::seconds> parse_duration(std::string_view text);

// Splits "IP:PORT" or "[IPv6]:PORT"; the host must be a literal IPv4 or IPv6 address. Port 0
// asks for any free port (`maya status` shows the one bound).
Result<Endpoint> parse_endpoint(std::string_view text);

}  // namespace maya::config
