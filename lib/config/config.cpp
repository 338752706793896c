#include "lib/config/config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "lib/common/names.h"
#include "lib/common/size.h"
#include "lib/config/config_reader.h"

namespace maya::config {
namespace {

constexpr std::array<std::string_view, 1> kVolumeDrivers = {"docker"};
constexpr std::array<std::string_view, 2> kStorageDrivers = {"jiva", "local"};
constexpr std::array<std::string_view, 1> kOsDrivers = {"linux"};
constexpr std::array<std::string_view, 2> kFsTypes = {"ext4", "xfs"};

template <std::size_t N>
bool known(const std::array<std::string_view, N>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

template <std::size_t N>
std::string one_of(const std::array<std::string_view, N>& names) {
  std::string out;
  for (std::size_t i = 0; i < N; ++i) {
    if (i != 0) out += (i + 1 == N) ? " or " : ", ";
    out += "\"" + std::string(names[i]) + "\"";
  }
  return out;
}

// An absolute path with no empty value; relative paths would depend on the daemon's cwd.
Result<fs::path> read_path(TableReader& reader, const std::string& key, const char* fallback) {
  auto text = reader.string(key, fallback);
  if (!text) return std::unexpected(text.error());
  if (text->empty() || (*text)[0] != '/') return reader.error_at(key, "expected an absolute path");
  return fs::path(*text).lexically_normal();
}

template <std::size_t N>
Result<std::vector<std::string>> read_driver_list(TableReader& reader, const std::string& key,
                                                  const std::array<std::string_view, N>& names) {
  // Every known driver is enabled unless the config says otherwise.
  auto list = reader.strings(key, std::vector<std::string>(names.begin(), names.end()));
  if (!list) return list;
  for (const std::string& name : *list) {
    if (!known(names, name)) {
      return reader.error_at(key, "unknown driver \"" + name + "\" (known: " + one_of(names) + ")");
    }
  }
  return list;
}

Result<std::pair<std::uint16_t, std::uint16_t>> parse_port_range(std::string_view text) {
  auto dash = text.find('-');
  auto number = [](std::string_view s) -> Result<std::uint16_t> {
    unsigned v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || s.empty() || v == 0 || v > 65535)
      return fail("\"" + std::string(s) + "\" is not a port (1-65535)");
    return static_cast<std::uint16_t>(v);
  };
  if (dash == std::string_view::npos) return fail("expected \"FIRST-LAST\", such as \"3261-3516\"");
  auto first = number(text.substr(0, dash));
  if (!first) return std::unexpected(first.error());
  auto last = number(text.substr(dash + 1));
  if (!last) return std::unexpected(last.error());
  if (*first > *last) return fail("the first port is above the last");
  return std::pair{*first, *last};
}

bool is_ip_address(const std::string& text) {
  in6_addr addr{};
  return inet_pton(AF_INET, text.c_str(), &addr) == 1 ||
         inet_pton(AF_INET6, text.c_str(), &addr) == 1;
}

bool is_region_name(const std::string& text) {
  return !text.empty() && text.size() <= 32 && text.front() != '-' && text.back() != '-' &&
         std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
         });
}

// One step per section: each reads its table (null when the section is absent) into `cfg`
// and refuses keys it does not know.
using SectionReader = Result<void> (*)(const toml::table* table, const std::string& src,
                                       Config& cfg);

Result<void> read_host(const toml::table* table, const std::string& src, Config& cfg) {
  TableReader host(table, "host", src);
  MAYA_TRY(host_name, host.string("name", ""));
  MAYA_TRY(host_id, host.string("id", ""));
  if (host_id->empty()) return host.error_at("id", "is missing; `maya init` generates one");
  cfg.host_name = *host_name;
  cfg.host_id = *host_id;
  // The zone is checked against [api] region once [api] is read (check_host_zone).
  MAYA_TRY(zone, host.string("zone", ""));
  cfg.host_zone = *zone;
  MAYA_TRY(address, host.string("address", ""));
  if (!address->empty()) {
    if (std::string problem = host_address_problem(*address); !problem.empty())
      return host.error_at("address", problem);
  }
  cfg.host_address = *address;
  return host.reject_unknown();
}

