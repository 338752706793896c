#include "lib/jiva/remote_rejoin.h"

#include <algorithm>

#include "lib/common/log.h"
#include "lib/jiva/remote_replicas.h"
#include "lib/jiva/replica_files.h"

namespace maya::jiva {

namespace {
constexpr std::chrono::milliseconds kMaxBackoff{30000};
}

RemoteRejoin::RemoteRejoin(TargetState& state, std::chrono::milliseconds interval)
    : state_(state), interval_(interval) {
  thread_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, interval_, [this] { return stop_; })) {
      lock.unlock();
      tick();
      lock.lock();
    }
  });
}

RemoteRejoin::~RemoteRejoin() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RemoteRejoin::tick(Clock::time_point now) {
  const Manifest manifest = state_.manifest_copy();
  for (const auto& status : state_.replicator->replicas()) {
    // The backoff lasts until the replica serves again: one that comes back and fails again
    // (a medium error, a fence) is not brought back every second.
    if (status.mode == replica::ReplicaMode::RW) backoff_.erase(status.id);
    // Out of space: the rebuilder retries it with its own backoff, on the same handles.
    if (status.mode != replica::ReplicaMode::ERR || status.out_of_space) continue;
    auto ref = std::find_if(manifest.replicas.begin(), manifest.replicas.end(),
                            [&](const ReplicaRef& r) { return r.id == status.id; });
    if (ref == manifest.replicas.end() || !is_remote_uri(ref->uri)) continue;
    Backoff& b = backoff_[status.id];
    if (now < b.next) continue;
    // Opened without the lock: a host that does not answer takes up to io_timeout.
    // Never claimed: if another owner took it over, this one stays fenced off.
    auto member = open_replica(*ref, manifest,
                               {state_.volume_dir, state_.io_timeout, state_.owner_key, false});
    if (member.journal) {
      std::lock_guard lock(state_.mutex);
      // Still ERR and still in the manifest: nothing changed it while it was being opened.
      const auto now_status = state_.replicator->replicas();
      const bool still_err = std::any_of(now_status.begin(), now_status.end(), [&](const auto& r) {
        return r.id == status.id && r.mode == replica::ReplicaMode::ERR;
      });
      const Manifest current = state_.manifest_copy();
      const bool listed =
          std::any_of(current.replicas.begin(), current.replicas.end(),
                      [&](const ReplicaRef& r) { return r.id == status.id && r.uri == ref->uri; });
      if (!still_err || !listed) continue;
      if (auto back = state_.replicator->add_replica(std::move(member)); back) {
        log::info("volume " + state_.volume + ": remote replica " + status.id + " (" + ref->uri +
                  ") answers again; it is being resynced");
        b.last_error.clear();
        b.next = now + b.wait;
        b.wait = std::min(b.wait * 2, kMaxBackoff);
        continue;
      } else {
        member.error = back.error().message;
      }
    }
    if (member.error != b.last_error)
      log::warn("volume " + state_.volume + ": remote replica " + status.id +
                " is still away: " + member.error);
    b.last_error = member.error;
    b.next = now + b.wait;
    b.wait = std::min(b.wait * 2, kMaxBackoff);
  }
}

}  // namespace maya::jiva
