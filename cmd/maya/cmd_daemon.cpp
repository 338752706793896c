// maya load | status | unload: start, inspect and stop the daemon named by a config.
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "cmd/maya/commands.h"
#include "lib/common/size.h"
#include "lib/daemon/control_client.h"
#include "lib/daemon/daemon.h"
#include "lib/daemon/launcher.h"
#include "lib/process/pidfile.h"

namespace maya::cli {
namespace {

using nlohmann::json;

constexpr auto kStartTimeout = std::chrono::seconds(30);
constexpr auto kStopTimeout = std::chrono::seconds(20);

std::string config_flag(const config::Config& cfg) {
  return cfg.file == config::kDefaultConfigPath ? "" : " --config " + cfg.file.string();
}

void print_status_table(const json& s) {
  std::string roles;
  for (const auto& r : s["roles"]) roles += (roles.empty() ? "" : ", ") + r.get<std::string>();
  std::cout << "daemon    running (pid " << s["pid"] << ", up "
            << format_duration(s["uptime_seconds"].get<long long>()) << ", maya "
            << s["version"].get<std::string>() << ")\n"
            << "config    " << s["config"].get<std::string>() << "\n"
            << "host      " << s["host"]["name"].get<std::string>() << " (id "
            << s["host"]["id"].get<std::string>() << ")\n"
            << "roles     " << (roles.empty() ? "none" : roles) << "\n";
  for (const auto& [name, path] : s["sockets"].items()) {
    std::cout << name << std::string(name.size() < 10 ? 10 - name.size() : 1, ' ')
              << path.get<std::string>() << "\n";
  }
  if (!s["log_file"].is_null())
    std::cout << "log       " << s["log_file"].get<std::string>() << " ("
              << s["log_level"].get<std::string>() << ")\n";
  std::cout << "volumes   " << s["volumes"] << "\n";
  if (const json& st = s.value("store", json()); st.is_object() && st.contains("free_bytes")) {
    std::cout << "store     " << st["path"].get<std::string>() << ": "
              << format_size(st["committed_bytes"].get<std::uint64_t>())
              << " committed to thin volumes, "
              << format_size(st["free_bytes"].get<std::uint64_t>()) << " free of "
              << format_size(st["total_bytes"].get<std::uint64_t>())
              << (st["overcommitted"].get<bool>() ? " (overcommitted)" : "") << "\n";
  }
  if (s.contains("warnings")) {
    for (const auto& w : s["warnings"]) std::cout << "warning   " << w.get<std::string>() << "\n";
  }
}

int reload_running(const config::Config& cfg, pid_t pid, const Globals& globals) {
  auto answer = daemon::call(cfg, "POST", "/v1/reload");
  if (!answer) {
    return error("the running daemon (pid " + std::to_string(pid) +
                 ") kept its configuration: " + answer.error().message);
  }
  if (json_output(globals)) {
    print_json(*answer);
    return 0;
  }
  std::cout << "maya daemon (pid " << pid << ") reloaded " << cfg.file.string()
            << ((*answer)["changed"].get<bool>() ? "" : " (no changes)") << "\n";
  for (const auto& w : (*answer)["warnings"])
    std::cerr << "warning: " << w.get<std::string>() << "\n";
  return 0;
}

}  // namespace

int cmd_load(Globals& globals, const Args& args) {
  int ready_fd = -1;
  po::options_description options("Options");
  options.add_options()(
      "foreground",
      "run the daemon in this process, logging to stderr (for systemd and debugging)");
  po::options_description hidden;
  hidden.add_options()("ready-fd", po::value(&ready_fd), "internal: pipe to report start-up on")(
      "log-to-file", "internal: log to the state directory");
  options.add(hidden);
  Parsed parsed = parse({"load", "maya load [--config PATH] [--foreground]",
                         "Validates the config and starts the maya daemon in the background, "
                         "returning once it answers.\nIf a daemon already runs for this config, "
                         "it reloads the config instead (a broken config changes nothing)."},
                        options, {}, args, globals);
  if (parsed.exit_code) return *parsed.exit_code;
  auto cfg = load_config(globals);
  if (!cfg) {
    if (ready_fd < 0) std::cerr << "Nothing was started or reloaded.\n";
    return 1;
  }

  bool foreground = parsed.vars.count("foreground") > 0;
  if (auto pid = PidFile::holder(cfg->pidfile())) {
    if (foreground) {
      return error("a maya daemon (pid " + std::to_string(*pid) + ") already runs for " +
                   cfg->file.string() +
                   "; use `maya load` to reload it or `maya unload` to stop it");
    }
    return reload_running(*cfg, *pid, globals);
  }
  if (foreground) {
    daemon::Options daemon_options;
    daemon_options.ready_fd = ready_fd;
    daemon_options.log_to_file = parsed.vars.count("log-to-file") > 0;
    return daemon::run(*cfg, daemon_options);
  }

  auto pid = daemon::launch_detached("/proc/self/exe", *cfg, kStartTimeout);
  if (!pid) return error("the daemon did not start: " + pid.error().message);
  auto status = daemon::call(*cfg, "GET", "/v1/status");
  if (!status) return error("the daemon started but does not answer: " + status.error().message);
  if (json_output(globals)) {
    print_json(*status);
    return 0;
  }
  std::cout << "maya daemon started (pid " << *pid << ")\n";
  print_status_table(*status);
  return 0;
}

int cmd_status(Globals& globals, const Args& args) {
  Parsed parsed = parse({"status", "maya status [--config PATH] [-o table|json]",
                         "Shows whether the daemon runs, and its pid, uptime, config, roles, "
                         "sockets and number of volumes.\nExit status 3 when no daemon runs."},
                        po::options_description("Options"), {}, args, globals);
  if (parsed.exit_code) return *parsed.exit_code;
  auto cfg = load_config(globals);
  if (!cfg) return 1;
  auto pid = PidFile::holder(cfg->pidfile());
  if (!pid) {
    if (json_output(globals)) {
      print_json({{"running", false}, {"config", cfg->file.string()}});
    } else {
      std::cout << "daemon    not running (start it with `maya" << config_flag(*cfg) << " load`)\n";
    }
    return 3;
  }
  auto status = daemon::call(*cfg, "GET", "/v1/status", nullptr, std::chrono::seconds(10));
  if (!status) {
    return error("the daemon (pid " + std::to_string(*pid) +
                 ") does not answer: " + status.error().message);
  }
  if (json_output(globals)) {
    (*status)["running"] = true;
    print_json(*status);
  } else {
    print_status_table(*status);
  }
  return 0;
}

namespace {

// Stops volume targets without a daemon (one was killed): SIGTERM to each pidfile holder.
int stop_targets_directly(const config::Config& cfg) {
  std::error_code ec;
  int stopped = 0;
  for (auto it = std::filesystem::directory_iterator(cfg.run_dir / "targets", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (it->path().extension() != ".pid") continue;
    auto pid = PidFile::holder(it->path());
    if (!pid || *pid <= 0) continue;
    ::kill(*pid, SIGTERM);
    for (int i = 0; i < 250 && PidFile::holder(it->path()); ++i) ::usleep(20'000);
    if (PidFile::holder(it->path())) ::kill(*pid, SIGKILL);
    ++stopped;
  }
  return stopped;
}

}  // namespace

int cmd_unload(Globals& globals, const Args& args) {
  bool stop_targets = false;
  po::options_description options("Options");
  options.add_options()("stop-targets", po::bool_switch(&stop_targets),
                        "also stop the volumes' iSCSI targets (they keep serving otherwise)");
  Parsed parsed = parse({"unload", "maya unload [--config PATH] [--stop-targets]",
                         "Stops the daemon cleanly: in-flight requests finish, sockets and the "
                         "pidfile are removed. Volume targets keep running, so volumes stay "
                         "usable and a later `maya load` adopts them; --stop-targets stops them "
                         "too (their initiators lose the volumes)."},
                        options, {}, args, globals);
  if (parsed.exit_code) return *parsed.exit_code;
  auto cfg = load_config(globals);
  if (!cfg) return 1;
  auto pid = PidFile::holder(cfg->pidfile());
  if (!pid) {
    std::cout << "no maya daemon runs for " << cfg->file.string() << "\n";
    if (stop_targets) std::cout << "stopped " << stop_targets_directly(*cfg) << " target(s)\n";
    return 0;
  }
  if (stop_targets) {
    // The daemon refuses (and keeps running) while volumes are attached to this host.
    auto answer = daemon::call(*cfg, "POST", "/v1/shutdown?stop_targets=true", nullptr,
                               std::chrono::seconds(60));
    if (!answer && PidFile::holder(cfg->pidfile())) return error(answer.error().message);
  } else if (auto answer =
                 daemon::call(*cfg, "POST", "/v1/shutdown", nullptr, std::chrono::seconds(10));
             !answer && *pid > 0) {
    std::cerr << "warning: " << answer.error().message << "; sending SIGTERM to pid " << *pid
              << "\n";
    ::kill(*pid, SIGTERM);
  }
  if (!daemon::wait_until_stopped(*cfg, kStopTimeout)) {
    return error("the daemon (pid " + std::to_string(*pid) + ") is still running after " +
                 std::to_string(kStopTimeout.count()) + " s");
  }
  if (stop_targets) stop_targets_directly(*cfg);  // any the daemon did not know of
  std::cout << "maya daemon (pid " << *pid << ") stopped\n";
  return 0;
}

}  // namespace maya::cli