// [realm] etcd: every endpoint "http://HOST:PORT"; none is the single-host mode.
Result<void> read_realm_etcd(TableReader& realm, Config& cfg) {
  MAYA_TRY(etcd, realm.strings("etcd", {}));
  for (const std::string& url : *etcd) {
    if (auto endpoint = parse_etcd_url(url); !endpoint)
      return realm.error_at("etcd", endpoint.error().message);
  }
  cfg.realm_etcd = *etcd;
  MAYA_TRY(user, realm.string("etcd_user", ""));
  MAYA_TRY(password_file, realm.string("etcd_password_file", ""));
  if (!password_file->empty() && (*password_file)[0] != '/')
    return realm.error_at("etcd_password_file", "expected an absolute path");
  if (!user->empty() && password_file->empty())
    return realm.error_at("etcd_user",
                          "needs etcd_password_file, the file that holds its password");
  if (user->empty() && !password_file->empty())
    return realm.error_at("etcd_password_file", "is set but etcd_user is not");
  cfg.realm_etcd_user = *user;
  cfg.realm_etcd_password_file =
      password_file->empty() ? fs::path() : fs::path(*password_file).lexically_normal();
  return {};
}

Result<void> read_realm(const toml::table* table, const std::string& src, Config& cfg) {
  TableReader realm(table, "realm", src);
  MAYA_TRY(name, realm.string("name", ""));
  if (!name->empty()) {
    if (auto valid = validate_realm_name(*name); !valid)
      return realm.error_at("name", valid.error().message);
  }
  cfg.realm_name = *name;
  if (auto etcd = read_realm_etcd(realm, cfg); !etcd) return etcd;
  if (cfg.in_realm() && cfg.realm_name.empty())
    return realm.error_at("etcd", "a realm needs a name: set [realm] name as well");
  if (!cfg.in_realm() && !cfg.realm_name.empty())
    return realm.error_at("name",
                          "a realm needs its etcd endpoints: set [realm] etcd = "
                          "[\"http://HOST:2379\"], or leave name empty for a single host");
  MAYA_TRY(ttl_text, realm.string("lease_ttl", "10s"));
  auto ttl = parse_duration(*ttl_text);
  if (!ttl) return realm.error_at("lease_ttl", ttl.error().message);
  if (ttl->count() < 2 || ttl->count() > 300)
    return realm.error_at("lease_ttl", "it must be 2 s to 5 min");
  cfg.realm_lease_ttl = *ttl;
  return realm.reject_unknown();
}

Result<void> read_roles(const toml::table* table, const std::string& src, Config& cfg) {
  TableReader roles(table, "roles", src);
  MAYA_TRY(storage, roles.boolean("storage", true));
  MAYA_TRY(orchestration, roles.boolean("orchestration", true));
  cfg.role_storage = *storage;
  cfg.role_orchestration = *orchestration;
  return roles.reject_unknown();
}

Result<void> read_paths(const toml::table* table, const std::string& src, Config& cfg) {
  TableReader paths(table, "paths", src);
  MAYA_TRY(store, read_path(paths, "store", "/opt/maya-store"));
  MAYA_TRY(state, read_path(paths, "state", "/var/lib/maya"));
  MAYA_TRY(run, read_path(paths, "run", "/run/maya"));
  MAYA_TRY(dev, read_path(paths, "dev", "/dev/maya"));
  cfg.store_dir = *store;
  cfg.state_dir = *state;
  cfg.run_dir = *run;
  cfg.dev_dir = *dev;
  return paths.reject_unknown();
}

Result<void> read_plugin(const toml::table* table, const std::string& src, Config& cfg) {
  TableReader plugin(table, "plugin", src);
  MAYA_TRY(socket, read_path(plugin, "socket", "/run/docker/plugins/maya.sock"));
  cfg.plugin_socket = *socket;
  return plugin.reject_unknown();
}

Result<void> read_api(const toml::table* table, const std::string& src, Config& cfg) {
  TableReader api(table, "api", src);
  MAYA_TRY(listen, api.string("listen", "127.0.0.1:5656"));
  auto endpoint = parse_endpoint(*listen);
  if (!endpoint) return api.error_at("listen", endpoint.error().message);
  cfg.api_listen = *endpoint;
  MAYA_TRY(region, api.string("region", "maya-1"));
  if (!is_region_name(*region))
    return api.error_at("region", "\"" + *region +
                                      "\" is not a region name (lower-case letters, digits and "
                                      "'-', such as \"maya-1\")");
  cfg.api_region = *region;
  MAYA_TRY(zone, api.string("zone", *region + "a"));
  if (std::string problem = zone_problem(*zone, *region); !problem.empty())
    return api.error_at("zone", problem);
  cfg.api_zone = *zone;
  MAYA_TRY(credentials_path, read_path(api, "credentials", "/etc/maya/credentials"));
  cfg.api_credentials = *credentials_path;
  MAYA_TRY(skew_text, api.string("max_clock_skew", "15m"));
  auto skew = parse_duration(*skew_text);
  if (!skew) return api.error_at("max_clock_skew", skew.error().message);
  if (skew->count() == 0) return api.error_at("max_clock_skew", "must be more than 0s");
  cfg.api_max_clock_skew = *skew;
  return api.reject_unknown();
}

