// maya init: write the commented config and create the store, state and run directories.
#include <iostream>

#include "cmd/maya/commands.h"
#include "lib/config/init.h"
#include "lib/ebs/credentials_file.h"

namespace maya::cli {

int cmd_init(Globals& globals, const Args& args) {
  std::string root;
  po::options_description options("Options");
  options.add_options()("root", po::value(&root)->value_name("DIR"),
                        "place every path (config, store, state, run, sockets) under DIR")(
      "force", "replace an existing config file (the host id is kept)");
  Parsed parsed = parse({"init", "maya init [--config PATH] [--root DIR] [--force]",
                         "Writes the maya config (TOML, every key commented), creates the "
                         "directories it names and, once, the EBS-compatible API's key pair "
                         "([api] credentials).\nThe config goes to --config, else "
                         "$MAYA_CONFIG, else <root>/etc/maya.conf.",
                         "maya init && maya load\nmaya init --root /tmp/maya-try  # everything "
                         "under one directory"},
                        options, {}, args, globals);
  if (parsed.exit_code) return *parsed.exit_code;

  config::InitOptions init_options;
  init_options.root = root;
  init_options.force = parsed.vars.count("force") > 0;
  if (!globals.config.empty() || root.empty())
    init_options.config_file = config::resolve_path(globals.config);
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
                {"api_credentials", cfg.api_credentials.string()}});
    return 0;
  }
  std::cout << (result->overwritten ? "Replaced " : "Wrote ") << cfg.file.string() << "\n"
            << "  host    " << cfg.host_name << " (id " << cfg.host_id << ")\n"
            << "  store   " << cfg.store_dir.string() << "\n"
            << "  state   " << cfg.state_dir.string() << "\n"
            << "  run     " << cfg.run_dir.string() << "\n"
            << "  API key " << cfg.api_credentials.string() << " (profile maya)\n"
            << "Next: maya"
            << (globals.config.empty() && root.empty() ? "" : " --config " + cfg.file.string())
            << " load\n";
  return 0;
}

}  // namespace maya::cli
