// The control API of a volume's target process (`maya target run`), HTTP/JSON on
// <run>/targets/NAME.sock: its routes, the shapes of its answers as plain structs, and a typed
// client. The server (target_api.cpp) answers with the same types and routes, so the two cannot
// drift apart; the JSON lives in target_client.cpp only.
//   GET    /v1/status                      TargetInfo
//   GET    /v1/metrics                     TargetMetrics: the I/O counters (atomics only: it
//                                          never waits for I/O or for another request)
//   POST   /v1/frontend/fuse               FuseInfo: expose the volume as a file over FUSE
//   DELETE /v1/frontend/fuse               {"fuse": null}: unmount it
//   POST   /v1/replicas/reload             ReplicaChanges: follow the manifest (open new
//                                          replicas, drop removed ones)
//   POST   /v1/replicas/{id}/fault         {"failed": id}: take a replica out as if it had
//                                          failed (tests; a pool that faulted), with an
//                                          optional {"reason": "..."}
//   POST   /v1/rebuild                     Rebuilding: bring back every replica that is away
//   POST   /v1/resize                      Resized: grow the running volume to the size the
//                                          manifest now names (written first by the caller);
//                                          the same size changes nothing, a smaller one and a
//                                          grow while a rebuild or snapshot copy runs are 409
//   POST   /v1/snapshots/{name}            SnapshotTaken: a point-in-time copy into
//                                          snapshots/NAME.img; ?wait=false answers before the
//                                          copy is complete
//   GET    /v1/snapshots/{name}            SnapshotProgress: its copy progress
//   POST   /v1/snapshots/{name}/revert     {"reverted": name}: the volume becomes the snapshot
//                                          (not while in use)
// Errors are {"error": "one sentence"} with a 4xx/5xx status, as in every maya API.
// Decoding follows one rule: a key that is absent takes the field's default, a key that is
// present with the wrong type (or a body that is not a JSON object) is an error naming it.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/common/io_stats.h"
#include "lib/common/result.h"

namespace maya::jiva {

namespace target_routes {
inline constexpr std::string_view kStatus = "/v1/status";
inline constexpr std::string_view kMetrics = "/v1/metrics";
inline constexpr std::string_view kFuse = "/v1/frontend/fuse";
inline constexpr std::string_view kReplicasReload = "/v1/replicas/reload";
inline constexpr std::string_view kReplicaFault = "/v1/replicas/{id}/fault";
inline constexpr std::string_view kRebuild = "/v1/rebuild";
inline constexpr std::string_view kResize = "/v1/resize";
inline constexpr std::string_view kSnapshot = "/v1/snapshots/{name}";
inline constexpr std::string_view kSnapshotRevert = "/v1/snapshots/{name}/revert";
// The query of a snapshot request that answers before the copy is complete.
inline constexpr std::string_view kNoWait = "wait=false";

// `route` with its one "{…}" segment replaced by `value` ("/v1/snapshots/s1").
std::string path(std::string_view route, std::string_view value);
}  // namespace target_routes

struct ReplicaInfo {
  std::string id;
  std::string uri;
  std::string mode;  // RW | WO | ERR
  std::uint64_t generation = 0;
  std::uint64_t revision = 0;
  std::optional<std::string> error;  // why it is ERR
  bool operator==(const ReplicaInfo&) const = default;
};

struct RebuildInfo {
  std::string replica;
  std::string kind;  // "full" | "regions"
  std::uint64_t done_bytes = 0;
  std::uint64_t total_bytes = 0;
  double rate_bytes_per_s = 0;
  double eta_seconds = 0;
  bool operator==(const RebuildInfo&) const = default;
};

// The fullest replica store.
struct SpaceInfo {
  std::uint64_t total_bytes = 0;
  std::uint64_t free_bytes = 0;
  unsigned used_percent = 0;
  unsigned warn_percent = 0;
  std::optional<std::string> warning;  // while it is past warn_percent
  bool operator==(const SpaceInfo&) const = default;
};

// The volume as a file over FUSE.
struct FuseInfo {
  std::string mountpoint;
  std::string file;
  int fd = -1;  // the target's descriptor of the FUSE connection
  std::uint64_t requests = 0;
  std::string transport;  // "io_uring" or "dev_fuse" (FuseFrontend::transport); empty: unknown
  bool operator==(const FuseInfo&) const = default;
};

// GET /v1/status
struct TargetInfo {
  std::string volume;
  std::int64_t pid = 0;
  std::string iqn;
  std::string portal;  // ADDR:PORT or [ADDR]:PORT
  std::string started_at;
  std::uint64_t size_bytes = 0;
  std::uint64_t connections = 0;
  std::uint64_t sessions = 0;      // logged-in normal (not discovery) sessions
  std::string health = "unknown";  // healthy | degraded | failed
  std::uint64_t generation = 0;
  std::vector<ReplicaInfo> replicas;
  std::optional<RebuildInfo> rebuild;
  std::optional<RebuildInfo> last_rebuild;  // the last one that finished: done_bytes copied
  std::optional<std::string> read_only;     // why writes are refused
  std::optional<SpaceInfo> space;
  std::optional<FuseInfo> fuse;
  bool operator==(const TargetInfo&) const = default;
};

// GET /v1/metrics: reads and writes served since the target started, when it started (a change
// means its counters began again at 0), and the latency buckets' bounds its counts use (a target
// outlives a daemon upgrade: the daemon exports the histogram only when they are its own).
struct TargetMetrics {
  IoSnapshot reads;
  IoSnapshot writes;
  std::int64_t started_at_seconds = 0;        // Unix time; 0 from a target that does not say
  std::vector<double> bucket_bounds_seconds;  // empty from a target that does not say: ours
  IoSnapshot discards;                        // ops and bytes (its buckets are not exported)
  std::uint64_t read_errors = 0;              // reads and writes that failed
  std::uint64_t write_errors = 0;
  bool operator==(const TargetMetrics&) const = default;
  bool same_buckets() const {
    return bucket_bounds_seconds.empty() ||
           std::equal(bucket_bounds_seconds.begin(), bucket_bounds_seconds.end(),
                      kLatencyBounds.begin(), kLatencyBounds.end());
  }
};

// POST /v1/replicas/reload
struct ReplicaChanges {
  std::vector<std::string> added;
  std::vector<std::string> removed;
  bool operator==(const ReplicaChanges&) const = default;
};

// POST /v1/rebuild: the replicas coming back.
struct Rebuilding {
  std::vector<std::string> rebuilding;
  bool operator==(const Rebuilding&) const = default;
};

// POST /v1/resize: the size now and before (equal when nothing changed).
struct Resized {
  std::uint64_t size_bytes = 0;
  std::uint64_t previous_bytes = 0;
  bool operator==(const Resized&) const = default;
};

// POST /v1/snapshots/{name}
struct SnapshotTaken {
  std::string snapshot;
  std::string file;
  std::optional<bool> reflinked;  // once the copy is complete (not with ?wait=false)
  bool operator==(const SnapshotTaken&) const = default;
};

// GET /v1/snapshots/{name}
struct SnapshotProgress {
  std::string snapshot;
  bool copying = false;
  std::uint64_t done_bytes = 0;
  std::uint64_t total_bytes = 0;
  bool reflinked = false;
  std::optional<std::string> error;  // why the copy failed
  bool operator==(const SnapshotProgress&) const = default;
};

// The small answers: {"fuse": null}, {"failed": id}, {"reverted": name}.
struct FuseWithdrawn {
  bool operator==(const FuseWithdrawn&) const = default;
};
struct ReplicaFaulted {
  std::string failed;
  bool operator==(const ReplicaFaulted&) const = default;
};
struct Reverted {
  std::string reverted;
  bool operator==(const Reverted&) const = default;
};

// The JSON text of an answer (strings that are not UTF-8 get U+FFFD, as http::dump_json).
std::string encode(const TargetInfo& v);
std::string encode(const TargetMetrics& v);
std::string encode(const FuseInfo& v);
std::string encode(const FuseWithdrawn& v);
std::string encode(const ReplicaChanges& v);
std::string encode(const ReplicaFaulted& v);
std::string encode(const Rebuilding& v);
std::string encode(const Resized& v);
std::string encode(const SnapshotTaken& v);
std::string encode(const SnapshotProgress& v);
std::string encode(const Reverted& v);

// An answer from its JSON text; the error names the key that is wrong ("replicas[1].generation
// is a string, not an unsigned integer") or says the body is not a JSON object.
template <class T>
Result<T> decode(std::string_view body);

// The port of "ADDR:PORT" or "[ADDR]:PORT"; nullopt when there is none from 1 to 65535.
std::optional<std::uint16_t> portal_port(std::string_view portal);

class TargetClient {
 public:
  using Timeout = std::chrono::milliseconds;
  static constexpr Timeout kDefaultTimeout = std::chrono::seconds(30);