Result<void> read_metrics(const toml::table* table, const std::string& src, Config& cfg) {
  TableReader metrics(table, "metrics", src);
  MAYA_TRY(listen, metrics.string("listen", "127.0.0.1:9500"));
  if (listen->empty()) {
    cfg.metrics_listen.reset();
  } else {
    auto endpoint = parse_endpoint(*listen);
    if (!endpoint)
      return metrics.error_at("listen", endpoint.error().message + " (\"\" turns metrics off)");
    cfg.metrics_listen = *endpoint;
  }
  return metrics.reject_unknown();
}

// [iscsi] address, advertise, discovery_port and target_ports: where the portals listen.
Result<void> read_iscsi_portals(TableReader& iscsi, Config& cfg) {
  MAYA_TRY(address, iscsi.string("address", "127.0.0.1"));
  if (!is_ip_address(*address))
    return iscsi.error_at("address", "\"" + *address + "\" is not an IP address");
  cfg.iscsi_address = *address;
  MAYA_TRY(advertise, iscsi.string("advertise", ""));
  if (!advertise->empty() && !is_ip_address(*advertise))
    return iscsi.error_at("advertise", "\"" + *advertise + "\" is not an IP address");
  cfg.iscsi_advertise = *advertise;
  MAYA_TRY(discovery, iscsi.integer("discovery_port", 3260, 0, 65535));
  cfg.iscsi_discovery_port = static_cast<std::uint16_t>(*discovery);
  MAYA_TRY(range_text, iscsi.string("target_ports", "3261-3516"));
  auto range = parse_port_range(*range_text);
  if (!range) return iscsi.error_at("target_ports", range.error().message);
  if (cfg.iscsi_discovery_port >= range->first && cfg.iscsi_discovery_port <= range->second)
    return iscsi.error_at("target_ports", "the range contains discovery_port");
  cfg.iscsi_port_first = range->first;
  cfg.iscsi_port_last = range->second;
  MAYA_TRY(share_text, iscsi.string("share_ports", "3517-3580"));
  auto shares = parse_port_range(*share_text);
  if (!shares) return iscsi.error_at("share_ports", shares.error().message);
  const auto overlaps = [&](std::uint16_t a, std::uint16_t b) {
    return shares->first <= b && a <= shares->second;
  };
  if (overlaps(range->first, range->second))
    return iscsi.error_at("share_ports", "the range overlaps target_ports");
  if (overlaps(cfg.iscsi_discovery_port, cfg.iscsi_discovery_port))
    return iscsi.error_at("share_ports", "the range contains discovery_port");
  cfg.iscsi_share_port_first = shares->first;
  cfg.iscsi_share_port_last = shares->second;
  return {};
}

Result<void> read_iscsi(const toml::table* table, const std::string& src, Config& cfg) {
  TableReader iscsi(table, "iscsi", src);
  if (auto portals = read_iscsi_portals(iscsi, cfg); !portals) return portals;
  MAYA_TRY(chap, iscsi.boolean("chap", true));
  cfg.iscsi_chap = *chap;
  MAYA_TRY(max_conns, iscsi.integer("max_connections", 64, 1, 65535));
  cfg.iscsi_max_connections = static_cast<std::uint32_t>(*max_conns);
  MAYA_TRY(max_per_addr, iscsi.integer("max_connections_per_address", 16, 1, 65535));
  cfg.iscsi_max_connections_per_address = static_cast<std::uint32_t>(*max_per_addr);
  return iscsi.reject_unknown();
}

// [replication] io_timeout: how long a replica may take to answer before it leaves the I/O path.
Result<void> read_replication(const toml::table* table, const std::string& src, Config& cfg) {
  TableReader replication(table, "replication", src);
  MAYA_TRY(timeout_text, replication.string("io_timeout", "5s"));
  auto timeout = parse_duration(*timeout_text);
  if (!timeout) return replication.error_at("io_timeout", timeout.error().message);
  if (timeout->count() < 1 || timeout->count() > 300)
    return replication.error_at("io_timeout", "it must be 1 s to 5 min");
  cfg.replication_io_timeout = *timeout;
  return replication.reject_unknown();
}

