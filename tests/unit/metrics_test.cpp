// The metrics' pieces: the latency buckets and percentiles, deltas, the target's /v1/metrics
// answer, and the Prometheus text made through prometheus-cpp.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "lib/common/io_stats.h"
#include "lib/common/parallel.h"
#include "lib/daemon/metrics_text.h"
#include "lib/jiva/target_client.h"

namespace maya {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

std::vector<std::uint64_t> buckets_with(std::initializer_list<std::pair<std::size_t, int>> counts) {
  std::vector<std::uint64_t> b(kLatencyBounds.size() + 1);
  for (auto [i, n] : counts) b[i] = static_cast<std::uint64_t>(n);
  return b;
}

TEST(IoStats, LatenciesFallInTheirLessOrEqualBucket) {
  EXPECT_EQ(IoCounter::bucket_of(0), 0u);
  EXPECT_EQ(IoCounter::bucket_of(100'000), 0u);  // 100 µs: the first bound itself
  EXPECT_EQ(IoCounter::bucket_of(100'001), 1u);
  EXPECT_EQ(IoCounter::bucket_of(1'000'000), 3u);                              // 1 ms
  EXPECT_EQ(IoCounter::bucket_of(10'000'000'000), kLatencyBounds.size() - 1);  // 10 s
  EXPECT_EQ(IoCounter::bucket_of(11'000'000'000), kLatencyBounds.size());      // +Inf
}

TEST(IoStats, CounterRecordsOpsBytesSumAndBuckets) {
  IoCounter c;
  c.record(4096, microseconds(50));
  c.record(8192, milliseconds(2));
  const IoSnapshot s = c.snapshot();
  EXPECT_EQ(s.ops, 2u);
  EXPECT_EQ(s.bytes, 12288u);
  EXPECT_NEAR(s.seconds, 0.00205, 1e-9);
  EXPECT_EQ(s.buckets[0], 1u);
  EXPECT_EQ(s.buckets[4], 1u);  // (1 ms, 2.5 ms]
}

TEST(IoStats, QuantilesInterpolateWithinABucketAsPrometheusDoes) {
  // 100 I/Os in (1 ms, 2.5 ms]: the median is halfway, 1.75 ms; p99 at 99 % of the way.
  auto b = buckets_with({{4, 100}});
  EXPECT_NEAR(latency_quantile(b, 0.5), 0.00175, 1e-12);
  EXPECT_NEAR(latency_quantile(b, 0.99), 0.001 + 0.0015 * 0.99, 1e-12);
  // 90 fast ones in the first bucket and 10 slow in (0.5 s, 1 s]: p50 is fast, p99 slow.
  b = buckets_with({{0, 90}, {12, 10}});
  EXPECT_NEAR(latency_quantile(b, 0.5), 0.0001 * 50 / 90, 1e-12);
  EXPECT_NEAR(latency_quantile(b, 0.99), 0.5 + 0.5 * 0.9, 1e-12);
  // In the +Inf bucket: the last bound, as histogram_quantile answers.
  EXPECT_EQ(latency_quantile(buckets_with({{kLatencyBounds.size(), 3}}), 0.5), 10.0);
  EXPECT_EQ(latency_quantile(buckets_with({}), 0.99), 0.0);
}

TEST(IoStats, DeltaSubtractsAndARestartedTargetCountsFromZero) {
  IoSnapshot before{10, 1000, 0.5, buckets_with({{0, 10}})};
  IoSnapshot now{15, 3000, 0.75, buckets_with({{0, 12}, {3, 3}})};
  const IoSnapshot d = io_delta(now, before);
  EXPECT_EQ(d.ops, 5u);
  EXPECT_EQ(d.bytes, 2000u);
  EXPECT_NEAR(d.seconds, 0.25, 1e-12);
  EXPECT_EQ(d.buckets, buckets_with({{0, 2}, {3, 3}}));
  IoSnapshot restarted{2, 100, 0.01, buckets_with({{0, 2}})};
  EXPECT_EQ(io_delta(restarted, before), restarted);
}

TEST(TargetMetrics, RoundTripsAndRefusesWrongBuckets) {
  jiva::TargetMetrics m{{3, 12288, 0.003, buckets_with({{2, 3}})},
                        {1, 4096, 0.002, buckets_with({{4, 1}})}};
  auto back = jiva::decode<jiva::TargetMetrics>(jiva::encode(m));
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_EQ(*back, m);
  auto short_buckets = jiva::decode<jiva::TargetMetrics>(R"({"reads": {"buckets": [1, 2]}})");
  ASSERT_FALSE(short_buckets.has_value());
  EXPECT_NE(short_buckets.error().message.find("reads.buckets"), std::string::npos)
      << short_buckets.error().message;
}

TEST(TargetMetrics, CarriesStartTimeBoundsDiscardsAndErrors) {
  jiva::TargetMetrics m;
  m.started_at_seconds = 1'800'000'000;
  m.bucket_bounds_seconds.assign(kLatencyBounds.begin(), kLatencyBounds.end());
  m.discards = IoSnapshot{2, 1 << 20, 0.001, buckets_with({{0, 2}})};
  m.read_errors = 3;
  m.write_errors = 4;
  auto back = jiva::decode<jiva::TargetMetrics>(jiva::encode(m));
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_EQ(*back, m);
  EXPECT_TRUE(back->same_buckets());
  // A target from before an upgrade that changed the bounds: its counts are well formed for its
  // own bounds, but not ours, so the daemon leaves its histogram out.
  auto older = jiva::decode<jiva::TargetMetrics>(
      R"({"bucket_bounds_seconds": [0.001, 1], "reads": {"buckets": [1, 2, 3]},
          "writes": {"buckets": [0, 0, 0]}})");
  ASSERT_TRUE(older.has_value()) << older.error().message;
  EXPECT_FALSE(older->same_buckets());
  // A target from before start times and bounds were sent: ours assumed, start time 0.
  auto oldest = jiva::decode<jiva::TargetMetrics>(R"({"reads": {}, "writes": {}})");
  ASSERT_TRUE(oldest.has_value()) << oldest.error().message;
  EXPECT_TRUE(oldest->same_buckets());
  EXPECT_EQ(oldest->started_at_seconds, 0);
}

TEST(IoStats, ATimerNeverDoneCountsAnError) {
  IoCounter c;
  {
    IoTimer ok(c);
    ok.done(512);
  }
  { IoTimer failed(c); }
  EXPECT_EQ(c.snapshot().ops, 1u);
  EXPECT_EQ(c.errors(), 1u);
}

TEST(Parallel, MapsInOrderAtMostWidthAtOnce) {
  std::vector<int> items(40);
  for (int i = 0; i < 40; ++i) items[static_cast<std::size_t>(i)] = i;
  std::atomic<int> running{0};
  std::atomic<int> most{0};
  auto out = parallel_map(items, 16, [&](int i) {
    const int now = ++running;
    int seen = most.load();
    while (now > seen && !most.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(milliseconds(2));
    --running;
    return i * 2;
  });
  ASSERT_EQ(out.size(), 40u);
  for (int i = 0; i < 40; ++i) EXPECT_EQ(out[static_cast<std::size_t>(i)], i * 2);
  EXPECT_LE(most.load(), 16);
}

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

TEST(MetricsText, SerializesThroughPrometheusCpp) {
  daemon::DaemonMetrics m;
  m.version = "1.2.3";
  daemon::VolumeMetrics v;
  v.name = "db";
  v.driver = "jiva";
  v.size_bytes = 1 << 30;
  v.allocated_bytes = 4096;
  v.health = "degraded";
  v.reads = IoSnapshot{2, 8192, 0.0002, buckets_with({{0, 2}})};
  v.writes = IoSnapshot{3, 12288, 0.006, buckets_with({{4, 2}, {kLatencyBounds.size(), 1}})};
  v.rebuild_progress = 0.25;
  v.replicas = {{"r1", "RW"}, {"r2", "ERR"}};
  v.target_restarts = 1;
  m.volumes.push_back(v);
  daemon::VolumeMetrics local;
  local.name = "logs";
  local.driver = "local";
  local.size_bytes = 100;
  local.health = "healthy";
  m.volumes.push_back(local);
  m.pools.push_back({"fast", 1000, 10, "online"});
  m.front_doors.push_back({"cli", IoSnapshot{4, 0, 0.01, buckets_with({{3, 4}})}});
  const std::string text = daemon::metrics_text(m);
  EXPECT_TRUE(has_line(text, "# TYPE maya_volume_written_bytes_total counter")) << text;
  EXPECT_TRUE(has_line(text, R"(maya_volume_written_bytes_total{driver="jiva",volume="db"} 12288)"))
      << text;
  EXPECT_TRUE(has_line(text, R"(maya_volume_read_ops_total{driver="jiva",volume="db"} 2)"));
  EXPECT_TRUE(has_line(text, "# TYPE maya_volume_write_seconds histogram"));
  // Cumulative buckets: 2 at or below 2.5 ms, 3 in all.
  EXPECT_TRUE(has_line(
      text, R"(maya_volume_write_seconds_bucket{driver="jiva",volume="db",le="0.0025"} 2)"))
      << text;
  EXPECT_TRUE(
      has_line(text, R"(maya_volume_write_seconds_bucket{driver="jiva",volume="db",le="+Inf"} 3)"));
  EXPECT_TRUE(has_line(text, R"(maya_volume_write_seconds_count{driver="jiva",volume="db"} 3)"));
  EXPECT_TRUE(
      has_line(text, R"(maya_volume_health{driver="jiva",state="degraded",volume="db"} 1)"));
  EXPECT_TRUE(has_line(text, R"(maya_volume_health{driver="jiva",state="healthy",volume="db"} 0)"));
  EXPECT_TRUE(
      has_line(text, R"(maya_volume_health{driver="local",state="healthy",volume="logs"} 1)"));
  EXPECT_TRUE(has_line(
      text, R"(maya_volume_replica_mode{driver="jiva",mode="ERR",replica="r2",volume="db"} 1)"));
  EXPECT_TRUE(has_line(
      text, R"(maya_volume_replica_mode{driver="jiva",mode="RW",replica="r2",volume="db"} 0)"));
  EXPECT_TRUE(
      has_line(text, R"(maya_volume_rebuild_progress_ratio{driver="jiva",volume="db"} 0.25)"));
  EXPECT_TRUE(has_line(text, R"(maya_target_restarts_total{driver="jiva",volume="db"} 1)"));
  EXPECT_TRUE(has_line(text, R"(maya_pool_state{pool="fast",state="online"} 1)"));
  EXPECT_TRUE(has_line(text, R"(maya_pool_capacity_bytes{pool="fast"} 1000)"));
  EXPECT_TRUE(has_line(text, R"(maya_build_info{version="1.2.3"} 1)"));
  EXPECT_TRUE(has_line(text, R"(maya_requests_total{front_door="cli"} 4)"));
  // A local volume has no I/O counters of maya's own: no series rather than a false 0.
  EXPECT_EQ(text.find(R"(maya_volume_read_ops_total{driver="local")"), std::string::npos);
}

TEST(MetricsText, StartTimeDiscardsErrorsAndWhatIsLeftOut) {
  daemon::DaemonMetrics m;
  daemon::VolumeMetrics v;
  v.name = "db";
  v.driver = "jiva";
  v.health = "";  // a busy target: health unknown this scrape
  v.reads = IoSnapshot{2, 8192, 0.0002, buckets_with({{0, 2}})};
  v.writes = IoSnapshot{};
  v.discards = IoSnapshot{1, 65536, 0.0001, buckets_with({{0, 1}})};
  v.read_errors = 5;
  v.histogram = false;  // the target's buckets are not ours
  v.target_started_at = 1'800'000'000;
  m.volumes.push_back(v);
  const std::string text = daemon::metrics_text(m);
  EXPECT_TRUE(
      has_line(text, R"(maya_target_start_time_seconds{driver="jiva",volume="db"} 1800000000)"))
      << text;
  EXPECT_TRUE(
      has_line(text, R"(maya_volume_discarded_bytes_total{driver="jiva",volume="db"} 65536)"));
  EXPECT_TRUE(has_line(text, R"(maya_volume_discard_ops_total{driver="jiva",volume="db"} 1)"));
  EXPECT_TRUE(
      has_line(text, R"(maya_volume_io_errors_total{driver="jiva",op="read",volume="db"} 5)"));
  EXPECT_TRUE(
      has_line(text, R"(maya_volume_io_errors_total{driver="jiva",op="write",volume="db"} 0)"));
  EXPECT_TRUE(has_line(text, R"(maya_volume_read_ops_total{driver="jiva",volume="db"} 2)"));
  EXPECT_EQ(text.find("maya_volume_read_seconds"), std::string::npos) << text;
  EXPECT_EQ(text.find("maya_volume_health{"), std::string::npos) << text;
}

}  // namespace
}  // namespace maya
