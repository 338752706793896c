#include "lib/daemon/pool_watch.h"

#include <algorithm>

#include "lib/common/log.h"

namespace maya::daemon {

PoolWatch::PoolWatch(ListPools pools, ReportReadErrors read_errors, drivers::VolumeService& volumes,
                     VolumeEvents& events, Options options, bool threaded)
    : pools_(std::move(pools)),
      read_errors_(std::move(read_errors)),
      volumes_(volumes),
      events_(events),
      options_(options) {
  if (!threaded) return;
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

void PoolWatch::set_options(Options options) {
  std::lock_guard lock(mutex_);
  options_ = options;
}

void PoolWatch::note(const std::string& volume, bool warning, const std::string& text) {
  events_.add(volume, text);  // first: whoever reads the log line finds the event too
  if (warning)
    log::warn(text);
  else
    log::info(text);
}

void PoolWatch::tell(Failed& f, const std::string& volume, const std::string& text) {
  if (text == f.told) return;
  note(volume, true, text);
  f.told = text;
}

void PoolWatch::tick(Clock::time_point now) {
  auto pools = pools_();
  if (!pools) return;
  std::set<std::string> known;
  std::map<std::string, std::string> down;  // pool → why it is not online
  for (const auto& p : *pools) {
    known.insert(p.name);
    if (p.state == "faulted" || p.state == "missing")
      down[p.name] = p.state + (p.error.empty() ? "" : ": " + p.error);
  }
  // All well: the volumes are looked at for read errors every 15th look (30 s), and not at all
  // on a host without disk pools.
  if (down.empty() && failed_.empty() && (known.size() <= 1 || looks_++ % 15 != 0)) return;
  auto volumes = volumes_.list();
  if (!volumes) return;
  std::set<std::string> seen;
  std::map<std::string, std::string> read_errors;
  for (const auto& v : *volumes) {
    if (!v.replication) continue;
    for (const auto& r : v.replication->replicas)
      if (r.mode == "ERR" && r.error.starts_with("read: ") && !down.contains(r.pool))
        read_errors.try_emplace(
            r.pool, "replica " + r.id + " of volume " + v.spec.name + ": " + r.error.substr(6));
    auto with_gone = down;  // replicas on a pool destroyed since are on no pool at all
    for (const auto& r : v.replication->replicas)
      if (!known.contains(r.pool)) with_gone[r.pool] = "destroyed (no such pool any more)";
    look_at(v, with_gone, now, seen);
  }
  std::erase_if(failed_, [&](const auto& entry) { return !seen.contains(entry.first); });
  if (read_errors_) read_errors_(std::move(read_errors));
}

void PoolWatch::look_at(const drivers::VolumeInfo& v,
                        const std::map<std::string, std::string>& down, Clock::time_point now,
                        std::set<std::string>& seen) {
  Options options;
  {
    std::lock_guard lock(mutex_);
    options = options_;
  }
  const std::string& name = v.spec.name;
  const auto& replicas = v.replication->replicas;
  auto on_down = [&](const drivers::ReplicaInfo& r) { return down.contains(r.pool); };
  const auto rw_elsewhere = std::count_if(replicas.begin(), replicas.end(), [&](const auto& r) {
    return r.mode == "RW" && !on_down(r);
  });
  const auto live =
      std::count_if(replicas.begin(), replicas.end(), [&](const auto& r) { return !on_down(r); });
  const bool all_live_rw = std::all_of(replicas.begin(), replicas.end(),
                                       [&](const auto& r) { return on_down(r) || r.mode == "RW"; });

  for (const auto& r : replicas) {
    const std::string key = name + "/" + r.id;
    auto known = failed_.find(key);
    if (!on_down(r)) {
      // Back on an online pool: what the watch failed is brought back.
      if (known != failed_.end() && known->second.failed && r.mode == "ERR") {
        if (auto back = volumes_.rebuild(name); back)
          note(name, false,
               "volume " + name + ": pool " + r.pool + " is back; replica " + r.id +
                   " is being rebuilt");
      }
      continue;
    }
    seen.insert(key);
    Failed& f = failed_.try_emplace(key, Failed{now}).first->second;
    ++f.looks;
    if (f.looks < 2) continue;  // two looks in a row before anything is done
    const std::string why = "its pool " + r.pool + " is " + down.at(r.pool);
    if (v.replication->health == "offline") {
      tell(f, name,
           "volume " + name + " is offline and replica " + r.id + " is on a pool that is " +
               "not online (" + why +
               "); it is not replaced while the volume's target does "
               "not run: `maya volume inspect " +
               name + "` says why");
      continue;
    }
    if (rw_elsewhere == 0) {
      tell(f, name,
           "volume " + name + ": replica " + r.id + " (" + why + ") holds its only current " +
               "copy; it is neither failed nor replaced by maya");
      continue;
    }
    if (r.mode != "ERR" && !f.failed) {
      if (auto out = volumes_.fail_replica(name, r.id, why); out) {
        f.failed = true;
        note(name, true,
             "volume " + name + ": replica " + r.id + " left the I/O path: " + why +
                 (options.auto_replace
                      ? "; it is replaced after " + std::to_string(options.replace_after.count()) +
                            " s unless the pool comes back"
                      : ""));
      } else {
        tell(f, name,
             "volume " + name + ": replica " + r.id + " (" + why +
                 ") could not be taken out: " + out.error().message);
      }
    }
    if (!options.auto_replace || now - f.since < options.replace_after) continue;
    // Enough replicas beside the failed ones (a replacement added earlier, maybe by a daemon
    // that stopped since): the failed one goes once they are all RW. Else one is added.
    if (live < static_cast<long>(v.spec.replicas)) {
      auto added = volumes_.add_replica(name, "");
      if (!added) {
        tell(f, name,
             "volume " + name + " stays degraded: replica " + r.id + " (" + why +
                 ") cannot be replaced: " + added.error().message);
        continue;
      }
      note(name, false,
           "volume " + name + ": replica " + *added + " added in place of replica " + r.id + " (" +
               why + "); " + r.id + " goes once " + *added + " is rebuilt");
      return;  // the next look sees the new replica
    }
    if (!all_live_rw) continue;  // the replacement is still being rebuilt
    if (auto removed = volumes_.remove_replica(name, r.id); !removed) {
      tell(f, name,
           "volume " + name + ": replica " + r.id + " (" + why +
               ") could not be removed: " + removed.error().message);
      continue;
    }
    note(name, false,
         "volume " + name + ": replica " + r.id + " (" + why + ") removed; its " +
             "replacement is rebuilt");
    return;  // the next look sees the volume as it is now
  }
}

}  // namespace maya::daemon
