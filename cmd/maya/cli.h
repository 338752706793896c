// What every `maya` command shares: global flags, option parsing with --help, error printing.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "lib/config/config.h"

namespace maya::cli {

namespace po = boost::program_options;

struct Globals {
  std::string config;            // --config (empty: $MAYA_CONFIG or /etc/maya.conf)
  std::string output = "table";  // -o table|json
};

// A parsed command line, or the exit code to return when parsing printed help or an error.
struct Parsed {
  po::variables_map vars;
  std::optional<int> exit_code;
};

struct CommandSpec {
  std::string name;     // "volume create"
  std::string usage;    // "maya init [--root DIR] [--force]"
  std::string summary;  // one paragraph
  std::string example;  // one or more command lines, shown under "Example:"
};

// The exit statuses of every command: 0 ok, 1 failed, 2 usage, 3 daemon not running.
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitDaemonNotRunning = 3;

// Parses `args` against `options` plus the global flags (which may also follow the command).
// `hidden` holds options that --help does not show: positional words and internal flags.
// --help prints the usage, summary, options and example.
Parsed parse(const CommandSpec& spec, po::options_description options,
             const po::positional_options_description& positional,
             const std::vector<std::string>& args, Globals& globals,
             const po::options_description& hidden = po::options_description());

// Prints the help of `spec` (as `--help` does) with `options` and the global flags.
void print_command_help(const CommandSpec& spec, const po::options_description& options);

// Prints "maya: <message>" on stderr; returns the exit status 1.
int error(const std::string& message);

// Prints "maya COMMAND: <message> (see `maya COMMAND --help`)" on stderr; returns 2.
int usage_error(const std::string& command, const std::string& message);

// `maya GROUP help VERB ARGS...` is `maya GROUP VERB --help ARGS...`: the arguments to run
// instead, or nothing when `args` is not `help VERB ...`.
std::optional<std::vector<std::string>> help_redirect(const std::vector<std::string>& args);

// Prints `value` as JSON with -o json, else the line `text` on stdout; returns 0.
int report(const Globals& globals, const nlohmann::json& value, const std::string& text);

// Loads the config named by the globals, or prints why it cannot.
std::optional<config::Config> load_config(const Globals& globals);

// Thrown by call_daemon when no daemon runs: main prints nothing more and exits 3, whatever
// command asked (every caller would otherwise need to tell "down" from "failed").
struct DaemonNotRunning {};

// "maya daemon is not running (start it with: maya load)", with --config when not the default.
std::string daemon_not_running_message(const config::Config& cfg);

// Sends a request to the daemon the config names; prints the error (and returns nullopt) when
// it fails. When no daemon runs it prints daemon_not_running_message and throws
// DaemonNotRunning.
std::optional<nlohmann::json> call_daemon(
    const Globals& globals, const std::string& method, const std::string& target,
    const nlohmann::json& body = nullptr,
    std::chrono::milliseconds timeout = std::chrono::seconds(60));

bool json_output(const Globals& globals);
void print_json(const nlohmann::json& value);

// "3d4h", "5m3s", "12s"
std::string format_duration(long long seconds);

}  // namespace maya::cli
