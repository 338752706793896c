#include "lib/common/log.h"

#include <array>
#include <atomic>
#include <chrono>
#include <ctime>
#include <mutex>

namespace maya::log {
namespace {

constexpr std::array<std::string_view, 4> kNames = {"debug", "info", "warn", "error"};

std::atomic<Level> g_level{Level::info};
std::atomic<std::FILE*> g_sink{nullptr};
std::mutex g_write_mutex;

}  // namespace

Result<Level> parse_level(std::string_view name) {
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) return static_cast<Level>(i);
  }
  return fail("unknown log level \"" + std::string(name) +
              "\" (expected debug, info, warn or error)");
}

std::string_view level_name(Level level) {
  return kNames[static_cast<std::size_t>(level)];
}

void set_level(Level level) {
  g_level = level;
}
Level level() {
  return g_level;
}
void set_sink(std::FILE* sink) {
  g_sink = sink;
}

void write(Level lvl, std::string_view message) {
  if (lvl < g_level.load()) return;
  std::FILE* sink = g_sink.load();
  if (sink == nullptr) sink = stderr;

  auto now = std::chrono::system_clock::now();
  std::time_t secs = std::chrono::system_clock::to_time_t(now);
  auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);

  std::lock_guard lock(g_write_mutex);
  std::fprintf(sink, "%s.%03dZ %-5s %.*s\n", stamp, static_cast<int>(millis.count()),
               level_name(lvl).data(), static_cast<int>(message.size()), message.data());
  std::fflush(sink);
}

}  // namespace maya::log
