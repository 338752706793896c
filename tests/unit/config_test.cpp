#include "lib/config/config.h"

#include <gtest/gtest.h>

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
  EXPECT_EQ(cfg->control_socket(), "/run/maya/maya.sock");
  EXPECT_EQ(cfg->pidfile(), "/run/maya/maya.pid");
  EXPECT_EQ(cfg->log_file(), "/var/lib/maya/maya.log");
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
  for (const char* section : {"[host]", "[roles]", "[paths]", "[plugin]", "[api]", "[iscsi]",
                              "[volume.defaults]", "[drivers]"}) {
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

}  // namespace
}  // namespace maya::config
