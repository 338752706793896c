// The running daemon: one Asio loop serving the control API, the Docker plugin and the iSCSI
// discovery portal over the host's volume service. daemon.cpp runs it as a process (pidfile, log
// file, ready pipe, exec on handover); its parts live in files named for them: daemon_server.cpp
// (start, serve, stop, signals, handover), daemon_listeners.cpp (sockets, inherited or bound; the
// discovery portal), daemon_status.cpp, daemon_reload.cpp.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "drivers/os_driver.h"
#include "drivers/pools/pool_service.h"
#include "drivers/pools/replica_shares.h"
#include "drivers/volume/volume_json.h"
#include "drivers/volume_service.h"
#include "lib/common/io_stats.h"
#include "lib/config/config.h"
#include "lib/daemon/handover.h"
#include "lib/daemon/listen_fds.h"
#include "lib/daemon/pool_watch.h"
#include "lib/http/server.h"
#include "lib/iscsi_target/target.h"
#include "lib/process/pidfile.h"

namespace maya::ebs {
class Api;
}
namespace maya::realm {
class HostAgent;
struct HostRecord;
}  // namespace maya::realm

namespace maya::daemon {

class RealmVolumes;
class RealmEbsLink;
struct DaemonMetrics;
class RealmRequests;

class Daemon {
 public:
  Daemon(config::Config config, PidFile pidfile, bool log_to_file,
         std::vector<InheritedSocket> inherited);
  ~Daemon();

  // Opens the volume service (reconciled, its targets started), then every listener.
  Result<void> start();
  // Serves until a signal or a request stops it. Returns what to exec when the daemon hands over to
  // a new image, else nothing.
  std::optional<Handover> run();

 private:
  using Clock = std::chrono::steady_clock;

  // Start-up steps, in order (daemon_server.cpp).
  void import_pools();  // before the volumes: later, their replicas live in pools
  Result<void> open_volumes();
  void reconcile_at_start();
  void start_targets();
  // Starts the pools' watch, or gives the running one the config's replace settings; none once
  // closed.
  void start_pool_watch();
  void stop_pool_watch();
  Result<void> open_control_api();
  Result<void> open_plugin();
  void make_api();  // daemon_api.cpp: the API's catalog, served or not
  drivers::EbsIdOf ebs_ids() const;
  void open_api();
  // Metrics (daemon_metrics.cpp): GET /metrics on [metrics] listen, gathered at scrape time.
  void open_metrics();
  DaemonMetrics gather_metrics();
  nlohmann::json metrics_json() const;
  http::Response volume_stats(const std::string& name);
  config::Config config_copy();  // under mutex_
  // `handler`, its requests counted and timed in `counter` (one per front door).
  static http::Handler counted(IoCounter& counter, http::Handler handler);
  void close_unclaimed_sockets();
  // The realm (daemon_realm.cpp): membership kept while the daemon runs; the volume service
  // wrapped so that jiva volumes are the realm's; a thread that keeps this host's replicas as
  // etcd says and drops stale nexuses.
  void make_realm();
  void wrap_volumes_for_realm();
  void start_realm();
  void stop_realm();
  void realm_loop();
  void serve_ebs_requests();  // realm_requests.cpp: the EBS requests for this host
  realm::HostRecord describe_host();
  nlohmann::json realm_json() const;
  void await_signal();
  // Serving and stopping.
  void log_serving() const;
  void finish_requests();
  Handover hand_over();
  void shut_down();
  void on_signal(boost::system::error_code ec, int sig);
  Result<void> shutdown(bool stop_targets);
  Result<nlohmann::json> restart(const std::string& exe);
  void begin_handover(const std::string& exe);
  void stop(const std::string& why);

  // Listeners (daemon_listeners.cpp).
  InheritedSocket* inherited_for(const std::string& role, const std::filesystem::path& path);
  Result<std::unique_ptr<http::UnixServer>> serve_unix(const std::string& role,
                                                       const std::filesystem::path& path,
                                                       http::ServerOptions options,
                                                       http::Handler handler);
  Result<void> start_discovery();
  Result<iscsi_target::TargetOptions> discovery_options();
  bool serves_docker() const;

  // GET /v1/status (daemon_status.cpp).
  nlohmann::json status();
  nlohmann::json sockets_json() const;
  nlohmann::json store_space(nlohmann::json& warnings) const;
  std::size_t count_volumes() const;
  nlohmann::json api_json() const;  // daemon_api.cpp
  std::string api_zone() const;     // daemon_api.cpp

  // Reload (daemon_reload.cpp).
  config::VolumeDefaults volume_defaults();
  Result<nlohmann::json> reload_all();
  Result<nlohmann::json> reload();
  nlohmann::json keep_restart_settings(config::Config& fresh) const;

  boost::asio::io_context io_;
  boost::asio::signal_set signals_{io_, SIGTERM, SIGINT, SIGHUP};
  std::thread watchdog_;
  std::mutex finished_mutex_;
  std::condition_variable finished_cv_;
  bool finished_ = false;
  std::mutex mutex_;  // guards config_ against handlers on worker threads
  config::Config config_;
  PidFile pidfile_;
  bool log_to_file_;
  bool stopping_ = false;
  Clock::time_point started_ = Clock::now();
  std::time_t started_wall_ = std::time(nullptr);
  std::time_t loaded_wall_ = std::time(nullptr);
  std::unique_ptr<drivers::OsDriver> pool_os_;
  std::unique_ptr<drivers::pools::PoolService> pools_;
  std::unique_ptr<drivers::pools::ReplicaShares>
      shares_;  // keeps shares served; before pools_ goes
  std::unique_ptr<drivers::VolumeService> volumes_;
  VolumeEvents volume_events_;             // the pools' watch writes, inspect reads
  std::mutex watch_mutex_;                 // guards pool_watch_ and watch_closed_
  std::unique_ptr<PoolWatch> pool_watch_;  // stopped before volumes_ goes
  bool watch_closed_ = false;              // set as requests finish: no new watch
  std::unique_ptr<http::UnixServer> control_;
  std::unique_ptr<http::UnixServer> plugin_;
  std::unique_ptr<iscsi_target::Target> discovery_;
  std::string discovery_error_;
  std::unique_ptr<ebs::Api> api_;  // outlives api_server_, whose handlers call it
  std::unique_ptr<http::TcpServer> api_server_;
  std::string api_error_;  // why the API is not served
  std::unique_ptr<http::TcpServer> metrics_server_;
  std::string metrics_error_;  // why metrics are not served
  struct FrontDoors {          // requests per front door, for the metrics
    IoCounter cli, docker, ebs;
  } front_doors_;
  std::unique_ptr<realm::HostAgent> realm_;        // in a realm only
  std::string realm_error_;                        // why the realm's store could not be opened
  RealmVolumes* realm_volumes_ = nullptr;          // inside volumes_, in a realm
  std::unique_ptr<RealmEbsLink> realm_ebs_;        // the realm as api_ sees it (realm_requests.h)
  std::unique_ptr<RealmRequests> realm_requests_;  // run by the realm thread
  std::thread realm_thread_;
  std::mutex realm_mutex_;  // guards realm_stopping_
  std::condition_variable realm_cv_;
  bool realm_stopping_ = false;
  std::vector<InheritedSocket> inherited_;
  std::map<std::string, bool> owned_;  // role → maya removes the socket file at stop
  std::vector<std::string> adopted_;   // logged once the daemon runs
  std::optional<Handover> handover_;
  const std::string instance_;  // random; changes with every exec
};

}  // namespace maya::daemon