Result<void> read_drivers(const toml::table* table, const std::string& src, Config& cfg) {
  TableReader drivers(table, "drivers", src);
  MAYA_TRY(volume_drivers, read_driver_list(drivers, "volume", kVolumeDrivers));
  MAYA_TRY(storage_drivers, read_driver_list(drivers, "storage", kStorageDrivers));
  MAYA_TRY(os_drivers, read_driver_list(drivers, "os", kOsDrivers));
  cfg.volume_drivers = *volume_drivers;
  cfg.storage_drivers = *storage_drivers;
  cfg.os_drivers = *os_drivers;
  return drivers.reject_unknown();
}

// [volume.defaults] size, thin, replicas, fstype, storage_driver: the spec of a new volume.
Result<void> read_default_spec(TableReader& defaults, Config& cfg) {
  MAYA_TRY(size_text, defaults.string("size", "100GiB"));
  auto size = parse_size(*size_text);
  if (!size) return defaults.error_at("size", size.error().message);
  if (*size == 0) return defaults.error_at("size", "a volume cannot be empty");
  cfg.volume_defaults.size_bytes = *size;
  MAYA_TRY(thin, defaults.boolean("thin", true));
  cfg.volume_defaults.thin = *thin;
  MAYA_TRY(replicas, defaults.integer("replicas", 1, 1, 16));
  cfg.volume_defaults.replicas = static_cast<unsigned>(*replicas);
  MAYA_TRY(fstype, defaults.string("fstype", "ext4"));
  if (!known(kFsTypes, *fstype))
    return defaults.error_at(
        "fstype", "unsupported file system \"" + *fstype + "\" (use " + one_of(kFsTypes) + ")");
  cfg.volume_defaults.fstype = *fstype;
  MAYA_TRY(sdriver, defaults.string("storage_driver", "jiva"));
  if (std::find(cfg.storage_drivers.begin(), cfg.storage_drivers.end(), *sdriver) ==
      cfg.storage_drivers.end())
    return defaults.error_at("storage_driver",
                             "\"" + *sdriver + "\" is not enabled in [drivers] storage");
  cfg.volume_defaults.storage_driver = *sdriver;
  return {};
}

// [volume.defaults] attach, fuse_transport, space_warn_percent, keep_lost_found, auto_replace,
// replace_after: how volumes are used.
Result<void> read_default_use(TableReader& defaults, Config& cfg) {
  MAYA_TRY(attach, defaults.string("attach", "auto"));
  if (*attach != "auto" && *attach != "iscsi" && *attach != "fuse")
    return defaults.error_at("attach", "\"" + *attach + "\" is not auto, iscsi or fuse");
  cfg.volume_defaults.attach = *attach;
  MAYA_TRY(fuse_transport, defaults.string("fuse_transport", "dev_fuse"));
  if (*fuse_transport != "dev_fuse" && *fuse_transport != "io_uring")
    return defaults.error_at("fuse_transport",
                             "\"" + *fuse_transport + "\" is not dev_fuse or io_uring");
  cfg.volume_defaults.fuse_transport = *fuse_transport;
  MAYA_TRY(space_warn, defaults.integer("space_warn_percent", 90, 0, 100));
  cfg.volume_defaults.space_warn_percent = static_cast<unsigned>(*space_warn);
  MAYA_TRY(keep_lost_found, defaults.boolean("keep_lost_found", false));
  cfg.volume_defaults.keep_lost_found = *keep_lost_found;
  MAYA_TRY(auto_replace, defaults.boolean("auto_replace", true));
  cfg.volume_defaults.auto_replace = *auto_replace;
  MAYA_TRY(replace_text, defaults.string("replace_after", "60s"));
  auto replace_after = parse_duration(*replace_text);
  if (!replace_after) return defaults.error_at("replace_after", replace_after.error().message);
  cfg.volume_defaults.replace_after = *replace_after;
  return {};
}

