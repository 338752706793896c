// Admission: the caps on one portal's logged-in connections (in all, and per source address),
// and a throttle so that refusals are logged once in a while rather than once per attempt.
// Thread-safe: the login loop admits, connection threads release.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace maya::target {

struct ConnectionLimits {
  std::size_t max_connections = 64;              // logged-in connections on the portal
  std::size_t max_connections_per_address = 16;  // of those, from one source address
};

class Admission {
 public:
  enum class Verdict : std::uint8_t { kAdmitted, kPortalFull, kAddressFull };

  explicit Admission(ConnectionLimits limits) : limits_(limits) {}

  // Counts a connection from `address` unless a cap is reached.
  Verdict acquire(const std::string& address);
  // Forgets one admitted connection from `address`.
  void release(const std::string& address);
  std::size_t count() const;
  const ConnectionLimits& limits() const { return limits_; }

 private:
  const ConnectionLimits limits_;
  mutable std::mutex mutex_;
  std::size_t total_ = 0;
  std::map<std::string, std::size_t> per_address_;
};

// Lets one log line through per interval and counts the ones it held back.
class LogThrottle {
 public:
  explicit LogThrottle(std::chrono::seconds interval = std::chrono::seconds(10))
      : interval_(interval) {}
  // True when a line may be written now; `held_back` is then how many were suppressed since
  // the last one.
  bool allow(std::size_t& held_back);

 private:
  const std::chrono::seconds interval_;
  std::mutex mutex_;
  std::chrono::steady_clock::time_point last_{};
  bool logged_ = false;
  std::size_t held_back_ = 0;
};

}  // namespace maya::target
