// The host configuration (/etc/maya.conf): what `maya init` writes and `maya load` reads.
// Every error names the file, line and column of the offending value.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
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
  // dev_fuse | io_uring: how a jiva target takes the FUSE requests of an attached volume
  // (io_uring where the kernel offers it, else /dev/fuse; lib/jiva/fuse_uring.h).
  std::string fuse_transport = "dev_fuse";
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
  // [host] zone: the zone placement spreads replicas over; the EBS API's AvailabilityZone names
  // it. Absent or "": the [api] zone.
  std::string host_zone;
  // [host] address: the IP literal other hosts of the realm reach this one at; "": the realm
  // falls back to [iscsi] advertise, then [iscsi] address (see reach_address()).
  std::string host_address;

  // [realm]: the realm this host belongs to. No etcd endpoints: a single host, as before.
  std::string realm_name;
  std::vector<std::string> realm_etcd;       // "http://HOST:PORT", tried in order
  std::string realm_etcd_user;               // "": etcd without authentication
  fs::path realm_etcd_password_file;         // the password of etcd_user, kept out of the config
  std::chrono::seconds realm_lease_ttl{10};  // a host that stops renewing is down after it

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

  // [metrics] listen: where GET /metrics (Prometheus' text format) is served; nullopt: not served
  // (the key is ""). Port 0 picks a free port, which `maya status` shows.
  std::optional<Endpoint> metrics_listen = Endpoint{"127.0.0.1", 9500};

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

  bool in_realm() const { return !realm_etcd.empty(); }
  // The address other hosts use to reach this one: [host] address, else [iscsi] advertise,
  // else [iscsi] address.
  const std::string& reach_address() const {
    if (!host_address.empty()) return host_address;
    return iscsi_advertise.empty() ? iscsi_address : iscsi_advertise;
  }

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

// An etcd endpoint of [realm] etcd, "http://HOST:PORT": HOST is an IPv4 address, an IPv6 one in
// brackets (kept here without them) or a DNS name; the port is required.
struct EtcdEndpoint {
  std::string host;
  std::uint16_t port = 0;
  bool operator==(const EtcdEndpoint&) const = default;
};
Result<EtcdEndpoint> parse_etcd_url(std::string_view text);

// Why `zone` is not a zone of `region` (the region and one letter, as EC2 has them); empty
// when it is one. [api] zone and [host] zone share the rule.
std::string zone_problem(std::string_view zone, std::string_view region);

// Why `address` cannot be [host] address (an IP literal another host can connect to: not the
// any address); empty when it can.
std::string host_address_problem(const std::string& address);

// "90s", "15m", "1h": a whole number and a unit (s, m or h).
Result<std::chrono::seconds> parse_duration(std::string_view text);

// Splits "IP:PORT" or "[IPv6]:PORT"; the host must be a literal IPv4 or IPv6 address. Port 0
// asks for any free port (`maya status` shows the one bound).
Result<Endpoint> parse_endpoint(std::string_view text);

}  // namespace maya::config