  // `volume` names the target in errors.
  TargetClient(std::filesystem::path socket, std::string volume)
      : socket_(std::move(socket)), volume_(std::move(volume)) {}
  // The target of `volume` under the daemon's run directory (<run>/targets/NAME.sock).
  static TargetClient of(const std::filesystem::path& run_dir, const std::string& volume);

  // Every call fails with "the target of volume V does not answer: …" when it cannot be
  // reached in time, with the target's {"error"} when it refuses, and with "… answered
  // garbage" when its answer does not decode.
  Result<TargetInfo> status(Timeout timeout = kDefaultTimeout) const;
  Result<TargetMetrics> metrics(Timeout timeout = kDefaultTimeout) const;
  Result<FuseInfo> expose_fuse(Timeout timeout = kDefaultTimeout) const;
  Result<void> withdraw_fuse(Timeout timeout = kDefaultTimeout) const;
  Result<ReplicaChanges> reload_replicas(Timeout timeout = kDefaultTimeout) const;
  // `reason` becomes the replica's error (empty: "fault injected through the control API").
  Result<void> fault_replica(const std::string& id, const std::string& reason = "",
                             Timeout timeout = kDefaultTimeout) const;
  Result<std::vector<std::string>> rebuild(Timeout timeout = kDefaultTimeout) const;
  // Grows the running volume to the manifest's size (write jiva.json first).
  Result<Resized> resize(Timeout timeout = kDefaultTimeout) const;
  // wait = false: answers once the point in time is taken; snapshot_progress() follows the copy.
  Result<SnapshotTaken> take_snapshot(const std::string& name, bool wait,
                                      Timeout timeout = kDefaultTimeout) const;
  Result<SnapshotProgress> snapshot_progress(const std::string& name,
                                             Timeout timeout = kDefaultTimeout) const;
  Result<void> revert_snapshot(const std::string& name, Timeout timeout = kDefaultTimeout) const;

  // Whether the target answers GET /v1/status with 200 in time (nullopt: it does not), and
  // the port its portal names (0 when its answer names none); the supervisor's probe.
  std::optional<std::uint16_t> probe(Timeout timeout) const;

 private:
  template <class T>
  Result<T> call(std::string_view method, const std::string& path, Timeout timeout,
                 std::string body = "") const;

  std::filesystem::path socket_;
  std::string volume_;
};

}  // namespace maya::jiva
