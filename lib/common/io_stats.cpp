#include "lib/common/io_stats.h"

#include <algorithm>

namespace maya {

std::size_t IoCounter::bucket_of(std::uint64_t nanos) {
  const double seconds = static_cast<double>(nanos) / 1e9;
  // The first bound at or above the latency: Prometheus buckets are "less than or equal".
  return static_cast<std::size_t>(
      std::lower_bound(kLatencyBounds.begin(), kLatencyBounds.end(), seconds) -
      kLatencyBounds.begin());
}

IoSnapshot IoCounter::snapshot() const {
  IoSnapshot s;
  s.ops = ops_.load(std::memory_order_relaxed);
  s.bytes = bytes_.load(std::memory_order_relaxed);
  s.seconds = static_cast<double>(nanos_.load(std::memory_order_relaxed)) / 1e9;
  for (std::size_t i = 0; i < buckets_.size(); ++i)
    s.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
  return s;
}

double latency_quantile(const std::vector<std::uint64_t>& buckets, double q) {
  std::uint64_t total = 0;
  for (auto n : buckets) total += n;
  if (total == 0 || buckets.empty()) return 0;
  q = std::clamp(q, 0.0, 1.0);
  const double rank = q * static_cast<double>(total);
  std::uint64_t below = 0;
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    const std::uint64_t through = below + buckets[i];
    if (static_cast<double>(through) >= rank && buckets[i] > 0) {
      if (i >= kLatencyBounds.size()) return kLatencyBounds.back();
      const double lower = i == 0 ? 0.0 : kLatencyBounds[i - 1];
      const double upper = kLatencyBounds[i];
      const double into = (rank - static_cast<double>(below)) / static_cast<double>(buckets[i]);
      return lower + (upper - lower) * into;
    }
    below = through;
  }
  return kLatencyBounds.back();
}

IoSnapshot io_delta(const IoSnapshot& now, const IoSnapshot& before) {
  // A target that restarted counts from zero again: its counters are below the earlier ones.
  if (now.ops < before.ops) return now;
  IoSnapshot d;
  d.ops = now.ops - before.ops;
  d.bytes = now.bytes >= before.bytes ? now.bytes - before.bytes : now.bytes;
  d.seconds = now.seconds >= before.seconds ? now.seconds - before.seconds : now.seconds;
  for (std::size_t i = 0; i < d.buckets.size() && i < now.buckets.size(); ++i) {
    const std::uint64_t b = i < before.buckets.size() ? before.buckets[i] : 0;
    d.buckets[i] = now.buckets[i] >= b ? now.buckets[i] - b : now.buckets[i];
  }
  return d;
}

}  // namespace maya
