#include "lib/config/config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <regex>

#include "lib/config/init.h"

namespace maya::config {
namespace {

constexpr const char* kMinimal = "[host]\nid = \"abc\"\n";

Result<Config> parse_text(const std::string& text) {
  return parse(text, "t.conf");
}

// Asserts that `text` is refused with an error starting "t.conf:LINE:COL:" and containing `what`.
void expect_error_at(const std::string& text, int line, int column, const std::string& what) {
  auto r = parse_text(text);
  ASSERT_FALSE(r.has_value()) << text;
  const std::string& msg = r.error().message;
  std::string prefix = "t.conf:" + std::to_string(line) + ":" + std::to_string(column) + ": ";
  EXPECT_EQ(msg.substr(0, prefix.size()), prefix) << msg;
  EXPECT_NE(msg.find(what), std::string::npos) << msg;
}

TEST(Config, DefaultsWhenSectionsAreMissing) {
  auto cfg = parse_text(kMinimal);
  ASSERT_TRUE(cfg.has_value()) << cfg.error().message;
  EXPECT_EQ(cfg->host_id, "abc");
  EXPECT_TRUE(cfg->role_storage);
  EXPECT_TRUE(cfg->role_orchestration);
  EXPECT_EQ(cfg->store_dir, "/opt/maya-store");
  EXPECT_EQ(cfg->state_dir, "/var/lib/maya");
  EXPECT_EQ(cfg->run_dir, "/run/maya");
  EXPECT_EQ(cfg->plugin_socket, "/run/docker/plugins/maya.sock");
  EXPECT_EQ(cfg->api_listen.to_string(), "127.0.0.1:5656");
  EXPECT_EQ(cfg->api_region, "maya-1");
  EXPECT_EQ(cfg->api_zone, "maya-1a");
  EXPECT_EQ(cfg->api_credentials, "/etc/maya/credentials");
  EXPECT_EQ(cfg->api_max_clock_skew, std::chrono::minutes(15));
  EXPECT_EQ(cfg->dev_dir, "/dev/maya");
  EXPECT_EQ(cfg->iscsi_address, "127.0.0.1");
  EXPECT_EQ(cfg->iscsi_advertise, "");
  EXPECT_EQ(cfg->iscsi_discovery_port, 3260);
  EXPECT_LT(cfg->iscsi_port_first, cfg->iscsi_port_last);
  EXPECT_TRUE(cfg->iscsi_chap);
  EXPECT_EQ(cfg->iscsi_max_connections, 64u);
  EXPECT_EQ(cfg->iscsi_max_connections_per_address, 16u);
  EXPECT_EQ(cfg->volume_defaults.size_bytes, 100ull << 30);
  EXPECT_TRUE(cfg->volume_defaults.thin);
  EXPECT_EQ(cfg->volume_defaults.fstype, "ext4");
  EXPECT_EQ(cfg->volume_defaults.storage_driver, "jiva");
  EXPECT_EQ(cfg->volume_defaults.attach, "auto");
  EXPECT_EQ(cfg->volume_defaults.fuse_transport, "dev_fuse");
  EXPECT_EQ(cfg->control_socket(), "/run/maya/maya.sock");
  EXPECT_EQ(cfg->pidfile(), "/run/maya/maya.pid");
  EXPECT_EQ(cfg->log_file(), "/var/lib/maya/maya.log");
  // No [realm]: a host on its own, as before the realm existed.
  EXPECT_FALSE(cfg->in_realm());
  EXPECT_EQ(cfg->realm_name, "");
  EXPECT_TRUE(cfg->realm_etcd.empty());
  EXPECT_EQ(cfg->realm_etcd_user, "");
  EXPECT_EQ(cfg->realm_etcd_password_file, "");
  EXPECT_EQ(cfg->realm_lease_ttl, std::chrono::seconds(10));
  EXPECT_EQ(cfg->host_zone, "maya-1a");
  EXPECT_EQ(cfg->host_address, "");
  EXPECT_EQ(cfg->reach_address(), "127.0.0.1");
}

TEST(Config, ShippedTemplateParsesToTheDefaultsAndCommentsEveryKey) {
  std::string text = render_default("", "host1", "id-1");
  auto cfg = parse_text(text);
  ASSERT_TRUE(cfg.has_value()) << cfg.error().message;
  auto defaults = parse_text("[host]\nname = \"host1\"\nid = \"id-1\"\n");
  ASSERT_TRUE(defaults.has_value());
  defaults->file = cfg->file;
  EXPECT_EQ(*cfg, *defaults) << "etc/maya.conf and the built-in defaults disagree";

  // Every `key = value` line follows a comment line.
  std::istringstream lines(text);
  std::string line, previous;
  int keys = 0;
  while (std::getline(lines, line)) {
    if (std::regex_match(line, std::regex(R"(^[a-z_]+ = .*)"))) {
      ++keys;
      EXPECT_EQ(previous.rfind("#", 0), 0u) << "key without a comment: " << line;
    }
    previous = line;
  }
  EXPECT_GE(keys, 20);
  for (const char* section : {"[host]", "[realm]", "[roles]", "[paths]", "[plugin]", "[api]",
                              "[iscsi]", "[volume.defaults]", "[drivers]"}) {
    EXPECT_NE(text.find(section), std::string::npos) << section;
  }
}

TEST(Config, TemplateUnderARootMovesEveryPath) {
  auto cfg = parse_text(render_default("/tmp/r", "h", "i"));
  ASSERT_TRUE(cfg.has_value()) << cfg.error().message;
  for (const auto& p : {cfg->store_dir, cfg->state_dir, cfg->run_dir, cfg->plugin_socket,
                        cfg->dev_dir, cfg->api_credentials}) {
    EXPECT_EQ(p.string().rfind("/tmp/r/", 0), 0u) << p;
  }
}

TEST(Config, SyntaxErrorsCarryLineAndColumn) {
  auto r = parse_text("[host]\nid = \"abc\"\nname = \n");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message.rfind("t.conf:3:", 0), 0u) << r.error().message;
  auto unterminated = parse_text("[host\n");
  ASSERT_FALSE(unterminated.has_value());
  EXPECT_EQ(unterminated.error().message.rfind("t.conf:1:", 0), 0u) << unterminated.error().message;
}

TEST(Config, UnknownKeysAndSectionsAreErrors) {
  expect_error_at(std::string(kMinimal) + "bogus = 1\n", 3, 1, "unknown key \"bogus\" in [host]");
  expect_error_at(std::string(kMinimal) + "[extra]\nx = 1\n", 3, 2, "unknown section [extra]");
  expect_error_at(std::string(kMinimal) + "[volume.defaults]\nsise = \"1G\"\n", 4, 1,
                  "unknown key \"sise\" in [volume.defaults]");
  expect_error_at(std::string(kMinimal) + "[volume]\nfoo = 1\n", 4, 1,
                  "unknown key \"foo\" in [volume]");
}

TEST(Config, WrongTypesPointAtTheValue) {
  expect_error_at(std::string(kMinimal) + "[roles]\nstorage = \"yes\"\n", 4, 11,
                  "expected true or false");
  expect_error_at(std::string(kMinimal) + "[iscsi]\ndiscovery_port = \"3260\"\n", 4, 18,
                  "expected an integer");
  expect_error_at(std::string(kMinimal) + "[paths]\nstore = 5\n", 4, 9, "expected a string");
  expect_error_at(std::string(kMinimal) + "[drivers]\nstorage = [\"local\", 3]\n", 4, 21,
                  "expected an array of strings");
  expect_error_at("host = 1\n", 1, 8, "must be a [host] section");
}

TEST(Config, BadValuesAreExplained) {
  const std::string m = kMinimal;
  expect_error_at(m + "[volume.defaults]\nsize = \"10XB\"\n", 4, 8, "unknown unit");
  expect_error_at(m + "[volume.defaults]\nsize = \"-1G\"\n", 4, 8, "negative");
  expect_error_at(m + "[volume.defaults]\nsize = \"0\"\n", 4, 8, "cannot be empty");
  expect_error_at(m + "[volume.defaults]\nfstype = \"ntfs\"\n", 4, 10, "unsupported file system");
  expect_error_at(m + "[volume.defaults]\nreplicas = 0\n", 4, 12, "out of range");
  expect_error_at(m + "[volume.defaults]\nstorage_driver = \"ceph\"\n", 4, 18, "not enabled");
  expect_error_at(m + "[api]\nlisten = \"localhost:5656\"\n", 4, 10, "not an IPv4 address");
  expect_error_at(m + "[api]\nlisten = \"127.0.0.1\"\n", 4, 10, "is not IP:PORT");
  expect_error_at(m + "[api]\nlisten = \"127.0.0.1:70000\"\n", 4, 10, "not a port");
  expect_error_at(m + "[api]\nzone = \"maya-1\"\n", 4, 8, "is not the region \"maya-1\" and one");
  expect_error_at(m + "[api]\nzone = \"maya-2a\"\n", 4, 8, "is not the region");
  expect_error_at(m + "[api]\nzone = \"maya-1ab\"\n", 4, 8, "is not the region");
  expect_error_at(m + "[api]\nregion = \"Maya 1\"\n", 4, 10, "not a region name");
  expect_error_at(m + "[api]\nmax_clock_skew = \"15\"\n", 4, 18, "not a duration");
  expect_error_at(m + "[api]\nmax_clock_skew = \"0s\"\n", 4, 18, "more than 0s");
  expect_error_at(m + "[api]\ncredentials = \"creds\"\n", 4, 15, "absolute path");
  expect_error_at(m + "[iscsi]\naddress = \"1.2.3\"\n", 4, 11, "not an IP address");
  expect_error_at(m + "[iscsi]\nadvertise = \"host\"\n", 4, 13, "not an IP address");
  expect_error_at(m + "[iscsi]\ntarget_ports = \"4000-3999\"\n", 4, 16, "above the last");
  expect_error_at(m + "[iscsi]\ntarget_ports = \"3200-3300\"\n", 4, 16, "contains discovery_port");
  expect_error_at(m + "[iscsi]\ndiscovery_port = 70000\n", 4, 18, "out of range");
  expect_error_at(m + "[iscsi]\nmax_connections = 0\n", 4, 19, "out of range");
  expect_error_at(m + "[iscsi]\nmax_connections_per_address = \"8\"\n", 4, 31,
                  "expected an integer");
  expect_error_at(m + "[paths]\nstate = \"relative/dir\"\n", 4, 9, "absolute path");
  expect_error_at(m + "[drivers]\nos = [\"windows\"]\n", 4, 6, "unknown driver \"windows\"");
  expect_error_at(m + "[log]\nlevel = \"loud\"\n", 4, 9, "unknown log level");
  expect_error_at("[host]\nname = \"x\"\n", 1, 1, "[host] id: is missing");
}

// [volume.defaults] fuse_transport: how a jiva target takes FUSE requests (fuse_frontend.h).
TEST(Config, FuseTransportIsDevFuseOrIoUring) {
  for (const char* value : {"dev_fuse", "io_uring"}) {
    auto cfg = parse_text(std::string(kMinimal) + "[volume.defaults]\nfuse_transport = \"" + value +
                          "\"\n");
    ASSERT_TRUE(cfg.has_value()) << cfg.error().message;
    EXPECT_EQ(cfg->volume_defaults.fuse_transport, value);
  }
  const std::string m = kMinimal;
  for (const char* bad : {"uring", "fuse", "IO_URING", ""}) {
    SCOPED_TRACE(bad);
    expect_error_at(m + "[volume.defaults]\nfuse_transport = \"" + bad + "\"\n", 4, 18,
                    "[volume.defaults] fuse_transport: \"" + std::string(bad) +
                        "\" is not dev_fuse or io_uring");
  }
  expect_error_at(m + "[volume.defaults]\nfuse_transport = true\n", 4, 18, "expected a string");
}

TEST(Config, ApiRegionZoneAndDurations) {
  auto cfg = parse_text(std::string(kMinimal) + "[api]\nregion = \"eu-x-2\"\nzone = \"eu-x-2c\"\n" +
                        "max_clock_skew = \"90s\"\n");
  ASSERT_TRUE(cfg.has_value()) << cfg.error().message;
  EXPECT_EQ(cfg->api_zone, "eu-x-2c");
  EXPECT_EQ(cfg->api_max_clock_skew, std::chrono::seconds(90));
  auto zone_default = parse_text(std::string(kMinimal) + "[api]\nregion = \"r-7\"\n");
  ASSERT_TRUE(zone_default.has_value()) << zone_default.error().message;
  EXPECT_EQ(zone_default->api_zone, "r-7a");
  auto any_port = parse_text(std::string(kMinimal) + "[api]\nlisten = \"127.0.0.1:0\"\n");
  ASSERT_TRUE(any_port.has_value()) << any_port.error().message;
  EXPECT_EQ(any_port->api_listen.port, 0);
  EXPECT_EQ(parse_duration("2h").value(), std::chrono::hours(2));
  EXPECT_FALSE(parse_duration("m").has_value());
  EXPECT_FALSE(parse_duration("5d").has_value());
  EXPECT_FALSE(parse_duration("-5m").has_value());
}

TEST(Config, RealmKeysAreRead) {
  auto cfg = parse_text(std::string(kMinimal) +
                        "[realm]\nname = \"prod.eu-1\"\n"
                        "etcd = [\"http://10.0.0.5:2379\", \"http://[fd00::5]:12379\", "
                        "\"http://etcd-1.example:2379\"]\n"
                        "etcd_user = \"maya\"\netcd_password_file = \"/etc/maya//etcd-pass\"\n"
                        "lease_ttl = \"2m\"\n");
  ASSERT_TRUE(cfg.has_value()) << cfg.error().message;
  EXPECT_TRUE(cfg->in_realm());
  EXPECT_EQ(cfg->realm_name, "prod.eu-1");
  EXPECT_EQ(cfg->realm_etcd,
            (std::vector<std::string>{"http://10.0.0.5:2379", "http://[fd00::5]:12379",
                                      "http://etcd-1.example:2379"}));
  EXPECT_EQ(cfg->realm_etcd_user, "maya");
  EXPECT_EQ(cfg->realm_etcd_password_file, "/etc/maya/etcd-pass");
  EXPECT_EQ(cfg->realm_lease_ttl, std::chrono::minutes(2));

  // The bounds of lease_ttl are allowed.
  for (const char* ttl : {"2s", "5m", "300s"}) {
    auto bound = parse_text(std::string(kMinimal) +
                            "[realm]\nname = \"r\"\netcd = [\"http://127.0.0.1:1\"]\n"
                            "lease_ttl = \"" +
                            ttl + "\"\n");
    ASSERT_TRUE(bound.has_value()) << ttl << ": " << bound.error().message;
  }
  // An empty realm section is the single-host mode.
  auto empty = parse_text(std::string(kMinimal) + "[realm]\nname = \"\"\netcd = []\n");
  ASSERT_TRUE(empty.has_value()) << empty.error().message;
  EXPECT_FALSE(empty->in_realm());
}

TEST(Config, RealmMistakesAreExplained) {
  const std::string m = std::string(kMinimal) + "[realm]\nname = \"r\"\n";  // [realm] at line 3
  expect_error_at(m + "etcd = [\"https://10.0.0.5:2379\"]\n", 5, 8,
                  "TLS to etcd is not supported yet; use http:// on a trusted network or a "
                  "local etcd proxy");
  expect_error_at(m + "etcd = [\"http://10.0.0.5\"]\n", 5, 8, "has no port");
  expect_error_at(m + "etcd = [\"10.0.0.5:2379\"]\n", 5, 8, "expected http://HOST:PORT");
  expect_error_at(m + "etcd = [\"http://10.0.0.5:0\"]\n", 5, 8, "is not a port");
  expect_error_at(m + "etcd = [\"http://10.0.0.5:2379/v3\"]\n", 5, 8, "is not a port");
  expect_error_at(m + "etcd = [\"http://a b:2379\"]\n", 5, 8, "not a host name");
  expect_error_at(m + "etcd = [\"http://[fd00::5:2379\"]\n", 5, 8, "closing ']'");
  expect_error_at(m + "etcd = [\"http://[10.0.0.5]:2379\"]\n", 5, 8, "not an IPv6 address");
  expect_error_at(m + "etcd = \"http://10.0.0.5:2379\"\n", 5, 8, "expected an array of strings");
  expect_error_at(m, 4, 8, "[realm] name: a realm needs its etcd endpoints");
  expect_error_at(std::string(kMinimal) + "[realm]\netcd = [\"http://127.0.0.1:2379\"]\n", 4, 8,
                  "[realm] etcd: a realm needs a name");
  expect_error_at(std::string(kMinimal) + "[realm]\nname = \"a/b\"\n", 4, 8,
                  "invalid realm name \"a/b\"");
  const std::string ok = m + "etcd = [\"http://127.0.0.1:2379\"]\n";  // keys from line 6
  expect_error_at(ok + "lease_ttl = \"1s\"\n", 6, 13, "2 s to 5 min");
  expect_error_at(ok + "lease_ttl = \"6m\"\n", 6, 13, "2 s to 5 min");
  expect_error_at(ok + "lease_ttl = \"10\"\n", 6, 13, "not a duration");
  expect_error_at(ok + "etcd_user = \"maya\"\n", 6, 13, "needs etcd_password_file");
  expect_error_at(ok + "etcd_password_file = \"/p\"\n", 6, 22, "etcd_user is not");
  expect_error_at(ok + "etcd_user = \"u\"\netcd_password_file = \"p\"\n", 7, 22, "absolute path");
  expect_error_at(ok + "token = \"x\"\n", 6, 1, "unknown key \"token\" in [realm]");
}

TEST(Config, HostZoneFollowsTheApiAndAddressIsReachable) {
  const std::string m = kMinimal;
  // No [host] zone: the [api] zone, whatever the region.
  auto follows = parse_text(m + "[api]\nregion = \"eu-x-2\"\nzone = \"eu-x-2c\"\n");
  ASSERT_TRUE(follows.has_value()) << follows.error().message;
  EXPECT_EQ(follows->host_zone, "eu-x-2c");
  auto empty = parse_text("[host]\nid = \"abc\"\nzone = \"\"\n");
  ASSERT_TRUE(empty.has_value()) << empty.error().message;
  EXPECT_EQ(empty->host_zone, "maya-1a");
  auto own = parse_text(
      "[host]\nid = \"abc\"\nzone = \"eu-x-2b\"\naddress = \"10.0.1.7\"\n"
      "[api]\nregion = \"eu-x-2\"\n");
  ASSERT_TRUE(own.has_value()) << own.error().message;
  EXPECT_EQ(own->host_zone, "eu-x-2b");
  EXPECT_EQ(own->api_zone, "eu-x-2a");
  EXPECT_EQ(own->host_address, "10.0.1.7");
  EXPECT_EQ(own->reach_address(), "10.0.1.7");
  auto v6 = parse_text("[host]\nid = \"abc\"\naddress = \"fd00::7\"\n");
  ASSERT_TRUE(v6.has_value()) << v6.error().message;
  EXPECT_EQ(v6->host_address, "fd00::7");

  // The zone is checked against [api] region, which comes later in the file.
  expect_error_at("[host]\nid = \"abc\"\nzone = \"maya-2a\"\n", 3, 8,
                  "[host] zone: \"maya-2a\" is not the region \"maya-1\" and one letter");
  expect_error_at("[host]\nid = \"abc\"\nzone = \"maya-1a\"\n[api]\nregion = \"r-2\"\n", 3, 8,
                  "is not the region \"r-2\"");
  expect_error_at("[host]\nid = \"abc\"\nzone = \"maya-1A\"\n", 3, 8, "is not the region");
  expect_error_at("[host]\nid = \"abc\"\naddress = \"host-b\"\n", 3, 11, "not an IP address");
  expect_error_at("[host]\nid = \"abc\"\naddress = \"0.0.0.0\"\n", 3, 11, "the any address");
  expect_error_at("[host]\nid = \"abc\"\naddress = \"::\"\n", 3, 11, "the any address");

  // Without [host] address, other hosts are told [iscsi] advertise, else [iscsi] address.
  auto advertised = parse_text(m + "[iscsi]\naddress = \"0.0.0.0\"\nadvertise = \"10.0.0.9\"\n");
  ASSERT_TRUE(advertised.has_value()) << advertised.error().message;
  EXPECT_EQ(advertised->reach_address(), "10.0.0.9");
}

TEST(Config, EtcdUrlsSplitIntoHostAndPort) {
  EXPECT_EQ(parse_etcd_url("http://10.0.0.5:2379").value(), (EtcdEndpoint{"10.0.0.5", 2379}));
  EXPECT_EQ(parse_etcd_url("http://[::1]:12379").value(), (EtcdEndpoint{"::1", 12379}));
  EXPECT_EQ(parse_etcd_url("http://etcd.local:65535").value(), (EtcdEndpoint{"etcd.local", 65535}));
  for (const char* bad :
       {"", "http://", "http://:2379", "http://h:", "http://h:65536", "http://h:23x", "http://-h:1",
        "http://h..x:1", "http://u@h:1", "HTTP://h:1", "http://[::1]2379", "https://h:1"}) {
    EXPECT_FALSE(parse_etcd_url(bad).has_value()) << bad;
  }
}

TEST(Config, InitRealmSettingsAreWrittenIntoTheTemplate) {
  RealmSettings realm{
      "prod", {"http://10.0.0.5:2379", "http://10.0.0.6:2379"}, "maya-1c", "10.0.1.7"};
  std::string text = render_default("/tmp/r", "h", "i", realm);
  auto cfg = parse_text(text);
  ASSERT_TRUE(cfg.has_value()) << cfg.error().message << "\n" << text;
  EXPECT_EQ(cfg->realm_name, "prod");
  EXPECT_EQ(cfg->realm_etcd, realm.etcd);
  EXPECT_EQ(cfg->host_zone, "maya-1c");
  EXPECT_EQ(cfg->host_address, "10.0.1.7");
  EXPECT_EQ(cfg->api_zone, "maya-1a");
  // Still the commented template: only the values changed, line for line.
  std::string plain = render_default("/tmp/r", "h", "i");
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'),
            std::count(plain.begin(), plain.end(), '\n'));
  EXPECT_NE(text.find("\n# The realm's etcd endpoints"), std::string::npos);
  EXPECT_NE(text.find("\nzone = \"maya-1c\"\n"), std::string::npos) << text;
  // Each key on its own: the others keep their defaults.
  auto zone_only = parse_text(render_default("", "h", "i", RealmSettings{"", {}, "maya-1b", ""}));
  ASSERT_TRUE(zone_only.has_value()) << zone_only.error().message;
  EXPECT_EQ(zone_only->host_zone, "maya-1b");
  EXPECT_FALSE(zone_only->in_realm());
}

