// The pools' watch: a replica whose pool faulted (its file system shut down, I/O errors), went
// missing or was destroyed leaves its volume's I/O path (after two looks in a row, so that one
// odd answer changes nothing); after [volume.defaults] replace_after, with auto_replace, a
// replica is added on another pool with room and, once it is rebuilt (RW), the failed one is
// dropped. It never fails nor replaces a volume's last RW replica: with no other copy, the
// volume is left to its own I/O path and the log says why. A pool that comes back gets its
// failed replicas rebuilt. A replica that failed a read marks its pool degraded. Every step
// goes to the daemon log and to the volume's events (`maya volume inspect`).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "drivers/pools/pool_service.h"
#include "drivers/volume_service.h"
#include "lib/daemon/volume_events.h"

namespace maya::daemon {

class PoolWatch {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    bool auto_replace = true;
    std::chrono::seconds replace_after{60};
    std::chrono::milliseconds interval{2000};  // between two looks at the pools
  };
  using ListPools = std::function<Result<std::vector<drivers::pools::PoolInfo>>()>;
  // Gets, at each look at the volumes, the pools where replicas failed reads (pool → what).
  using ReportReadErrors = std::function<void(std::map<std::string, std::string>)>;

  // Looks every interval from a thread of its own, unless `threaded` is false (tests call
  // tick()). The volume service and the events outlive the watch.
  PoolWatch(ListPools pools, ReportReadErrors read_errors, drivers::VolumeService& volumes,
            VolumeEvents& events, Options options, bool threaded = true);
  ~PoolWatch();  // stops and joins
  PoolWatch(const PoolWatch&) = delete;
  PoolWatch& operator=(const PoolWatch&) = delete;

  // New settings (a reload) without forgetting what has been seen.
  void set_options(Options options);
  // One look: what the thread does every interval. `now` is for tests.
  void tick(Clock::time_point now = Clock::now());

 private:
  struct Failed {
    Clock::time_point since;
    unsigned looks = 0;   // in a row on a pool that is not online
    bool failed = false;  // taken out of the I/O path by the watch
    std::string told;     // the last note logged for it, not repeated
  };
  // Logs `text` (a warning or not) and keeps it as an event of `volume`.
  void note(const std::string& volume, bool warning, const std::string& text);
  // note(), unless it is what was last told of this replica.
  void tell(Failed& f, const std::string& volume, const std::string& text);
  void look_at(const drivers::VolumeInfo& v, const std::map<std::string, std::string>& down,
               Clock::time_point now, std::set<std::string>& seen);

  ListPools pools_;
  ReportReadErrors read_errors_;
  unsigned looks_ = 0;  // the volumes are looked at every 15th look while all pools are well
  drivers::VolumeService& volumes_;
  VolumeEvents& events_;
  std::mutex mutex_;  // guards options_ and stop_
  Options options_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::map<std::string, Failed> failed_;  // "volume/replica"; the watch's thread only
  std::thread thread_;
};

}  // namespace maya::daemon
