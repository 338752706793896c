#include "lib/daemon/pool_watch.h"

#include <set>

#include "lib/common/log.h"

namespace maya::daemon {

PoolWatch::PoolWatch(drivers::pools::PoolService& pools, drivers::VolumeService& volumes,
                     Options options)
    : pools_(pools), volumes_(volumes), options_(options) {
  thread_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    while (!stop_) {
      lock.unlock();
      tick();
      lock.lock();
      wake_.wait_for(lock, options_.interval, [this] { return stop_; });
    }
  });
}

PoolWatch::~PoolWatch() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PoolWatch::tick() {
  auto pools = pools_.list();
  if (!pools) return;
  std::map<std::string, std::string> down;  // pool → why it is not online
  for (const auto& p : *pools)
    if (p.state == "faulted" || p.state == "missing")
      down[p.name] = p.state + (p.error.empty() ? "" : ": " + p.error);
  if (down.empty()) {
    failed_.clear();
    return;
  }
  auto volumes = volumes_.list();
  if (!volumes) return;
  std::set<std::string> seen;
  for (const auto& v : *volumes) {
    if (!v.replication || v.replication->health == "offline") continue;
    for (const auto& r : v.replication->replicas) {
      auto pool = down.find(r.pool);
      if (pool == down.end()) continue;
      const std::string key = v.spec.name + "/" + r.id;
      seen.insert(key);
      const std::string why = "its pool " + r.pool + " is " + pool->second;
      auto [it, fresh] = failed_.try_emplace(key, Failed{Clock::now(), ""});
      if (r.mode != "ERR") {
        if (auto out = volumes_.fail_replica(v.spec.name, r.id, why); out)
          log::warn("volume " + v.spec.name + ": replica " + r.id + " left the I/O path: " + why);
        else if (fresh)
          log::warn("volume " + v.spec.name + ": replica " + r.id + " (" + why +
                    ") could not be taken out: " + out.error().message);
      }
      if (fresh && options_.auto_replace)
        log::info("volume " + v.spec.name + ": replica " + r.id + " is replaced in " +
                  std::to_string(options_.replace_after.count()) + " s unless pool " + r.pool +
                  " comes back");
      if (options_.auto_replace && Clock::now() - it->second.since >= options_.replace_after)
        replace(v.spec.name, r.id, r.pool, why, it->second);
    }
  }
  std::erase_if(failed_, [&](const auto& entry) { return !seen.contains(entry.first); });
}

void PoolWatch::replace(const std::string& volume, const std::string& id, const std::string& pool,
                        const std::string& why, Failed& failed) {
  if (failed.replacement.empty()) {
    auto added = volumes_.add_replica(volume, "");
    if (!added) {
      const std::string note = why + "; no replacement: " + added.error().message;
      if (note != failed.told) {
        log::warn("volume " + volume + " stays degraded: replica " + id + " cannot be replaced (" +
                  note + ")");
        (void)volumes_.fail_replica(volume, id, note);  // inspect shows why
        failed.told = note;
      }
      return;
    }
    failed.replacement = *added;
  }
  if (auto removed = volumes_.remove_replica(volume, id); !removed) {
    const std::string note = "could not be removed: " + removed.error().message;
    if (note != failed.told)
      log::warn("volume " + volume + ": replica " + failed.replacement + " added in place of " +
                id + " (" + why + "), but " + id + " " + note);
    failed.told = note;
    return;
  }
  log::info("volume " + volume + ": replica " + id + " on pool " + pool + " (" + why +
            ") replaced by replica " + failed.replacement + ", which is being rebuilt");
}

}  // namespace maya::daemon
