// What the daemon did to a volume on its own, and why it could not do more: the pools' watch
// failing a replica, adding its replacement, dropping it, rebuilding one whose pool came back,
// or leaving a volume degraded with no pool to replace it on. `maya volume inspect` shows the
// last ones (kEventsKept per volume, since the daemon started); the daemon log keeps them all.
#pragma once

#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace maya::daemon {

class VolumeEvents {
 public:
  static constexpr std::size_t kEventsKept = 10;
  struct Event {
    std::string time;  // ISO 8601, UTC
    std::string note;
  };
  void add(const std::string& volume, std::string note);
  // Oldest first.
  std::vector<Event> of(const std::string& volume) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::deque<Event>> events_;
};

}  // namespace maya::daemon
