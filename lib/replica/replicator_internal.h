// The parts of Replicator that its .cpp files share (not for other users).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "lib/common/fd.h"

#include "lib/replica/replicator.h"

namespace maya::replica {

// A replica's own thread, for writes fanned out in parallel.
class Lane {
 public:
  Lane() : thread_([this] { run(); }) {}
  ~Lane() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void post(std::function<void()> job) {
    {
      std::lock_guard lock(mutex_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      lock.lock();
    }
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::thread thread_;
};

struct Replicator::RebuildPlan {
  bool full = true;
  RegionBitmap regions;  // when not full
  bool target_may_hold_data = true;
};

struct Replicator::Replica {
  std::string id;
  std::unique_ptr<block::BlockBackend> data;
  std::unique_ptr<ReplicaJournal> journal;
  ReplicaMode mode = ReplicaMode::ERR;
  ReplicaMeta meta;  // as loaded, then as last saved
  std::string error;
  std::unique_ptr<RebuildPlan> plan;  // WO replicas waiting for (or in) a rebuild
  std::uint64_t plan_epoch = 0;       // bumped whenever `plan` is replaced: a running rebuild of
                                      // an older plan stops and never promotes
  std::unique_ptr<Lane> lane;
  bool removed = false;
  bool out_of_space = false;  // ERR because its store was full: retried at retry_at
  std::chrono::steady_clock::time_point retry_at{};
  std::chrono::milliseconds retry_backoff{0};
};

class Replicator::SnapshotCopy {
 public:
  SnapshotCopy(std::filesystem::path file, Fd fd, std::uint64_t regions)
      : file(std::move(file)), fd(std::move(fd)), copied(regions) {}
  ~SnapshotCopy() {
    if (thread.joinable()) thread.join();
  }
  std::filesystem::path file;
  Fd fd;
  RegionBitmap copied;
  std::atomic<std::uint64_t> done{0};
  std::uint64_t total = 0;
  bool reflinked = false;
  std::atomic<bool> finished{false};
  std::mutex mutex;  // guards error
  std::string error;
  std::thread thread;
};

}  // namespace maya::replica