// [volume] holds only [volume.defaults]. Reads after [drivers]: storage_driver must be enabled.
Result<void> read_volume(const toml::table* table, const std::string& src, Config& cfg) {
  TableReader volume(table, "volume", src);
  const toml::table* defaults_t = nullptr;
  if (table != nullptr) {
    if (const toml::node* node = table->get("defaults")) {
      if (!node->is_table())
        return volume.error_at("defaults", "must be a [volume.defaults] section");
      defaults_t = node->as_table();
    }
  }
  if (auto only_defaults = volume.reject_unknown({"defaults"}); !only_defaults)
    return only_defaults;
  TableReader defaults(defaults_t, "volume.defaults", src);
  if (auto spec = read_default_spec(defaults, cfg); !spec) return spec;
  if (auto use = read_default_use(defaults, cfg); !use) return use;
  return defaults.reject_unknown();
}

Result<void> read_log(const toml::table* table, const std::string& src, Config& cfg) {
  TableReader logs(table, "log", src);
  MAYA_TRY(level_text, logs.string("level", "info"));
  auto level = log::parse_level(*level_text);
  if (!level) return logs.error_at("level", level.error().message);
  cfg.log_level = *level;
  return logs.reject_unknown();
}

// Every section, in the order they are read (the first problem found is the one reported).
constexpr std::pair<std::string_view, SectionReader> kSections[] = {
    {"host", read_host},       {"realm", read_realm},   {"roles", read_roles},
    {"paths", read_paths},     {"plugin", read_plugin}, {"api", read_api},
    {"metrics", read_metrics}, {"iscsi", read_iscsi},   {"replication", read_replication},
    {"drivers", read_drivers}, {"volume", read_volume}, {"log", read_log},
};

// The top level holds only known sections.
Result<void> reject_unknown_sections(const toml::table& root, const std::string& src) {
  for (const auto& [key, node] : root) {
    const bool known_section = std::any_of(std::begin(kSections), std::end(kSections),
                                           [&](const auto& s) { return s.first == key.str(); });
    if (!known_section)
      return fail(location(src, key.source()) + ": unknown section [" + std::string(key.str()) +
                  "]");
  }
  return {};
}

// The table of section `name`, null when the document has none.
Result<const toml::table*> find_section(const toml::table& root, const std::string& src,
                                        std::string_view name) {
  const toml::node* node = root.get(name);
  if (node == nullptr) return nullptr;
  if (!node->is_table())
    return fail(location(src, node->source()) + ": \"" + std::string(name) + "\" must be a [" +
                std::string(name) + "] section");
  return node->as_table();
}

// [host] zone is a zone of [api] region, which is read after [host]; absent or "": [api] zone.
Result<void> check_host_zone(const toml::table& root, const std::string& src, Config& cfg) {
  if (cfg.host_zone.empty()) {
    cfg.host_zone = cfg.api_zone;
    return {};
  }
  if (std::string problem = zone_problem(cfg.host_zone, cfg.api_region); !problem.empty()) {
    MAYA_TRY(table, find_section(root, src, "host"));
    return TableReader(*table, "host", src).error_at("zone", problem);
  }
  return {};
}

// Fills `cfg` from the document; the first problem found is returned with its location.
Result<void> read_document(const toml::table& root, const std::string& src, Config& cfg) {
  if (auto sections = reject_unknown_sections(root, src); !sections) return sections;
  for (const auto& [name, read] : kSections) {
    MAYA_TRY(table, find_section(root, src, name));
    if (auto ok = read(*table, src, cfg); !ok) return ok;
  }
  return check_host_zone(root, src, cfg);
}

}  // namespace

