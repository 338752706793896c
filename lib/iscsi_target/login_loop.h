// Internal to lib/iscsi_target: the login loop of one portal — one thread, one epoll set — that
// accepts connections and runs each through login with the socket-agnostic iscsi::Connection,
// on non-blocking sockets. What it keeps for a connection still logging in is small (no thread,
// no receive buffer until bytes arrive). It drops a connection whose login has not finished by
// the deadline (trickled bytes do not extend it), and the oldest one when max_pending_logins are
// waiting (fewer when RLIMIT_NOFILE is low), when one source address has
// max_pending_logins_per_address waiting (its own oldest), or when accept runs out of descriptors.
// A connection that logs in is handed, with its engine and any bytes already read or still to
// write, to the thread Target::admit started for it.
#pragma once

#include <chrono>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lib/common/fd.h"
#include "lib/common/result.h"
#include "lib/iscsi_target/target.h"

namespace maya::iscsi_target {

// How many connections may be logging in at once with `soft_limit` descriptors: half of what
// is left after the logged-in connections and a reserve for the data path, at most `wanted`.
std::size_t pending_logins_for_fd_limit(std::size_t soft_limit, std::size_t max_connections,
                                        std::size_t wanted);

class LoginLoop {
 public:
  static Result<std::unique_ptr<LoginLoop>> create(Target& target);
  ~LoginLoop();
  LoginLoop(const LoginLoop&) = delete;
  LoginLoop& operator=(const LoginLoop&) = delete;

  // Until target.stopping_; then drops every connection still logging in.
  void run();

 private:
  struct Pending;
  using Clock = std::chrono::steady_clock;

  LoginLoop(Target& target, Fd epoll);
  void accept_some();
  void add(int fd);
  void on_event(Pending& p, std::uint32_t events);
  void on_readable(Pending& p);
  void feed(Pending& p);
  void flush(Pending& p);
  void drop(Pending& p, const std::string& why, bool warn);
  void hand_off(Pending& p, bool abandon);
  void expire(Clock::time_point now);
  void sweep();
  void watch_listener(bool on);
  void watch_output(Pending& p, bool on);
  Pending* oldest();
  Pending* oldest(const std::string& host);
  void forget(Pending& p);  // dead: uncounted

  Target& target_;
  Fd epoll_;
  std::list<Pending> pending_;  // in accept order: the oldest (and first deadline) in front
  std::size_t live_ = 0;        // entries in pending_ that are not dead
  std::map<std::string, std::size_t> per_host_;  // live entries per source address
  std::size_t max_pending_ = 0;                  // options, bounded by RLIMIT_NOFILE
  std::size_t max_pending_per_host_ = 0;
  bool listening_ = true;
  Clock::time_point resume_accept_{};
  LogThrottle full_log_, host_log_, expired_log_, accept_log_;
};

}  // namespace maya::iscsi_target
