// maya load | status | unload: start, inspect and stop the daemon named by a config.
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>

#include "cmd/maya/commands.h"
#include "cmd/maya/table.h"
#include "lib/common/size.h"
#include "lib/daemon/control_client.h"
#include "lib/daemon/daemon.h"
#include "lib/daemon/discovery_chap.h"
#include "lib/daemon/launcher.h"
#include "lib/ebs/credentials_file.h"
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
  Table table = Table::headless();
  table.add({"daemon", "running (pid " + s["pid"].dump() + ", up " +
                           format_duration(s["uptime_seconds"].get<long long>()) + ", maya " +
                           s["version"].get<std::string>() + ")"});
  table.add({"config", s["config"].get<std::string>()});
  table.add({"host", s["host"]["name"].get<std::string>() + " (id " +
                         s["host"]["id"].get<std::string>() + ")"});
  table.add({"roles", roles.empty() ? "none" : roles});
  for (const auto& [name, path] : s["sockets"].items()) table.add({name, path.get<std::string>()});
  if (s.contains("api") && s["api"].is_object()) {
    const auto& api = s["api"];
    table.add({"ebs api", api.value("served", false)
                              ? api.value("endpoint", "") + " (region " + api.value("region", "") +
                                    ", zone " + api.value("zone", "") + ")"
                              : api.value("reason", "")});
  }
  if (s.contains("metrics") && s["metrics"].is_object()) {
    const auto& metrics = s["metrics"];
    table.add({"metrics", metrics.value("served", false) ? metrics.value("endpoint", "")
                                                         : metrics.value("reason", "")});
  }
  if (!s["log_file"].is_null())
    table.add(
        {"log", s["log_file"].get<std::string>() + " (" + s["log_level"].get<std::string>() + ")"});
  if (s.contains("realm") && s["realm"].is_object()) {
    const auto& realm = s["realm"];
    std::string line =
        realm.value("name", "") + ": " +
        (realm.value("registered", false) ? "registered since " + realm.value("since", "")
                                          : std::string("not registered"));
    if (realm.contains("error")) line += " (" + realm.value("error", "") + ")";
    table.add({"realm", line});
  }
  table.add({"volumes", s["volumes"].dump()});
  if (s.contains("store") && s["store"].is_object()) {
    const auto& st = s["store"];
    table.add(
        {"store", st["path"].get<std::string>() + " (" +
                      std::to_string(st["used_percent"].get<unsigned>()) + "% used, " +
                      format_size_approx(st["free_bytes"].get<std::uint64_t>()) + " free of " +
                      format_size_approx(st["total_bytes"].get<std::uint64_t>()) + "; warning at " +
                      std::to_string(st["warn_percent"].get<unsigned>()) + "%)"});
    if (st["committed_bytes"].is_number())
      table.add({"thin", format_size_approx(st["committed_bytes"].get<std::uint64_t>()) +
                             " committed to thin volumes" +
                             (st["overcommitted"].get<bool>() ? " (overcommitted)" : "")});
  }
  if (s.contains("warnings")) {
    for (const auto& w : s["warnings"]) table.add({"warning", w.get<std::string>()});
  }
  table.print(std::cout);
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

