// `maya init`: writes a commented config and creates the directories it names.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "lib/common/result.h"
#include "lib/config/config.h"

namespace maya::config {

// The keys `maya init --realm/--etcd/--zone/--address` set in the template; empty ones keep
// the template's defaults (a single host, the [api] zone, the [iscsi] addresses).
struct RealmSettings {
  std::string realm_name;         // [realm] name
  std::vector<std::string> etcd;  // [realm] etcd
  std::string zone;               // [host] zone
  std::string address;            // [host] address
};

struct InitOptions {
  fs::path config_file;  // empty: <root>/etc/maya.conf
  fs::path root;         // empty: the real filesystem root
  bool force = false;
  RealmSettings realm;
};

struct InitResult {
  Config config;
  bool overwritten = false;
};

Result<InitResult> init(const InitOptions& options);

// The default config (etc/maya.conf) with every path placed under `root` ("" for /) and the
// realm settings written over their defaults: still the commented template.
std::string render_default(const fs::path& root, const std::string& host_name,
                           const std::string& host_id, const RealmSettings& realm = {});

// The realm settings as `maya init` flags checked against each other and the config's rules,
// before anything is written: "--etcd …" errors name the flag.
Result<void> check_realm_settings(const RealmSettings& realm, const std::string& region);

}  // namespace maya::config