TEST(Config, InitRealmSettingsAreCheckedAsFlags) {
  auto check = [](RealmSettings realm) { return check_realm_settings(realm, "maya-1"); };
  EXPECT_TRUE(check({}).has_value());
  EXPECT_TRUE(check({"prod", {"http://127.0.0.1:2379"}, "maya-1b", "::1"}).has_value());
  auto expect_error = [&](RealmSettings realm, const std::string& what) {
    auto r = check(realm);
    ASSERT_FALSE(r.has_value()) << what;
    EXPECT_NE(r.error().message.find(what), std::string::npos) << r.error().message;
  };
  expect_error({"", {"http://127.0.0.1:2379"}, "", ""}, "--etcd needs --realm NAME");
  expect_error({"prod", {}, "", ""}, "--realm needs --etcd URL");
  expect_error({"a b", {"http://127.0.0.1:2379"}, "", ""}, "--realm: invalid realm name");
  expect_error({"prod", {"https://127.0.0.1:2379"}, "", ""},
               "--etcd \"https://127.0.0.1:2379\": TLS");
  expect_error({"", {}, "eu-1a", ""}, "--zone: \"eu-1a\" is not the region \"maya-1\"");
  expect_error({"", {}, "", "0.0.0.0"}, "--address: \"0.0.0.0\" is the any address");
}

