// maya volume stats NAME [--interval DURATION]: a jiva volume's IOPS, throughput and latency
// percentiles over an interval, from two readings of its target's counters (the same counters
// GET /metrics serves) taken through the daemon, DURATION apart.
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <thread>

#include "cmd/maya/commands.h"
#include "cmd/maya/table.h"
#include "lib/common/io_stats.h"
#include "lib/common/size.h"

namespace maya::cli {
namespace {

using nlohmann::json;

// "2s", "500ms", "1m", "1.5s", "1h": from 1 ms to an hour.
std::optional<std::chrono::milliseconds> parse_interval(const std::string& text) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [rest, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || rest == text.data()) return std::nullopt;
  const std::string unit(rest, end);
  double ms = 0;
  if (unit == "ms") {
    ms = value;
  } else if (unit == "s") {
    ms = value * 1000;
  } else if (unit == "m") {
    ms = value * 60000;
  } else if (unit == "h") {
    ms = value * 3600000;
  } else {
    return std::nullopt;
  }
  if (!(ms >= 1) || ms > 3600000) return std::nullopt;
  return std::chrono::milliseconds(static_cast<long long>(ms));
}

IoSnapshot snapshot_of(const json& j) {
  IoSnapshot s;
  s.ops = j.value("ops", std::uint64_t{0});
  s.bytes = j.value("bytes", std::uint64_t{0});
  s.seconds = j.value("seconds", 0.0);
  if (j.contains("buckets") && j["buckets"].is_array())
    for (std::size_t i = 0; i < s.buckets.size() && i < j["buckets"].size(); ++i)
      s.buckets[i] = j["buckets"][i].get<std::uint64_t>();
  return s;
}

// Whether the quantile q of `buckets` lies past the last bound (the +Inf bucket), where
// latency_quantile can only say the last bound.
bool past_last_bound(const std::vector<std::uint64_t>& buckets, double q) {
  std::uint64_t total = 0;
  for (auto n : buckets) total += n;
  if (total == 0 || buckets.empty()) return false;
  const std::uint64_t below = total - buckets.back();
  return static_cast<double>(below) < q * static_cast<double>(total);
}

json direction(const IoSnapshot& d, double seconds) {
  const double ops = static_cast<double>(d.ops);
  return {{"ops", d.ops},
          {"bytes", d.bytes},
          {"iops", ops / seconds},
          {"bytes_per_second", static_cast<double>(d.bytes) / seconds},
          {"latency_seconds",
           {{"avg", d.ops ? d.seconds / ops : 0.0},
            {"p50", latency_quantile(d.buckets, 0.50)},
            {"p99", latency_quantile(d.buckets, 0.99)},
            // p99 is then only known to be above the last bound (10 s)
            {"p99_past_last_bound", past_last_bound(d.buckets, 0.99)}}}};
}

std::string fixed(double v, const char* format) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, v);
  return buffer;
}

std::string latency(double seconds) {
  if (seconds == 0) return "-";
  if (seconds < 0.001) return fixed(seconds * 1e6, "%.0f µs");
  if (seconds < 1) return fixed(seconds * 1e3, "%.2f ms");
  return fixed(seconds, "%.2f s");
}

void print_stats(const json& s) {
  std::cout << "volume " << s["volume"].get<std::string>() << " (" << s["driver"].get<std::string>()
            << ", " << s["health"].get<std::string>() << "), over "
            << fixed(s["interval_seconds"].get<double>(), "%.1f") << " s\n";
  Table table({"", "IOPS", "THROUGHPUT", "AVG", "P50", "P99"});
  for (const char* key : {"read", "write"}) {
    const json& d = s[key];
    const json& l = d["latency_seconds"];
    table.add({key, fixed(d["iops"].get<double>(), "%.0f"),
               spaced_size(static_cast<std::uint64_t>(d["bytes_per_second"].get<double>())) + "/s",
               latency(l["avg"].get<double>()), latency(l["p50"].get<double>()),
               l.value("p99_past_last_bound", false)
                   ? "> " + fixed(kLatencyBounds.back(), "%g") + " s"
                   : latency(l["p99"].get<double>())});
  }
  table.print(std::cout);
}

}  // namespace

int volume_stats(Globals& globals, const Args& args) {
  std::string name;
  std::string interval_text = "1s";
  po::options_description options("Options");
  options.add_options()("interval", po::value(&interval_text),
                        "how long to measure, e.g. 1s, 500ms, 1m (default 1s)");
  po::options_description hidden;
  hidden.add_options()("name", po::value(&name));
  po::positional_options_description positional;
  positional.add("name", 1);
  Parsed parsed =
      parse({"volume stats", "maya volume stats NAME [--interval DURATION] [-o table|json]",
             "Shows a jiva volume's I/O over DURATION: IOPS, throughput and latency (average, and\n"
             "the 50th and 99th percentiles estimated from the histogram buckets of\n"
             "maya_volume_read_seconds and maya_volume_write_seconds, as Prometheus'\n"
             "histogram_quantile does). Latency is measured in the volume's target, every replica\n"
             "included. Local volumes have no counters (see `maya volume inspect`).",
             "maya volume stats db\nmaya volume stats db --interval 10s -o json | jq .write.iops"},
            options, positional, args, globals, hidden);
  if (parsed.exit_code) return *parsed.exit_code;
  if (name.empty()) return usage_error("volume stats", "it needs a NAME");
  auto interval = parse_interval(interval_text);
  if (!interval)
    return usage_error("volume stats", "--interval \"" + interval_text +
                                           "\" is not a duration from 1ms to 1h, such as 1s, "
                                           "500ms or 1m");
  const std::string path = "/v1/volumes/" + name + "/stats";
  auto before = call_daemon(globals, "GET", path);
  if (!before) return 1;
  const auto start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(*interval);
  auto after = call_daemon(globals, "GET", path);
  if (!after) return 1;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // A target that restarted between the readings counts from 0 again: the second reading is
  // all there is to show.
  const bool restarted = before->value("started_at_seconds", std::int64_t{0}) !=
                         after->value("started_at_seconds", std::int64_t{0});
  const auto delta = [&](const char* key) {
    const IoSnapshot now = snapshot_of((*after)[key]);
    return restarted ? now : io_delta(now, snapshot_of((*before)[key]));
  };
  const IoSnapshot reads = delta("reads");
  const IoSnapshot writes = delta("writes");
  const json stats = {{"volume", name},
                      {"driver", (*after)["driver"]},
                      {"health", (*after)["health"]},
                      {"interval_seconds", seconds},
                      {"read", direction(reads, seconds)},
                      {"write", direction(writes, seconds)}};
  if (json_output(globals)) {
    print_json(stats);
  } else {
    print_stats(stats);
  }
  return 0;
}

}  // namespace maya::cli
