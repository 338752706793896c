// maya: the host storage agent's command line. Dispatches to one handler per command group.
#include <cstring>
#include <functional>
#include <iostream>
#include <map>

#include "cmd/maya/commands.h"

namespace {

using maya::cli::Args;
using maya::cli::Globals;

struct Command {
  std::function<int(Globals&, const Args&)> run;
  const char* summary;
};

const std::map<std::string, Command>& commands() {
  static const std::map<std::string, Command> table = {
      {"init", {maya::cli::cmd_init, "write the config file and create maya's directories"}},
      {"load", {maya::cli::cmd_load, "start the daemon, or make a running one reload its config"}},
      {"pool", {maya::cli::cmd_pool, "create, list, inspect and destroy pools (one disk each)"}},
      {"realm", {maya::cli::cmd_realm, "the hosts of this host's realm (hosts sharing an etcd)"}},
      {"replica", {maya::cli::cmd_replica, "create, list and destroy bare replicas in pools"}},
      {"snapshot",
       {maya::cli::cmd_snapshot, "list and delete snapshots, those of deleted volumes too"}},
      {"status", {maya::cli::cmd_status, "show the daemon's pid, uptime, roles and sockets"}},
      {"target", {maya::cli::cmd_target, "serve an iSCSI target on a file (maya target serve)"}},
      {"unload", {maya::cli::cmd_unload, "stop the daemon cleanly"}},
      {"volume",
       {maya::cli::cmd_volume,
        "create, list, inspect, attach and delete volumes; their replicas and snapshots"}},
  };
  return table;
}

void print_help() {
  std::cout << "Usage: maya [--config PATH] [-o table|json] COMMAND [ARGS...]\n\n"
               "maya gives this host persistent block volumes for containers.\n\n"
               "Commands:\n";
  for (const auto& [name, command] : commands()) {
    std::cout << "  " << name << std::string(10 - name.size(), ' ') << command.summary << "\n";
  }
  std::cout << "\nGlobal options:\n"
               "  --config PATH   config file (default: $MAYA_CONFIG, else /etc/maya.conf)\n"
               "  -o FORMAT       output: table (default) or json, for every command\n"
               "  -h, --help      show help; `maya COMMAND --help` for a command\n"
               "  --version       print the version\n"
               "\nExit status: 0 done, 1 failed, 2 usage error, 3 the daemon is not running.\n"
               "`maya help COMMAND` (or `maya COMMAND --help`) shows a command's options and an "
               "example.\n";
}

}  // namespace

int main(int argc, char** argv) {
  Globals globals;
  int i = 1;
  // Global flags come before the command; commands accept them after their name too.
  for (; i < argc && argv[i][0] == '-'; ++i) {
    std::string arg = argv[i];
    auto value = [&](const std::string& flag) -> const char* {
      if (arg.size() > flag.size() && arg.compare(0, flag.size() + 1, flag + "=") == 0)
        return argv[i] + flag.size() + 1;
      if (i + 1 >= argc) return nullptr;
      return argv[++i];
    };
    if (arg == "-h" || arg == "--help") {
      print_help();
      return 0;
    }
    if (arg == "--version") {
      std::cout << "maya " MAYA_VERSION "\n";
      return 0;
    }
    const char* v = nullptr;
    if (arg == "--config" || arg.starts_with("--config=")) {
      if (!(v = value("--config"))) return maya::cli::usage_error("", "--config needs a path");
      globals.config = v;
    } else if (arg == "-o" || arg == "--output" || arg.starts_with("--output=")) {
      if (!(v = value(arg == "-o" ? "-o" : "--output")))
        return maya::cli::usage_error("", arg + " needs a format (table or json)");
      globals.output = v;
    } else {
      std::cerr << "maya: unknown option " << arg << " (see `maya --help`)\n";
      return 2;
    }
  }
  if (i >= argc) {
    print_help();
    return 2;
  }
  std::string name = argv[i];
  if (name == "help") {
    if (i + 1 >= argc) {
      print_help();
      return 0;
    }
    // `maya help COMMAND [SUB]` is `maya COMMAND [SUB] --help`.
    auto command = commands().find(argv[i + 1]);
    if (command == commands().end()) {
      std::cerr << "maya: unknown command \"" << argv[i + 1] << "\" (see `maya --help`)\n";
      return 2;
    }
    Args args(argv + i + 2, argv + argc);
    args.push_back("--help");
    return command->second.run(globals, args);
  }
  if (name == "version") {
    std::cout << "maya " MAYA_VERSION "\n";
    return 0;
  }
  auto it = commands().find(name);
  if (it == commands().end()) {
    std::cerr << "maya: unknown command \"" << name << "\" (see `maya --help`)\n";
    return 2;
  }
  Args args(argv + i + 1, argv + argc);
  try {
    return it->second.run(globals, args);
  } catch (const maya::cli::DaemonNotRunning&) {
    return maya::cli::kExitDaemonNotRunning;  // call_daemon said so
  } catch (const std::exception& e) {
    return maya::cli::error(e.what());
  }
}