// The running daemon execs this very binary (the upgraded one) in its own process, which
// inherits the listening sockets: Docker and the CLI are never refused meanwhile.
int restart_running(const config::Config& cfg, pid_t pid, const Globals& globals) {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return error("cannot find the maya binary to restart with: " + ec.message());
  auto answer = daemon::call(cfg, "POST", "/v1/restart", {{"exe", exe.string()}});
  if (!answer) {
    const bool old = answer.error().message.starts_with("no such endpoint");
    return error("the running daemon (pid " + std::to_string(pid) +
                 ") did not restart: " + answer.error().message +
                 (old ? " (a daemon older than this maya cannot hand its sockets over: `maya "
                        "unload` and `maya load` restart it, with a gap for Docker)"
                      : ""));
  }
  const json old_instance = (*answer)["instance"];
  // Requests wait in the socket's backlog until the new image serves them.
  auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  while (true) {
    auto status = daemon::call(cfg, "GET", "/v1/status", nullptr, kStartTimeout);
    if (status && (*status)["instance"] != old_instance) {
      if (json_output(globals)) {
        print_json(*status);
        return 0;
      }
      std::cout << "maya daemon (pid " << (*status)["pid"] << ") restarted as maya "
                << (*status)["version"].get<std::string>() << " from " << exe.string()
                << "; its sockets stayed open\n";
      return 0;
    }
    if (!PidFile::holder(cfg.pidfile()))
      return error("the daemon stopped during its restart; see " + cfg.log_file().string());
    if (std::chrono::steady_clock::now() >= deadline)
      return error("the daemon did not come back within " + std::to_string(kStartTimeout.count()) +
                   " s; see " + cfg.log_file().string());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// A config from before the EBS-compatible API (an upgraded host: the quick start keeps its
// config and runs `maya load`) names no credentials file that `maya init` wrote: one is written
// here, once, so that `aws --profile maya` works. An existing file is never touched.
void ensure_api_credentials(const config::Config& cfg, bool json_out) {
  if (!cfg.role_orchestration) return;
  auto written = ebs::write_new_credentials(cfg.api_credentials);
  if (!written) {
    std::cerr << "warning: the EBS-compatible API has no key pair: cannot write "
              << cfg.api_credentials.string() << ": " << written.error().message << "\n";
    return;
  }
  if (!*written) return;
  (json_out ? std::cerr : std::cout)
      << "Wrote a new EBS-compatible API key pair to " << cfg.api_credentials.string()
      << " (profile maya, mode 0600): [api] credentials named no existing file\n";
}

}  // namespace

int cmd_load(Globals& globals, const Args& args) {
  int ready_fd = -1;
  po::options_description options("Options");
  options.add_options()(
      "foreground",
      "run the daemon in this process, logging to stderr (for systemd and debugging)")(
      "restart",
      "restart a running daemon as this binary (after an upgrade), its sockets kept open");
  po::options_description hidden;
  hidden.add_options()("ready-fd", po::value(&ready_fd), "internal: pipe to report start-up on")(
      "log-to-file", "internal: log to the state directory");
  Parsed parsed = parse({"load", "maya load [--config PATH] [--foreground | --restart]",
                         "Validates the config and starts the maya daemon in the background, "
                         "returning once it answers.\nIf a daemon already runs for this config, "
                         "it reloads the config instead (a broken config changes nothing); "
                         "with --restart it execs this binary instead, handing over its "
                         "sockets so that Docker is never refused (use it after an upgrade).",
                         "maya load\nmaya load --restart   # after installing a new maya"},
                        options, {}, args, globals, hidden);
  if (parsed.exit_code) return *parsed.exit_code;
  auto cfg = load_config(globals);
  if (!cfg) {
    if (ready_fd < 0) std::cerr << "Nothing was started or reloaded.\n";
    return 1;
  }

  bool foreground = parsed.vars.count("foreground") > 0;
  if (ready_fd < 0) ensure_api_credentials(*cfg, json_output(globals));
  // A daemon restarting as this process holds the lock itself (it comes along across exec).
  const bool handed_over = foreground && std::getenv("MAYA_PIDFILE_FD") != nullptr;
  if (auto pid = PidFile::holder(cfg->pidfile()); pid && !handed_over) {
    if (foreground) {
      return error("a maya daemon (pid " + std::to_string(*pid) + ") already runs for " +
                   cfg->file.string() +
                   "; use `maya load` to reload it or `maya unload` to stop it");
    }
    if (parsed.vars.count("restart")) return restart_running(*cfg, *pid, globals);
    return reload_running(*cfg, *pid, globals);
  }
  if (foreground) {
    daemon::Options daemon_options;
    daemon_options.ready_fd = ready_fd;
    daemon_options.log_to_file = parsed.vars.count("log-to-file") > 0;
    return daemon::run(*cfg, daemon_options);
  }

  // The binary by its real path, not /proc/self/exe: the kernel names a process after the file
  // it executed, and the daemon should show as `maya` in ps, pgrep and ss, not `exe`.
  std::error_code no_path;
  auto self = std::filesystem::read_symlink("/proc/self/exe", no_path);
  auto pid =
      daemon::launch_detached(no_path ? "/proc/self/exe" : self.string(), *cfg, kStartTimeout);
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
  po::options_description options("Options");
  options.add_options()("show-secrets",
                        "also print the discovery portal's CHAP user and secret ([iscsi] chap)");
  Parsed parsed = parse({"status", "maya status [--config PATH] [--show-secrets] [-o table|json]",
                         "Shows whether the daemon runs, and its pid, uptime, config, roles, "
                         "sockets and number of volumes.\nExit status 3 when no daemon runs.",
                         "maya status -o json | jq .pid"},
                        options, {}, args, globals);
  if (parsed.exit_code) return *parsed.exit_code;
  const bool secrets = parsed.vars.count("show-secrets") > 0;
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
  std::optional<iscsi::ChapCredentials> discovery_chap;
  if (secrets && cfg->iscsi_chap) {
    auto chap = daemon::read_discovery_chap(*cfg);
    if (!chap) return error(chap.error().message);
    if (chap->enabled()) discovery_chap = *chap;
  }
  if (json_output(globals)) {
    (*status)["running"] = true;
    if (secrets) {
      (*status)["discovery_chap_credentials"] =
          discovery_chap ? json{{"user", discovery_chap->user}, {"secret", discovery_chap->secret}}
                         : json();
    }
    print_json(*status);
  } else {
    print_status_table(*status);
    if (secrets) {
      std::cout << "chap      "
                << (discovery_chap ? discovery_chap->user + " " + discovery_chap->secret +
                                         " (the iSCSI discovery portal's)"
                                   : std::string("none ([iscsi] chap = false)"))
                << "\n";
    }
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

// Docker keeps using the volumes it has mounted, but without maya it cannot reach them by
// name: say so before the plugin socket goes away, naming them.
void warn_docker_mounts(const config::Config& cfg) {
  auto answer = daemon::call(cfg, "GET", "/v1/volumes", nullptr, std::chrono::seconds(10));
  if (!answer || !answer->contains("volumes")) return;
  std::string names;
  for (const auto& v : (*answer)["volumes"]) {
    if (v.value("mount_count", 0) > 0)
      names += (names.empty() ? "" : ", ") + v.value("name", std::string("?"));
  }
  if (names.empty()) return;
  std::cerr << "warning: Docker holds maya volumes: " << names << ".\n"
            << "  Containers using them keep running on their mounted file systems.\n";
  auto status = daemon::call(cfg, "GET", "/v1/status", nullptr, std::chrono::seconds(10));
  if (status && status->value("plugin_socket_held_by", json()) == "service manager") {
    std::cerr
        << "  systemd holds the plugin socket (maya-plugin.socket): Docker's requests wait, and "
           "start maya again.\n";
    return;
  }
  std::cerr << "  Until `maya load`, Docker cannot reach maya's plugin socket. A new `docker run "
               "-v NAME`\n"
            << "  retries for about 15 s and fails (\"volume name must be unique\"), or, where "
               "Docker no longer\n"
            << "  knows the volume, creates an empty local volume of that name that hides maya's "
               "(remove it\n"
            << "  with `docker volume rm NAME`). A container stopped meanwhile waits as long and "
               "maya keeps\n"
            << "  its mount. To restart or upgrade maya without this gap, use `maya load "
               "--restart`.\n";
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
                         "too (their initiators lose the volumes).",
                         "maya unload"},
                        options, {}, args, globals);
  if (parsed.exit_code) return *parsed.exit_code;
  auto cfg = load_config(globals);
  if (!cfg) return 1;
  auto pid = PidFile::holder(cfg->pidfile());
  if (!pid) {
    const int stopped = stop_targets ? stop_targets_directly(*cfg) : 0;
    if (json_output(globals)) {
      print_json(
          {{"stopped", false}, {"config", cfg->file.string()}, {"targets_stopped", stopped}});
      return 0;
    }
    std::cout << "no maya daemon runs for " << cfg->file.string() << "\n";
    if (stop_targets) std::cout << "stopped " << stopped << " target(s)\n";
    return 0;
  }
  warn_docker_mounts(*cfg);
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
  return report(globals, {{"stopped", true}, {"pid", *pid}},
                "maya daemon (pid " + std::to_string(*pid) + ") stopped");
}

}  // namespace maya::cli
