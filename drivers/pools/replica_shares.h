// Shared replicas (`maya replica share`): a bare replica served to other hosts as one iSCSI LUN
// (its journal area, then its data: lib/replica/remote_layout.h) by a process of its own,
// `maya replica serve --dir DIR` (lib/iscsi_target/share_serve), with CHAP credentials of its
// own. The share is a file in the replica's directory:
//   share.json   {iqn, port, user, secret}, 0600, written atomically before the server starts
//   share.pid    held (flock) by the server while it serves
// The server runs in its own session and outlives the daemon, as volume targets do; keep()
// (the daemon's start, then every 2 s) starts the server of every share that is not running,
// so a share survives `maya unload`/`load` and a kill -9 of its server.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "drivers/pools/pool_service.h"
#include "lib/common/result.h"

namespace maya::drivers::pools {

struct ShareRecord {
  std::string iqn;
  std::uint16_t port = 0;
  std::string user, secret;
};

// The share of the replica in `replica_dir`, if it has one.
Result<std::optional<ShareRecord>> read_share(const std::filesystem::path& replica_dir);
inline constexpr const char* kShareFile = "share.json";

struct ShareInfo {
  std::string pool, name;
  ShareRecord record;
  std::string uri;  // iscsi://USER@HOST:PORT/IQN/0 (the secret left out)
  std::string uri_with_secret;
  bool running = false;
};
// The `share` object of `replica list -o json` and of `replica share`: uri (without the
// secret), iqn, port, user, running; uri_with_secret only when asked.
nlohmann::json share_json(const ShareInfo& share, bool with_secret);

class ReplicaShares {
 public:
  struct Options {
    std::vector<std::string> serve_command;  // argv that runs `maya replica serve`
    std::string address = "127.0.0.1";       // where the servers listen
    std::string advertise;                   // the host in URIs; empty: address
    std::uint16_t port_first = 3517, port_last = 3580;
    std::chrono::milliseconds keep_interval{2000};
  };
  // keep() runs from a thread of its own every keep_interval unless `threaded` is false.
  ReplicaShares(PoolService& pools, Options options, bool threaded = true);
  ~ReplicaShares();
  ReplicaShares(const ReplicaShares&) = delete;
  ReplicaShares& operator=(const ReplicaShares&) = delete;

  // Shares bare replica NAME of POOL (on `port`, or a free one of the range); sharing a shared
  // one again answers its share. Returns once the server listens.
  Result<ShareInfo> share(const std::string& pool, const std::string& name,
                          std::optional<std::uint16_t> port);
  // Stops the server and removes the share and its fence (the volume owner that held it); the
  // replica and its journal stay.
  Result<void> unshare(const std::string& pool, const std::string& name);
  // The share of a replica, if it has one.
  std::optional<ShareInfo> share_of(const PoolReplica& replica) const;
  // Starts the server of every share that is not running; one log line per start.
  void keep();

 private:
  Result<std::uint16_t> free_port();
  Result<void> start_server(const std::filesystem::path& replica_dir, const std::string& what);
  ShareInfo describe(const PoolReplica& replica, const ShareRecord& record) const;

  PoolService& pools_;
  Options options_;
  std::mutex mutex_;  // one share change or keep at a time
  struct Retry {
    std::chrono::steady_clock::time_point next{};
    std::chrono::milliseconds wait{0};
  };
  std::map<std::string, Retry> retry_;  // shares whose server failed to start, by directory
  std::mutex stop_mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace maya::drivers::pools
