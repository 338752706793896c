#include "lib/daemon/metrics_text.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace maya::daemon {
namespace {

using prometheus::Labels;
using prometheus::Registry;

prometheus::Family<prometheus::Counter>& counter(Registry& r, const std::string& name,
                                                 const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r);
}
prometheus::Family<prometheus::Gauge>& gauge(Registry& r, const std::string& name,
                                             const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r);
}
prometheus::Family<prometheus::Histogram>& histogram(Registry& r, const std::string& name,
                                                     const std::string& help) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(r);
}

const prometheus::Histogram::BucketBoundaries& bounds() {
  static const prometheus::Histogram::BucketBoundaries b(kLatencyBounds.begin(),
                                                         kLatencyBounds.end());
  return b;
}

void observe(prometheus::Family<prometheus::Histogram>& family, const Labels& labels,
             const IoSnapshot& s) {
  std::vector<double> increments(s.buckets.begin(), s.buckets.end());
  increments.resize(kLatencyBounds.size() + 1);
  family.Add(labels, bounds()).ObserveMultiple(increments, s.seconds);
}

double as_double(std::uint64_t v) {
  return static_cast<double>(v);
}

// The I/O families, registered only when some volume has counters.
struct IoFamilies {
  explicit IoFamilies(Registry& r)
      : read_bytes(counter(r, "maya_volume_read_bytes_total", "Bytes read from the volume.")),
        written_bytes(
            counter(r, "maya_volume_written_bytes_total", "Bytes written to the volume.")),
        read_ops(counter(r, "maya_volume_read_ops_total",
                         "Reads served by the volume (backend operations: one SCSI command may "
                         "count more than one).")),
        write_ops(counter(r, "maya_volume_write_ops_total",
                          "Writes served by the volume (backend operations: WRITE SAME, COMPARE "
                          "AND WRITE and the like may count more than one).")),
        discarded_bytes(counter(r, "maya_volume_discarded_bytes_total",
                                "Bytes discarded (unmapped, trimmed) in the volume.")),
        discard_ops(counter(r, "maya_volume_discard_ops_total", "Discards served by the volume.")),
        errors(counter(r, "maya_volume_io_errors_total",
                       "Reads and writes that failed (op: read, write); not in the ops above.")),
        read_seconds(histogram(r, "maya_volume_read_seconds",
                               "Latency of the volume's reads in its target, in seconds.")),
        write_seconds(histogram(r, "maya_volume_write_seconds",
                                "Latency of the volume's writes (every replica) in its target, "
                                "in seconds.")) {}
  prometheus::Family<prometheus::Counter>& read_bytes;
  prometheus::Family<prometheus::Counter>& written_bytes;
  prometheus::Family<prometheus::Counter>& read_ops;
  prometheus::Family<prometheus::Counter>& write_ops;
  prometheus::Family<prometheus::Counter>& discarded_bytes;
  prometheus::Family<prometheus::Counter>& discard_ops;
  prometheus::Family<prometheus::Counter>& errors;
  prometheus::Family<prometheus::Histogram>& read_seconds;
  prometheus::Family<prometheus::Histogram>& write_seconds;
};

