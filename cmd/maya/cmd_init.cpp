// maya init: write the commented config and create the store, state and run directories.
#include <iostream>

#include "cmd/maya/commands.h"
#include "lib/config/init.h"
#include "lib/ebs/credentials_file.h"

namespace maya::cli {

int cmd_init(Globals& globals, const Args& args) {
  std::string root;
  config::RealmSettings realm;
  po::options_description options("Options");
  options.add_options()("root", po::value(&root)->value_name("DIR"),
                        "place every path (config, store, state, run, sockets) under DIR")(
      "force", "replace an existing config file (the host id is kept)")(
      "realm", po::value(&realm.realm_name)->value_name("NAME"),
      "join the realm NAME ([realm] name; needs --etcd): letters, digits, '_', '.', '-'")(
      "etcd", po::value(&realm.etcd)->value_name("URL"),
      "an etcd endpoint of the realm, http://HOST:PORT ([realm] etcd; needs --realm); "
      "repeatable")("zone", po::value(&realm.zone)->value_name("ZONE"),
                    "this host's zone ([host] zone): the [api] region and one letter, e.g. maya-1b "
                    "(default: the [api] zone)")(
      "address", po::value(&realm.address)->value_name("IP"),
      "the IP other hosts reach this one at ([host] address); the iSCSI portals listen "
      "on it too ([iscsi] address), so that other hosts reach its shared replicas");
  Parsed parsed =
      parse({"init",
             "maya init [--config PATH] [--root DIR] [--force] [--realm NAME --etcd URL...] "
             "[--zone ZONE] [--address IP]",
             "Writes the maya config (TOML, every key commented), creates the "
             "directories it names and, once, the EBS-compatible API's key pair "
             "([api] credentials).\nThe config goes to --config, else "
             "$MAYA_CONFIG, else <root>/etc/maya.conf.\nWithout --realm the host is on its "
             "own (no etcd); with --realm and --etcd it is a host of that realm.",
             "maya init && maya load\nmaya init --root /tmp/maya-try  # everything "
             "under one directory\nmaya init --realm prod --etcd http://10.0.0.5:2379 "
             "--zone maya-1b --address 10.0.1.7"},
            options, {}, args, globals);
  if (parsed.exit_code) return *parsed.exit_code;
  config::InitOptions init_options;
  init_options.root = root;
  init_options.force = parsed.vars.count("force") > 0;
  init_options.realm = realm;
  if (!globals.config.empty() || root.empty())
    init_options.config_file = config::resolve_path(globals.config);
  // Realm flags that contradict each other or the config's rules fail here, before anything
  // is written.
  auto result = config::init(init_options);
  if (!result) return error(result.error().message);
  // The EBS-compatible API's key pair, once: init --force keeps the one clients hold.
  if (auto credentials = ebs::write_new_credentials(result->config.api_credentials); !credentials)
    return error("wrote " + result->config.file.string() +
                 " but not the API key pair: " + credentials.error().message);

  const config::Config& cfg = result->config;
  if (json_output(globals)) {
    print_json({{"config", cfg.file.string()},
                {"overwritten", result->overwritten},
                {"host_id", cfg.host_id},
                {"store", cfg.store_dir.string()},
                {"state", cfg.state_dir.string()},
                {"run", cfg.run_dir.string()},
                {"api_credentials", cfg.api_credentials.string()},
                {"realm", cfg.realm_name},
                {"etcd", cfg.realm_etcd},
                {"zone", cfg.host_zone},
                {"address", cfg.host_address}});
    return 0;
  }
  std::cout << (result->overwritten ? "Replaced " : "Wrote ") << cfg.file.string() << "\n"
            << "  host    " << cfg.host_name << " (id " << cfg.host_id << ")\n"
            << "  store   " << cfg.store_dir.string() << "\n"
            << "  state   " << cfg.state_dir.string() << "\n"
            << "  run     " << cfg.run_dir.string() << "\n"
            << "  API key " << cfg.api_credentials.string() << " (profile maya)\n"
            << "  zone    " << cfg.host_zone << "\n";
  if (cfg.in_realm()) {
    std::cout << "  realm   " << cfg.realm_name << " (etcd";
    for (const std::string& url : cfg.realm_etcd) std::cout << " " << url;
    std::cout << ")\n";
  }
  std::cout << "Next: maya"
            << (globals.config.empty() && root.empty() ? "" : " --config " + cfg.file.string())
            << " load\n";
  return 0;
}

}  // namespace maya::cli
