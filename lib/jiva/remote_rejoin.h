// Brings remote replicas back: a replica on another host (iscsi://) that left the I/O path (a
// partition, its server killed, its host rebooted) is opened again in the background, with a
// backoff per replica (1 s doubling to 30 s), and added back; the replicator then copies only
// the regions it missed while it was away (its journal says from which generation on). A
// local replica that fails stays out until a person asks (`maya volume rebuild`): its disk
// is more likely broken than away.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "lib/jiva/target_api.h"

namespace maya::jiva {

class RemoteRejoin {
 public:
  using Clock = std::chrono::steady_clock;
  // Looks every `interval`; `state` outlives this.
  explicit RemoteRejoin(TargetState& state,
                        std::chrono::milliseconds interval = std::chrono::milliseconds(1000));
  ~RemoteRejoin();  // stops and joins
  RemoteRejoin(const RemoteRejoin&) = delete;
  RemoteRejoin& operator=(const RemoteRejoin&) = delete;

  // One look: tries every remote ERR replica whose backoff has passed.
  void tick(Clock::time_point now = Clock::now());

 private:
  struct Backoff {
    Clock::time_point next{};
    std::chrono::milliseconds wait{1000};
    std::string last_error;
  };
  TargetState& state_;
  std::chrono::milliseconds interval_;
  std::map<std::string, Backoff> backoff_;  // by replica id; the thread's only
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace maya::jiva