void add_volumes(Registry& r, const std::vector<VolumeMetrics>& volumes) {
  auto& size = gauge(r, "maya_volume_size_bytes", "The volume's size.");
  auto& allocated =
      gauge(r, "maya_volume_allocated_bytes",
            "Space the volume's data uses on this host: the sum over its local replicas.");
  auto& health = gauge(r, "maya_volume_health",
                       "The volume's health: 1 for the current state (healthy, degraded, "
                       "offline), 0 for the others.");
  std::optional<IoFamilies> io;
  prometheus::Family<prometheus::Gauge>* rebuild = nullptr;
  prometheus::Family<prometheus::Gauge>* modes = nullptr;
  prometheus::Family<prometheus::Counter>* restarts = nullptr;
  prometheus::Family<prometheus::Gauge>* started = nullptr;
  for (const auto& v : volumes) {
    const Labels labels{{"volume", v.name}, {"driver", v.driver}};
    size.Add(labels).Set(as_double(v.size_bytes));
    allocated.Add(labels).Set(as_double(v.allocated_bytes));
    for (const auto& state : kHealthStates) {
      if (v.health.empty()) break;  // unknown this scrape (a busy target): no series
      Labels l = labels;
      l["state"] = state;
      health.Add(l).Set(v.health == state ? 1 : 0);
    }
    if (v.reads && v.writes) {
      if (!io) io.emplace(r);
      io->read_bytes.Add(labels).Increment(as_double(v.reads->bytes));
      io->written_bytes.Add(labels).Increment(as_double(v.writes->bytes));
      io->read_ops.Add(labels).Increment(as_double(v.reads->ops));
      io->write_ops.Add(labels).Increment(as_double(v.writes->ops));
      if (v.discards) {
        io->discarded_bytes.Add(labels).Increment(as_double(v.discards->bytes));
        io->discard_ops.Add(labels).Increment(as_double(v.discards->ops));
      }
      for (const auto& [op, n] :
           {std::pair{"read", v.read_errors}, std::pair{"write", v.write_errors}}) {
        Labels l = labels;
        l["op"] = op;
        io->errors.Add(l).Increment(as_double(n));
      }
      if (v.histogram) {
        observe(io->read_seconds, labels, *v.reads);
        observe(io->write_seconds, labels, *v.writes);
      }
    }
    if (v.target_started_at) {
      if (!started)
        started = &gauge(r, "maya_target_start_time_seconds",
                         "When the volume's target process started, in Unix time: its I/O "
                         "counters count from then.");
      started->Add(labels).Set(as_double(static_cast<std::uint64_t>(*v.target_started_at)));
    }
    if (v.rebuild_progress) {
      if (!rebuild)
        rebuild = &gauge(r, "maya_volume_rebuild_progress_ratio",
                         "Share of the running rebuild copied (0 to 1); 1 when none runs.");
      rebuild->Add(labels).Set(*v.rebuild_progress);
    }
    for (const auto& replica : v.replicas) {
      if (!modes)
        modes = &gauge(r, "maya_volume_replica_mode",
                       "A replica's mode: 1 for the current one (RW, WO, ERR), 0 for the others; "
                       "all 0 while the volume's target does not answer.");
      for (const auto& mode : kReplicaModes) {
        Labels l = labels;
        l["replica"] = replica.id;
        l["mode"] = mode;
        modes->Add(l).Set(replica.mode == mode ? 1 : 0);
      }
    }
    if (v.target_restarts) {
      if (!restarts)
        restarts = &counter(r, "maya_target_restarts_total",
                            "Times the daemon restarted the volume's target process.");
      restarts->Add(labels).Increment(as_double(*v.target_restarts));
    }
  }
}

void add_pools(Registry& r, const std::vector<PoolMetrics>& pools) {
  if (pools.empty()) return;
  auto& capacity = gauge(r, "maya_pool_capacity_bytes", "The pool's size.");
  auto& used = gauge(r, "maya_pool_used_bytes", "Space used in the pool.");
  auto& state = gauge(r, "maya_pool_state",
                      "The pool's state: 1 for the current one (online, degraded, missing, "
                      "faulted, incomplete, unknown), 0 for the others.");
  for (const auto& p : pools) {
    const Labels labels{{"pool", p.name}};
    capacity.Add(labels).Set(as_double(p.capacity_bytes));
    used.Add(labels).Set(as_double(p.used_bytes));
    for (const auto& s : kPoolStates) state.Add({{"pool", p.name}, {"state", s}}).Set(p.state == s);
  }
}

void add_daemon(Registry& r, const DaemonMetrics& m) {
  gauge(r, "maya_build_info", "The maya that serves these metrics (always 1).")
      .Add({{"version", m.version}})
      .Set(1);
  auto& requests = counter(r, "maya_requests_total",
                           "Requests answered, per front door (docker: the volume plugin; cli: the "
                           "control socket; ebs: the EBS-compatible API).");
  auto& latency =
      histogram(r, "maya_request_seconds", "Time to answer a request, per front door, in seconds.");
  for (const auto& door : m.front_doors) {
    const Labels labels{{"front_door", door.front_door}};
    requests.Add(labels).Increment(as_double(door.requests.ops));
    observe(latency, labels, door.requests);
  }
  gauge(r, "maya_scrape_seconds", "Time the daemon took to gather these metrics.")
      .Add({})
      .Set(m.scrape_seconds);
}

}  // namespace

std::string metrics_text(const DaemonMetrics& m) {
  Registry registry;
  add_daemon(registry, m);
  add_volumes(registry, m.volumes);
  add_pools(registry, m.pools);
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

}  // namespace maya::daemon
