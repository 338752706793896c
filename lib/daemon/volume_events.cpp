#include "lib/daemon/volume_events.h"

#include "lib/common/time_format.h"

namespace maya::daemon {

void VolumeEvents::add(const std::string& volume, std::string note) {
  std::lock_guard lock(mutex_);
  auto& kept = events_[volume];
  kept.push_back({iso8601(), std::move(note)});
  while (kept.size() > kEventsKept) kept.pop_front();
}

std::vector<VolumeEvents::Event> VolumeEvents::of(const std::string& volume) const {
  std::lock_guard lock(mutex_);
  auto it = events_.find(volume);
  if (it == events_.end()) return {};
  return {it->second.begin(), it->second.end()};
}

}  // namespace maya::daemon