TEST(Config, AcceptsIpv6Endpoints) {
  auto cfg = parse_text(std::string(kMinimal) +
                        "[api]\nlisten = \"[::1]:5656\"\n[iscsi]\naddress = \"::\"\n");
  ASSERT_TRUE(cfg.has_value()) << cfg.error().message;
  EXPECT_EQ(cfg->api_listen.host, "::1");
  EXPECT_EQ(cfg->api_listen.to_string(), "[::1]:5656");
}

TEST(Config, LoadNamesAMissingFile) {
  auto r = load("/nonexistent/maya.conf");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("/nonexistent/maya.conf"), std::string::npos);
  EXPECT_NE(r.error().message.find("maya init"), std::string::npos);
}

TEST(Config, ResolvePathPrefersFlagThenEnvironment) {
  ::setenv("MAYA_CONFIG", "/from/env.conf", 1);
  EXPECT_EQ(resolve_path("/from/flag.conf"), "/from/flag.conf");
  EXPECT_EQ(resolve_path(""), "/from/env.conf");
  ::unsetenv("MAYA_CONFIG");
  EXPECT_EQ(resolve_path(""), "/etc/maya.conf");
}

TEST(Config, MetricsListenDefaultsPortZeroAndOff) {
  auto defaults = parse_text(std::string(kMinimal));
  ASSERT_TRUE(defaults.has_value()) << defaults.error().message;
  ASSERT_TRUE(defaults->metrics_listen.has_value());
  EXPECT_EQ(defaults->metrics_listen->to_string(), "127.0.0.1:9500");
  auto any_port = parse_text(std::string(kMinimal) + "[metrics]\nlisten = \"127.0.0.1:0\"\n");
  ASSERT_TRUE(any_port.has_value()) << any_port.error().message;
  ASSERT_TRUE(any_port->metrics_listen.has_value());
  EXPECT_EQ(any_port->metrics_listen->port, 0);
  auto off = parse_text(std::string(kMinimal) + "[metrics]\nlisten = \"\"\n");
  ASSERT_TRUE(off.has_value()) << off.error().message;
  EXPECT_FALSE(off->metrics_listen.has_value());
  auto bad = parse_text(std::string(kMinimal) + "[metrics]\nlisten = \"localhost\"\n");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("listen"), std::string::npos) << bad.error().message;
  EXPECT_NE(bad.error().message.find("turns metrics off"), std::string::npos);
  auto unknown = parse_text(std::string(kMinimal) + "[metrics]\nport = 9500\n");
  ASSERT_FALSE(unknown.has_value());
  EXPECT_NE(unknown.error().message.find("port"), std::string::npos);
}

}  // namespace
}  // namespace maya::config
