// Levelled logging: stderr in the foreground, a file when the daemon is detached.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

#include "lib/common/result.h"

namespace maya::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

Result<Level> parse_level(std::string_view name);
std::string_view level_name(Level level);

void set_level(Level level);
Level level();
// Sends log lines to `sink` (not owned; stderr by default).
void set_sink(std::FILE* sink);

void write(Level level, std::string_view message);
inline void debug(std::string_view m) {
  write(Level::debug, m);
}
inline void info(std::string_view m) {
  write(Level::info, m);
}
inline void warn(std::string_view m) {
  write(Level::warn, m);
}
inline void error(std::string_view m) {
  write(Level::error, m);
}

}  // namespace maya::log
