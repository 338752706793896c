// GET /metrics on [metrics] listen (TCP, lib/http's server, as the EBS API): the daemon gathers
// at scrape time, so nothing is kept between scrapes. Volumes come from the volume service (its
// list: sizes, health, replicas, each jiva target asked with a 3 s bound); the I/O counters from
// each running jiva target's GET /v1/metrics (atomics in the target: a scrape never waits for
// I/O), bounded by kTargetTimeout, so a wedged target costs at most that and its volume shows
// no counters. A port that cannot be bound does not stop the daemon: `maya status` says why.
#include <chrono>

#include "lib/common/log.h"
#include "lib/daemon/daemon_server.h"
#include "lib/daemon/metrics_text.h"
#include "lib/http/json.h"
#include "lib/jiva/target_client.h"

namespace maya::daemon {
namespace {

constexpr std::chrono::milliseconds kTargetTimeout{1000};

// healthy | degraded | offline from what the volume service says.
std::string health_of(const drivers::VolumeInfo& v) {
  if (v.replication) {
    const std::string& h = v.replication->health;
    if (h == "healthy" || h == "degraded") return h;
    return "offline";  // failed (no replica serves), offline (its target does not answer)
  }
  return v.state == "error" || v.state == "broken" ? "offline" : "healthy";
}

VolumeMetrics volume_metrics(const drivers::VolumeInfo& v, const config::Config& config) {
  VolumeMetrics m;
  m.name = v.spec.name;
  m.driver = v.spec.storage_driver.empty() ? "unknown" : v.spec.storage_driver;  // a damaged record
  m.size_bytes = v.spec.size_bytes;
  m.allocated_bytes = v.allocated_bytes;
  m.health = health_of(v);
  if (v.iscsi) m.target_restarts = v.iscsi->target_restarts;
  if (!v.replication) return m;
  const auto& r = *v.replication;
  for (const auto& replica : r.replicas) m.replicas.push_back({replica.id, replica.mode});
  if (r.rebuild && r.rebuild->total_bytes > 0)
    m.rebuild_progress =
        static_cast<double>(r.rebuild->done_bytes) / static_cast<double>(r.rebuild->total_bytes);
  else if (m.health != "offline")
    m.rebuild_progress = r.rebuild ? 0.0 : 1.0;
  if (r.health == "offline") return m;  // its target does not answer: no counters to ask for
  auto io = jiva::TargetClient::of(config.run_dir, v.spec.name).metrics(kTargetTimeout);
  if (io) {
    m.reads = io->reads;
    m.writes = io->writes;
  } else {
    log::debug("metrics: " + io.error().message);
  }
  return m;
}

}  // namespace

http::Handler Daemon::counted(IoCounter& counter, http::Handler handler) {
  return [&counter, handler = std::move(handler)](const http::Request& r) {
    IoTimer timer(counter);
    http::Response response = handler(r);
    timer.done(0);
    return response;
  };
}

DaemonMetrics Daemon::gather_metrics() {
  const auto start = Clock::now();
  DaemonMetrics m;
  m.version = MAYA_VERSION;
  m.front_doors = {{"cli", front_doors_.cli.snapshot()},
                   {"docker", front_doors_.docker.snapshot()},
                   {"ebs", front_doors_.ebs.snapshot()}};
  const config::Config config = config_copy();
  if (volumes_) {
    if (auto list = volumes_->list(); list) {
      for (const auto& v : *list) m.volumes.push_back(volume_metrics(v, config));
    } else {
      log::warn("metrics: the volumes could not be listed: " + list.error().message);
    }
  }
  if (pools_) {
    if (auto pools = pools_->list(); pools) {
      for (const auto& p : *pools)
        m.pools.push_back({p.name, p.capacity_bytes, p.used_bytes, p.state});
    }
  }
  m.scrape_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return m;
}

void Daemon::open_metrics() {
  if (!config_.metrics_listen) {
    metrics_error_ = "not served: [metrics] listen is \"\"";
    return;
  }
  http::ServerOptions options;
  options.workers = 2;
  options.make_error = [](int status, const std::string& message) {
    return http::Response{status, message + "\n", "text/plain; charset=utf-8"};
  };
  auto server = http::TcpServer::listen(
      io_, config_.metrics_listen->host, config_.metrics_listen->port, options,
      [this](const http::Request& r) {
        const auto path = r.target.substr(0, r.target.find('?'));
        if (path != "/metrics")
          return http::Response{404, "not found: metrics are at /metrics\n",
                                "text/plain; charset=utf-8"};
        if (r.method != "GET" && r.method != "HEAD")
          return http::Response{405, "GET /metrics only\n", "text/plain; charset=utf-8"};
        return http::Response{200, metrics_text(gather_metrics()), kMetricsContentType};
      });
  if (!server) {
    metrics_error_ = "not served: " + server.error().message;
    log::error("metrics " + metrics_error_);
    return;
  }
  metrics_server_ = std::move(*server);
}

// GET /v1/volumes/{name}/stats (`maya volume stats`): the I/O counters of a jiva volume's
// target as they are now; the CLI takes two and shows the difference.
http::Response Daemon::volume_stats(const std::string& name) {
  if (!volumes_) return http::json_error(404, "this host keeps no volumes ([roles] storage)");
  auto v = volumes_->get(name);
  if (!v) return http::json_error(404, v.error().message);
  if (v->spec.storage_driver != "jiva")
    return http::json_error(409, "volume " + name + " is a " + v->spec.storage_driver +
                                     " volume: maya counts I/O only for jiva volumes (in their "
                                     "target); its size and allocation are in `maya volume "
                                     "inspect`");
  auto io = jiva::TargetClient::of(config_copy().run_dir, name).metrics(kTargetTimeout);
  if (!io) return http::json_error(503, io.error().message);
  const nlohmann::json bounds = kLatencyBounds;
  auto direction = [](const IoSnapshot& s) {
    return nlohmann::json{
        {"ops", s.ops}, {"bytes", s.bytes}, {"seconds", s.seconds}, {"buckets", s.buckets}};
  };
  return http::json_response(200, {{"volume", name},
                                   {"driver", v->spec.storage_driver},
                                   {"health", health_of(*v)},
                                   {"bucket_bounds_seconds", bounds},
                                   {"reads", direction(io->reads)},
                                   {"writes", direction(io->writes)}});
}

config::Config Daemon::config_copy() {
  std::lock_guard lock(mutex_);
  return config_;
}

nlohmann::json Daemon::metrics_json() const {
  if (metrics_server_)
    return {{"served", true}, {"endpoint", "http://" + metrics_server_->endpoint() + "/metrics"}};
  return {{"served", false}, {"reason", metrics_error_}};
}

}  // namespace maya::daemon
