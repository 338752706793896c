// The pools' watch: a replica whose pool faulted (its file system shut down, I/O errors) or went
// missing leaves its volume's I/O path at once; after [volume.defaults] replace_after, with
// auto_replace, a replica is added on another pool with room (rebuilt from the others) and the
// failed one dropped. With no pool free the volume stays degraded, and the failed replica's
// error says why. Every step goes to the daemon log.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "drivers/pools/pool_service.h"
#include "drivers/volume_service.h"

namespace maya::daemon {

class PoolWatch {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    bool auto_replace = true;
    std::chrono::seconds replace_after{60};
    std::chrono::milliseconds interval{2000};  // between two looks at the pools
  };

  // Starts looking at once; both services outlive the watch.
  PoolWatch(drivers::pools::PoolService& pools, drivers::VolumeService& volumes, Options options);
  ~PoolWatch();  // stops and joins
  PoolWatch(const PoolWatch&) = delete;
  PoolWatch& operator=(const PoolWatch&) = delete;

  // One look: what the thread does every interval.
  void tick();

 private:
  struct Failed {
    Clock::time_point since;
    std::string told;         // the last "cannot replace" note given, not repeated
    std::string replacement;  // the replica added in its place, once added
  };
  void replace(const std::string& volume, const std::string& id, const std::string& pool,
               const std::string& why, Failed& failed);

  drivers::pools::PoolService& pools_;
  drivers::VolumeService& volumes_;
  Options options_;
  std::map<std::string, Failed> failed_;  // "volume/replica" on a pool that is not online
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace maya::daemon
