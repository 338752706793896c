// Timestamps as maya prints and stores them: ISO 8601 in UTC ("2026-11-22T00:43:08Z").
#pragma once

#include <ctime>
#include <string>

namespace maya {

inline std::string iso8601(std::time_t t = std::time(nullptr)) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace maya
