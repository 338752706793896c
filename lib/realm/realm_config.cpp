#include "lib/realm/realm_config.h"

#include "lib/common/files.h"

namespace maya::realm {

Result<std::unique_ptr<RealmStore>> open_store(const config::Config& config) {
  if (!config.in_realm())
    return fail(config.file.string() +
                " names no realm: join one with `maya init --realm NAME --etcd URL --force` "
                "(or set [realm] name and etcd)");
  EtcdOptions options;
  options.endpoints = config.realm_etcd;
  options.user = config.realm_etcd_user;
  if (!config.realm_etcd_password_file.empty()) {
    auto password = read_file(config.realm_etcd_password_file);
    if (!password) return fail("reading [realm] etcd_password_file", password.error());
    while (!password->empty() && (password->back() == '\n' || password->back() == '\r'))
      password->pop_back();
    options.password = std::move(*password);
  }
  return open_etcd(options);
}

HostRecord host_basics(const config::Config& config) {
  HostRecord host;
  host.id = config.host_id;
  host.name = config.host_name;
  host.zone = config.host_zone;
  host.address = config.reach_address();
  if (config.role_storage) host.roles.push_back("storage");
  if (config.role_orchestration) host.roles.push_back("orchestration");
  host.version = MAYA_VERSION;
  return host;
}

}  // namespace maya::realm
