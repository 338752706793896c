// I/O counters of a volume, kept where every I/O completes (the replicator, below both the iSCSI
// portal and the FUSE frontend) and read at scrape time: relaxed atomics only, so counting never
// takes a lock and a reader never waits for I/O. The latency histogram has fixed buckets (the
// same bounds in every process), so the daemon can hand them to Prometheus as they are.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

namespace maya {

// Upper bounds of the latency buckets, in seconds (the last bucket, +Inf, is implied).
inline constexpr std::array<double, 16> kLatencyBounds = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   5.0,  10.0};

// A copy of one direction's counters. `buckets` holds kLatencyBounds.size() + 1 counts, each
// the number of I/Os in that bucket alone (not cumulative); the last is past the last bound.
struct IoSnapshot {
  std::uint64_t ops = 0;
  std::uint64_t bytes = 0;
  double seconds = 0;  // the sum of the latencies
  std::vector<std::uint64_t> buckets = std::vector<std::uint64_t>(kLatencyBounds.size() + 1);
  bool operator==(const IoSnapshot&) const = default;
};

// The quantile q (0..1) of the latencies in `buckets` (non-cumulative, kLatencyBounds), estimated
// as Prometheus' histogram_quantile does: linear within the bucket it falls in; a quantile in the
// last (+Inf) bucket is the last bound. 0 when there is nothing counted.
double latency_quantile(const std::vector<std::uint64_t>& buckets, double q);

// `now` minus `before`, field by field (a counter that went down, as after a target restart,
// counts from 0: the later value).
IoSnapshot io_delta(const IoSnapshot& now, const IoSnapshot& before);

class IoCounter {
 public:
  void record(std::uint64_t bytes, std::chrono::nanoseconds latency) {
    ops_.fetch_add(1, std::memory_order_relaxed);
    bytes_.fetch_add(bytes, std::memory_order_relaxed);
    const auto ns = static_cast<std::uint64_t>(latency.count() < 0 ? 0 : latency.count());
    nanos_.fetch_add(ns, std::memory_order_relaxed);
    buckets_[bucket_of(ns)].fetch_add(1, std::memory_order_relaxed);
  }
  void record_error() { errors_.fetch_add(1, std::memory_order_relaxed); }
  IoSnapshot snapshot() const;
  std::uint64_t errors() const { return errors_.load(std::memory_order_relaxed); }
  static std::size_t bucket_of(std::uint64_t nanos);

 private:
  std::atomic<std::uint64_t> ops_{0};
  std::atomic<std::uint64_t> bytes_{0};
  std::atomic<std::uint64_t> nanos_{0};
  std::atomic<std::uint64_t> errors_{0};  // I/Os that failed (not in the above)
  std::array<std::atomic<std::uint64_t>, kLatencyBounds.size() + 1> buckets_{};
};

// Reads, writes and discards of one volume. Each on its own cache lines: a reader and a writer
// thread do not bounce one line between them.
struct IoStats {
  alignas(64) IoCounter reads;
  alignas(64) IoCounter writes;
  alignas(64) IoCounter discards;
};

// Times one I/O and records it when it completes successfully (done); one that never does (an
// error returned, an exception) counts as failed when the timer goes.
class IoTimer {
 public:
  explicit IoTimer(IoCounter& counter) : counter_(counter) {}
  IoTimer(const IoTimer&) = delete;
  IoTimer& operator=(const IoTimer&) = delete;
  ~IoTimer() {
    if (!done_) counter_.record_error();
  }
  void done(std::uint64_t bytes) {
    counter_.record(bytes, std::chrono::steady_clock::now() - start_);
    done_ = true;
  }

 private:
  IoCounter& counter_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  bool done_ = false;
};

}  // namespace maya
