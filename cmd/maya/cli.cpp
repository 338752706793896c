#include "cmd/maya/cli.h"

#include "lib/daemon/control_client.h"
#include "lib/process/pidfile.h"

#include <iostream>

namespace maya::cli {

void add_global_options(po::options_description& options, Globals& globals) {
  options.add_options()("config", po::value(&globals.config)->value_name("PATH"),
                        "config file (default: $MAYA_CONFIG, else /etc/maya.conf)")(
      "output,o", po::value(&globals.output)->value_name("FORMAT"), "output: table or json")(
      "help,h", "show this help");
}

void print_command_help(const CommandSpec& spec, const po::options_description& options) {
  Globals ignored;
  po::options_description global("Global options", 100);
  add_global_options(global, ignored);
  std::cout << "Usage: " << spec.usage << "\n\n" << spec.summary << "\n\n";
  if (!options.options().empty()) std::cout << options << "\n";
  std::cout << global;
  if (!spec.example.empty()) {
    std::cout << "\nExample:\n";
    std::size_t start = 0;
    while (start < spec.example.size()) {
      std::size_t end = spec.example.find('\n', start);
      if (end == std::string::npos) end = spec.example.size();
      std::cout << "  " << spec.example.substr(start, end - start) << "\n";
      start = end + 1;
    }
  }
}

Parsed parse(const CommandSpec& spec, po::options_description options,
             const po::positional_options_description& positional,
             const std::vector<std::string>& args, Globals& globals,
             const po::options_description& hidden) {
  Parsed parsed;
  po::options_description all;
  all.add(options).add(hidden);
  add_global_options(all, globals);
  try {
    po::store(po::command_line_parser(args).options(all).positional(positional).run(), parsed.vars);
    if (parsed.vars.count("help")) {
      print_command_help(spec, options);
      parsed.exit_code = 0;
      return parsed;
    }
    po::notify(parsed.vars);
  } catch (const po::error& e) {
    parsed.exit_code = usage_error(spec.name, e.what());
    return parsed;
  }
  if (globals.output != "table" && globals.output != "json") {
    parsed.exit_code = usage_error(
        spec.name, "unknown output format \"" + globals.output + "\" (use table or json)");
  }
  return parsed;
}

int error(const std::string& message) {
  std::cerr << "maya: " << message << "\n";
  return kExitFailed;
}

int usage_error(const std::string& command, const std::string& message) {
  const std::string maya = command.empty() ? "maya" : "maya " + command;
  std::cerr << maya << ": " << message << " (see `" << maya << " --help`)\n";
  return kExitUsage;
}

std::optional<std::vector<std::string>> help_redirect(const std::vector<std::string>& args) {
  if (args.size() < 2 || args[0] != "help") return std::nullopt;
  std::vector<std::string> redirected{args[1], "--help"};
  redirected.insert(redirected.end(), args.begin() + 2, args.end());
  return redirected;
}

int report(const Globals& globals, const nlohmann::json& value, const std::string& text) {
  if (json_output(globals))
    print_json(value);
  else
    std::cout << text << "\n";
  return 0;
}

std::optional<config::Config> load_config(const Globals& globals) {
  auto loaded = config::load(config::resolve_path(globals.config));
  if (!loaded) {
    error(loaded.error().message);
    return std::nullopt;
  }
  return *loaded;
}

std::string daemon_not_running_message(const config::Config& cfg) {
  std::string flag = cfg.file == config::kDefaultConfigPath ? "" : " --config " + cfg.file.string();
  return "maya daemon is not running (start it with: maya" + flag + " load)";
}

std::optional<nlohmann::json> call_daemon(const Globals& globals, const std::string& method,
                                          const std::string& target, const nlohmann::json& body,
                                          std::chrono::milliseconds timeout) {
  auto cfg = load_config(globals);
  if (!cfg) return std::nullopt;
  auto down = [&] {
    std::cerr << "maya: " << daemon_not_running_message(*cfg) << "\n";
    throw DaemonNotRunning{};
  };
  if (!PidFile::holder(cfg->pidfile())) down();
  auto answer = daemon::call(*cfg, method, target, body, timeout);
  if (!answer) {
    if (!PidFile::holder(cfg->pidfile())) down();  // it stopped meanwhile
    error(answer.error().message);
    return std::nullopt;
  }
  return *answer;
}

bool json_output(const Globals& globals) {
  return globals.output == "json";
}

void print_json(const nlohmann::json& value) {
  std::cout << value.dump(2) << "\n";
}

std::string format_duration(long long seconds) {
  long long d = seconds / 86400, h = seconds / 3600 % 24, m = seconds / 60 % 60, s = seconds % 60;
  if (d > 0) return std::to_string(d) + "d" + std::to_string(h) + "h";
  if (h > 0) return std::to_string(h) + "h" + std::to_string(m) + "m";
  if (m > 0) return std::to_string(m) + "m" + std::to_string(s) + "s";
  return std::to_string(s) + "s";
}

}  // namespace maya::cli
