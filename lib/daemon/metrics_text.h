// The daemon's metrics as plain structs, and their Prometheus text (GET /metrics on [metrics]
// listen). The text is made by prometheus-cpp (its registry and text serializer), which only
// metrics_text.cpp includes. Names follow DESIGN.md "Metrics naming": base units, counters end
// in _total, a state is one series per state with 1 for the current one, bounded labels.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lib/common/io_stats.h"

namespace maya::daemon {

struct ReplicaModeMetric {
  std::string id;
  std::string mode;  // RW | WO | ERR; anything else (unknown: its target is down) sets none
};

struct VolumeMetrics {
  std::string name;
  std::string driver;  // local | jiva
  std::uint64_t size_bytes = 0;
  std::uint64_t allocated_bytes = 0;
  std::string health;  // healthy | degraded | offline; "" unknown (a busy target): no series
  // jiva only (a local volume has no target, replicas or I/O counters of maya's own):
  std::optional<IoSnapshot> reads;
  std::optional<IoSnapshot> writes;
  std::optional<IoSnapshot> discards;  // ops and bytes only
  std::uint64_t read_errors = 0;       // with reads and writes: failed ones
  std::uint64_t write_errors = 0;
  bool histogram = true;  // false: the target's buckets are not ours (counters only)
  std::optional<std::int64_t> target_started_at;  // Unix time its target started
  std::optional<double> rebuild_progress;         // 0..1 while a rebuild runs, 1 when none does
  std::vector<ReplicaModeMetric> replicas;
  std::optional<std::uint64_t> target_restarts;
};

struct PoolMetrics {
  std::string name;
  std::uint64_t capacity_bytes = 0;
  std::uint64_t used_bytes = 0;
  std::string state;  // online | degraded | missing | faulted | incomplete | unknown
};

struct FrontDoorMetrics {
  std::string front_door;  // docker | cli | ebs
  IoSnapshot requests;     // ops = requests answered, the histogram their latency
};

struct DaemonMetrics {
  std::string version;
  std::vector<VolumeMetrics> volumes;
  std::vector<PoolMetrics> pools;
  std::vector<FrontDoorMetrics> front_doors;
  double scrape_seconds = 0;   // how long gathering the above took
  bool volumes_listed = true;  // false: the volume service failed to list (answer 503)
};

// The states each state metric has a series for.
inline const std::vector<std::string> kHealthStates = {"healthy", "degraded", "offline"};
inline const std::vector<std::string> kReplicaModes = {"RW", "WO", "ERR"};
inline const std::vector<std::string> kPoolStates = {"online",  "degraded",   "missing",
                                                     "faulted", "incomplete", "unknown"};

// The Prometheus text exposition format (version 0.0.4) of `m`.
std::string metrics_text(const DaemonMetrics& m);

// The content type of that text.
inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace maya::daemon