std::string Endpoint::to_string() const {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string host_address_problem(const std::string& address) {
  if (!is_ip_address(address)) return "\"" + address + "\" is not an IP address";
  in6_addr any6{};
  const bool any = address == "0.0.0.0" || (inet_pton(AF_INET6, address.c_str(), &any6) == 1 &&
                                            IN6_IS_ADDR_UNSPECIFIED(&any6));
  if (any)
    return "\"" + address + "\" is the any address; other hosts need one they can connect to";
  return {};
}

std::string zone_problem(std::string_view zone, std::string_view region) {
  if (zone.size() == region.size() + 1 && zone.substr(0, region.size()) == region &&
      zone.back() >= 'a' && zone.back() <= 'z')
    return {};
  const std::string r(region);
  return "\"" + std::string(zone) + "\" is not the region \"" + r +
         "\" and one letter (such as \"" + r + "a\")";
}

Result<EtcdEndpoint> parse_etcd_url(std::string_view text) {
  const std::string quoted = "\"" + std::string(text) + "\"";
  if (text.starts_with("https://"))
    return fail(quoted +
                ": TLS to etcd is not supported yet; use http:// on a trusted network or a local "
                "etcd proxy");
  constexpr std::string_view kScheme = "http://";
  if (!text.starts_with(kScheme))
    return fail(quoted + " is not an etcd URL: expected http://HOST:PORT");
  std::string_view rest = text.substr(kScheme.size());
  std::string_view host, port;
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string_view::npos)
      return fail(quoted + ": an IPv6 address needs its closing ']'");
    host = rest.substr(1, close - 1);
    in6_addr a6{};
    if (inet_pton(AF_INET6, std::string(host).c_str(), &a6) != 1)
      return fail(quoted + ": \"" + std::string(host) + "\" is not an IPv6 address");
    rest = rest.substr(close + 1);
    if (!rest.starts_with(":")) return fail(quoted + " has no port: expected http://HOST:PORT");
    port = rest.substr(1);
  } else {
    auto colon = rest.find(':');
    if (colon == std::string_view::npos)
      return fail(quoted + " has no port: expected http://HOST:PORT (etcd listens on 2379)");
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    // An IPv4 literal or a DNS name: labels of letters, digits and '-', joined by dots.
    const bool name_chars = !host.empty() && host.front() != '.' && host.front() != '-' &&
                            host.back() != '.' && host.find("..") == std::string_view::npos &&
                            std::all_of(host.begin(), host.end(), [](char c) {
                              return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                     (c >= '0' && c <= '9') || c == '.' || c == '-';
                            });
    if (!name_chars || host.size() > 253)
      return fail(quoted + ": \"" + std::string(host) + "\" is not a host name or an IP address");
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value == 0 ||
      value > 65535)
    return fail(quoted + ": \"" + std::string(port) +
                "\" is not a port (1-65535); expected http://HOST:PORT with nothing after it");
  return EtcdEndpoint{std::string(host), static_cast<std::uint16_t>(value)};
}

Result<std::chrono::seconds> parse_duration(std::string_view text) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  std::string_view unit(end, text.data() + text.size() - end);
  const std::uint64_t scale = unit == "s" ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : 0;
  if (ec != std::errc() || end == text.data() || scale == 0 || value > 7 * 24 * 3600 / scale)
    return fail("\"" + std::string(text) +
                "\" is not a duration: a whole number and s, m or h (such as \"15m\"), at most "
                "a week");
  return std::chrono::seconds(value * scale);
}

Result<Endpoint> parse_endpoint(std::string_view text) {
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return fail("\"" + std::string(text) + "\" is not IP:PORT (IPv6 as [ADDR]:PORT)");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    in6_addr a6{};
    if (inet_pton(AF_INET6, std::string(host).c_str(), &a6) != 1)
      return fail("\"" + std::string(host) + "\" is not an IPv6 address");
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos)
      return fail("\"" + std::string(text) + "\" is not IP:PORT (for example 127.0.0.1:5656)");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    in_addr a4{};
    if (inet_pton(AF_INET, std::string(host).c_str(), &a4) != 1)
      return fail("\"" + std::string(host) + "\" is not an IPv4 address");
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535)
    return fail("\"" + std::string(port) + "\" is not a port (0-65535; 0 picks a free one)");
  return Endpoint{std::string(host), static_cast<std::uint16_t>(value)};
}

fs::path resolve_path(const std::string& flag_value) {
  fs::path chosen;
  if (!flag_value.empty()) {
    chosen = flag_value;
  } else if (const char* env = std::getenv("MAYA_CONFIG"); env != nullptr && *env != '\0') {
    chosen = env;
  } else {
    chosen = kDefaultConfigPath;
  }
  std::error_code ec;
  fs::path absolute = fs::absolute(chosen, ec);
  return ec ? chosen : absolute.lexically_normal();
}

Result<Config> parse(std::string_view text, const fs::path& source) {
  toml::table root;
  try {
    root = toml::parse(text, source.string());
  } catch (const toml::parse_error& e) {
    return fail(location(source.string(), e.source()) + ": " + std::string(e.description()));
  }
  Config cfg;
  cfg.file = source;
  if (auto ok = read_document(root, source.string(), cfg); !ok) return std::unexpected(ok.error());
  return cfg;
}

Result<Config> load(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::error_code ec;
    if (!fs::exists(file, ec))
      return fail(file.string() + ": no such config file (create one with `maya init`)");
    return fail(file.string() + ": cannot be read");
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), file);
}

}  // namespace maya::config
