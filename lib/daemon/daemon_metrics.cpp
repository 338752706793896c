// GET /metrics on [metrics] listen (TCP, lib/http's server, as the EBS API): the daemon gathers
// at scrape time, so nothing is kept between scrapes. Volumes come from the volume service (its
// list: sizes, health, replicas, each jiva target asked with a 3 s bound, 16 at once); a realm
// volume only on the host it is attached on. The I/O counters come from each jiva target's GET
// /v1/metrics (atomics in the target: a scrape never waits for I/O), bounded by kTargetTimeout,
// kTargetFanOut at once, so wedged targets cost about that each batch and their volumes show no
// counters. Pools never wait for a pool create. A failed volume listing answers 503. A port that
// cannot be bound does not stop the daemon: `maya status` says why.
#include <atomic>
#include <chrono>

#include "lib/common/log.h"
#include "lib/common/parallel.h"
#include "lib/daemon/daemon_server.h"
#include "lib/daemon/metrics_text.h"
#include "lib/http/json.h"
#include "lib/jiva/target_client.h"

namespace maya::daemon {
namespace {

constexpr std::chrono::milliseconds kTargetTimeout{1000};
constexpr std::size_t kTargetFanOut = 16;  // targets asked at once

// healthy | degraded | offline from what the volume service says; "" when unknown: a target
// that runs (the supervisor holds its pid: its pidfile is locked) but did not answer its status
// call in time (busy) is not called offline, so no health series is exported for it this scrape.
std::string health_of(const drivers::VolumeInfo& v) {
  if (v.replication) {
    const std::string& h = v.replication->health;
    if (h == "healthy" || h == "degraded") return h;
    if (h == "offline" && v.iscsi && v.iscsi->target_pid != 0 && v.iscsi->target_state == "running")
      return "";
    return "offline";  // failed (no replica serves), or its target is down
  }
  return v.state == "error" || v.state == "broken" ? "offline" : "healthy";
}

VolumeMetrics volume_metrics(const drivers::VolumeInfo& v) {
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
  else if (r.health != "offline")
    m.rebuild_progress = r.rebuild ? 0.0 : 1.0;
  return m;
}

// The target's I/O counters into `m` (a jiva volume whose target is not down).
void add_target_counters(VolumeMetrics& m, const std::filesystem::path& run_dir) {
  auto io = jiva::TargetClient::of(run_dir, m.name).metrics(kTargetTimeout);
  if (!io) {
    log::debug("metrics: " + io.error().message);
    return;
  }
  m.reads = io->reads;
  m.writes = io->writes;
  m.discards = io->discards;
  m.read_errors = io->read_errors;
  m.write_errors = io->write_errors;
  m.histogram = io->same_buckets();
  if (!m.histogram)
    log::debug("metrics: volume " + m.name +
               "'s target counts latency in other buckets than this daemon's (it started "
               "before an upgrade?): no latency histogram for it until it restarts");
  if (io->started_at_seconds > 0) m.target_started_at = io->started_at_seconds;
}

// Whether this host exports `v`'s series: a realm volume only where it is attached (its nexus
// and target run here: a local record). The realm's list also shows volumes attached on other
// hosts and detached ones (from etcd alone): each is exported by the host that runs it, or by
// none, rather than by every host.
bool exported_here(const drivers::VolumeInfo& v, const std::string& host_id) {
  if (!v.realm_generation) return true;  // this host's own (or etcd did not answer: local only)
  return v.realm_attached_id == host_id && v.state != "attached elsewhere";
}

}  // namespace

http::Handler Daemon::counted(IoCounter& counter, http::Handler handler) {
  return [&counter, handler = std::move(handler)](const http::Request& r) {
    // Recorded as it goes, so a handler that throws (the server answers 500) counts too.
    struct Recorded {
      IoCounter& counter;
      Clock::time_point start = Clock::now();
      ~Recorded() { counter.record(0, Clock::now() - start); }
    } recorded{counter};
    return handler(r);
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
      for (const auto& v : *list)
        if (exported_here(v, config.host_id)) m.volumes.push_back(volume_metrics(v));
    } else {
      m.volumes_listed = false;
      // Once a minute at most: Prometheus scrapes every few seconds.
      static std::atomic<std::int64_t> last_logged{-3600};  // the first is logged
      const std::int64_t now =
          std::chrono::duration_cast<std::chrono::seconds>(Clock::now().time_since_epoch()).count();
      std::int64_t last = last_logged.load();
      if (now - last >= 60 && last_logged.compare_exchange_strong(last, now))
        log::warn("metrics: the volumes could not be listed (scrapes answer 503): " +
                  list.error().message);
    }
  }
  // The targets' counters, kTargetTimeout each at most, kTargetFanOut at once.
  std::vector<VolumeMetrics*> asked;
  for (auto& v : m.volumes)
    if (v.driver == "jiva" && v.health != "offline") asked.push_back(&v);
  parallel_map(asked, kTargetFanOut, [&config](VolumeMetrics* v) {
    add_target_counters(*v, config.run_dir);
    return 0;
  });
  if (pools_) {
    // Never waits for a pool create (it holds the pools' lock through mkfs): the last list then.
    if (auto pools = pools_->list_without_waiting(); pools) {
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
        const DaemonMetrics m = gather_metrics();
        if (!m.volumes_listed)  // no volume series at all would look like "no volumes"
          return http::Response{503, "the volumes could not be listed (see the daemon's log)\n",
                                "text/plain; charset=utf-8"};
        return http::Response{200, metrics_text(m), kMetricsContentType};
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
  if (!exported_here(*v, config_copy().host_id)) {
    if (v->realm_attached_on.empty())
      return http::json_error(409, "volume " + name +
                                       " is not attached on any host: no target serves it, so "
                                       "there is no I/O to count");
    const std::string& host = v->realm_attached_on;
    return http::json_error(409, "volume " + name + " is attached on host " + host +
                                     ": its I/O is counted there (`maya volume stats` on " + host +
                                     ")");
  }
  auto io = jiva::TargetClient::of(config_copy().run_dir, name).metrics(kTargetTimeout);
  if (!io) return http::json_error(503, io.error().message);
  const std::string health = health_of(*v);
  const nlohmann::json bounds = kLatencyBounds;
  // Buckets of other bounds (a target older than this daemon) are left out: no percentiles.
  const bool ours = io->same_buckets();
  auto direction = [ours](const IoSnapshot& s) {
    return nlohmann::json{{"ops", s.ops},
                          {"bytes", s.bytes},
                          {"seconds", s.seconds},
                          {"buckets", ours ? s.buckets : std::vector<std::uint64_t>{}}};
  };
  return http::json_response(200, {{"volume", name},
                                   {"driver", v->spec.storage_driver},
                                   {"health", health.empty() ? "unknown" : health},
                                   {"started_at_seconds", io->started_at_seconds},
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
