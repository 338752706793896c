// Admission: the caps on one portal's logged-in connections (in all, and per source address),
// counted apart for normal and discovery sessions so that idle discovery sessions (often
// unauthenticated) never keep a normal login out; and a throttle so that refusals are logged once
// in a while rather than once per attempt. Thread-safe: the login loop admits, connection threads
// release.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace maya::iscsi_target {

struct ConnectionLimits {
  std::size_t max_connections = 64;              // logged-in connections on the portal
  std::size_t max_connections_per_address = 16;  // of those, from one source address
};

class Admission {
 public:
  enum class Verdict : std::uint8_t { kAdmitted, kPortalFull, kAddressFull };

  Admission(ConnectionLimits normal, ConnectionLimits discovery)
      : pools_{Pool{normal, 0, {}}, Pool{discovery, 0, {}}} {}

  // Counts a connection from `address` unless a cap (of its kind) is reached.
  Verdict acquire(const std::string& address, bool discovery);
  // Forgets one admitted connection from `address`.
  void release(const std::string& address, bool discovery);
  std::size_t count() const;  // of both kinds
  std::size_t count(bool discovery) const;
  const ConnectionLimits& limits(bool discovery) const { return pools_[discovery].limits; }

 private:
  struct Pool {
    ConnectionLimits limits;
    std::size_t total = 0;
    std::map<std::string, std::size_t> per_address;
  };
  mutable std::mutex mutex_;
  Pool pools_[2];  // [0] normal sessions, [1] discovery sessions
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

}  // namespace maya::iscsi_target
